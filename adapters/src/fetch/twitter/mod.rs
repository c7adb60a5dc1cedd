//! Twitter/X: FxTwitter's v2 API first (`/2/thread/{id}`, which unrolls a
//! self-thread), its v1 API (`/status/{id}`) and the syndication endpoint
//! (the one embedded tweets use) as fallbacks, in that order.
//!
//! Layout: `fx` (both FxTwitter APIs, one status → one item), `thread`
//! (a self-thread as one item with parts), `syndication` (the last
//! fallback and its token).
//!
//! What each failure means: FxTwitter's `code` mirrors the HTTP status
//! (404 `NOT_FOUND`, 401 `PRIVATE_TWEET`, 500 `API_FAIL`); a clear "not
//! found" or "private" is final everywhere. A 5xx or an answer we cannot
//! read from v2 is worth a try on v1 (v2's thread needs more of Twitter's
//! backend than one status); a 429 or a host we cannot reach is not (the
//! same host would only get more load), so the syndication endpoint,
//! another service, is next.
//!
//! What an item holds: kind `post` for a single tweet; kind `thread` when
//! the shared tweet is part of its author's self-thread, with one part per
//! post in order (`shared` on the one the link named) and each media file's
//! `part`. The item's text is the posts' texts joined by blank lines; its
//! author, stats, link and quoted tweet are the shared post's; its time is
//! the thread's first post's.
//!
//! `fields` (kept as FxTwitter gives them, from the shared post):
//! - `poll`: `{choices: [{label, count, percentage}], total_votes, ends_at, time_left_en}`
//! - `card`: a link preview, `{url, title, description, domain, image}`
//! - `community_note`: `{text, facets}` (v2) or `{text, entities}` (v1)
//! - `thread`: how the thread was found — `source` `fxtwitter_thread`
//!   (FxTwitter listed it) or `reply_chain` (we walked up from the shared
//!   post, so later posts are missing); `complete` (false for a walk, or
//!   when posts were unavailable); `posts`; `unavailable` (tombstones inside
//!   the thread); `unreadable`; `stopped` (why a walk ended early); `extras`
//!   (`[{part, poll|card|community_note}]` of the other posts).

mod fx;
mod syndication;
mod thread;

use async_trait::async_trait;
use vaultstream_core::parsed::{ErrorClass, FetchError, ParsedItem};

use super::{Adapter, Ctx, FetchRequest};
use fx::{Api, FxError};

pub use syndication::syndication_token;

pub(crate) struct Twitter;

#[async_trait]
impl Adapter for Twitter {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let id = req.identity.platform_id.as_str();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FetchError::permanent(format!("`{id}` is not a tweet id")));
        }
        let first = match fx::get(ctx, Api::V2, &format!("2/thread/{id}")).await {
            Ok(answer) => return thread::assemble(ctx, Api::V2, id, answer).await,
            Err(FxError::Final(e)) => return Err(e),
            Err(FxError::Busy(e)) => e,
            Err(FxError::Failed(v2)) => {
                tracing::info!(
                    content.platform_id = id,
                    error.class = %v2.class,
                    error = %v2.report(),
                    "FxTwitter v2 failed for {id}; trying its v1 API"
                );
                match fx::get(ctx, Api::V1, &format!("status/{id}")).await {
                    Ok(answer) => return thread::assemble(ctx, Api::V1, id, answer).await,
                    Err(FxError::Final(e)) => return Err(e),
                    Err(FxError::Busy(e) | FxError::Failed(e)) => e,
                }
            }
        };
        tracing::info!(
            content.platform_id = id,
            error.class = %first.class,
            error = %first.report(),
            "FxTwitter failed for {id}; trying the syndication endpoint"
        );
        // If the fallback fails too, its error is the one to act on unless
        // it is only "malformed" and FxTwitter's was clearer.
        syndication::fetch(ctx, id).await.map_err(|second| {
            if second.class == ErrorClass::Permanent && first.class.is_retryable() {
                second
            } else if second.class.is_retryable() {
                // FxTwitter's error names the case, but the next attempt
                // asks both hosts again: honour the longer Retry-After
                // either of them sent.
                FetchError {
                    retry_after: first.retry_after.max(second.retry_after),
                    ..first
                }
            } else {
                second
            }
        })
    }
}
