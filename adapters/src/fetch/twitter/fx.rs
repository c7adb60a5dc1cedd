//! FxTwitter's two APIs: v2 (`/2/thread/{id}`, `/2/status/{id}`, answer
//! `{code, status, thread, author}`) and v1 (`/status/{id}`, answer
//! `{code, message, tweet}`). One status object reads the same way from
//! both: v2 renamed `retweets` to `reposts` and made `replying_to` an
//! object (`{screen_name, status, …}`) where v1 has `replying_to` (a screen
//! name) and `replying_to_status`.

use serde_json::Value;
use vaultstream_core::parsed::{ErrorClass, FetchError, MediaRef, MediaRole, ParsedAuthor};
use vaultstream_core::{ContentKind, Platform};

use super::super::value::{array_at, f64_at, id_at, int_at, stat, str_at, u32_at, unix_secs};
use super::super::{Ctx, build_url, html, malformed, media};
use crate::http::client::Get;
use vaultstream_core::parsed::ParsedItem;

/// Which FxTwitter API a status came from (the reply-chain walk asks the
/// same one for the parents).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Api {
    V1,
    V2,
}

/// What went wrong asking FxTwitter, sorted by what to try next.
#[derive(Debug)]
pub(super) enum FxError {
    /// Not found, deleted, protected: no other endpoint will say otherwise.
    Final(FetchError),
    /// Rate limited or unreachable: asking the same host again now only
    /// adds load.
    Busy(FetchError),
    /// A 5xx or an answer we cannot read: another path of the API may work.
    Failed(FetchError),
}

impl FxError {
    pub(super) fn into_inner(self) -> FetchError {
        match self {
            FxError::Final(e) | FxError::Busy(e) | FxError::Failed(e) => e,
        }
    }
}

/// One FxTwitter answer with its status object (a tombstone in the status
/// slot is `Final`).
pub(super) struct Answer {
    pub body: Value,
}

impl Answer {
    pub(super) fn status(&self) -> &Value {
        self.body
            .get("status")
            .or_else(|| self.body.get("tweet"))
            .unwrap_or(&Value::Null)
    }
}

/// `GET https://api.fxtwitter.com/<path>`, the error sorted and the body
/// checked for a status object (`status` in v2, `tweet` in v1).
pub(super) async fn get(ctx: &Ctx, api: Api, path: &str) -> Result<Answer, FxError> {
    let url = build_url(&format!("https://api.fxtwitter.com/{path}")).map_err(FxError::Final)?;
    let resp = ctx
        .http
        .get(Get::new(url, Platform::Twitter))
        .await
        // Transport failures (timeouts, refused connections) come back as
        // errors; nothing answered, so the host is not asked again.
        .map_err(|e| {
            if e.class.is_retryable() {
                FxError::Busy(e)
            } else {
                FxError::Final(e)
            }
        })?;
    let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
    // The body's code/message name the case better than the status alone,
    // and v2 may answer an error `code` with HTTP 200.
    let message = body.as_ref().and_then(|b| str_at(b, "/message"));
    let code = body.as_ref().and_then(|b| int_at(b, "/code"));
    let detail = || format!("FxTwitter: HTTP {} (code {code:?})", resp.status);
    let status = resp.status.as_u16();
    if status == 404 || code == Some(404) || message.as_deref() == Some("NOT_FOUND") {
        let tomb = body.as_ref().and_then(|b| tombstone(b.get("status")?));
        return Err(FxError::Final(
            FetchError::permanent(
                tomb.unwrap_or_else(|| "the tweet does not exist or was deleted".to_owned()),
            )
            .with_detail(detail()),
        ));
    }
    if status == 401 || code == Some(401) || message.as_deref() == Some("PRIVATE_TWEET") {
        return Err(FxError::Final(
            FetchError::auth_required("the tweet is from a protected account")
                .with_detail(detail()),
        ));
    }
    if let Err(e) = resp.check_status(ErrorClass::AuthRequired) {
        return Err(match e.class {
            ErrorClass::RateLimited => FxError::Busy(e),
            ErrorClass::Retryable => FxError::Failed(e),
            _ => FxError::Final(e),
        });
    }
    if code.is_some_and(|c| c >= 500) {
        return Err(FxError::Failed(
            FetchError::retryable("FxTwitter failed").with_detail(detail()),
        ));
    }
    let body = resp.json("the FxTwitter answer").map_err(FxError::Failed)?;
    let answer = Answer { body };
    let st = answer.status();
    if let Some(why) = tombstone(st) {
        return Err(FxError::Final(FetchError::permanent(why)));
    }
    if !st.is_object() {
        let what = match api {
            Api::V1 => "the FxTwitter answer has no `tweet`",
            Api::V2 => "the FxTwitter v2 answer has no `status`",
        };
        return Err(FxError::Failed(malformed(what, "")));
    }
    Ok(answer)
}

/// A tombstone (`{type: "tombstone", reason, message}`) says why a status
/// is not there.
pub(super) fn tombstone(v: &Value) -> Option<String> {
    (str_at(v, "/type").as_deref() == Some("tombstone")).then(|| {
        let reason = str_at(v, "/reason").unwrap_or_else(|| "unavailable".to_owned());
        match str_at(v, "/message") {
            Some(m) => format!("the tweet is unavailable ({reason}): {m}"),
            None => format!("the tweet is unavailable ({reason})"),
        }
    })
}

/// A status's id.
pub(super) fn id_of(t: &Value) -> Option<String> {
    id_at(t, "/id")
}

/// The author's screen name, lower-cased for comparisons.
pub(super) fn screen_name_of(t: &Value) -> Option<String> {
    str_at(t, "/author/screen_name").map(|s| s.to_ascii_lowercase())
}

/// The status this one replies to, when its author is the same: `(id)` of
/// the parent in a self-thread.
pub(super) fn self_parent(t: &Value) -> Option<String> {
    let author = screen_name_of(t)?;
    let (to, parent) = match t.get("replying_to") {
        Some(r @ Value::Object(_)) => (str_at(r, "/screen_name"), id_at(r, "/status")),
        Some(Value::String(s)) => (Some(s.clone()), id_at(t, "/replying_to_status")),
        _ => (None, None),
    };
    let to = to?.trim_start_matches('@').to_ascii_lowercase();
    (to == author).then_some(parent).flatten()
}

/// One status (v1 or v2) as an item: text, author, stats, media (cover
/// first, then photos, then videos), the quoted status.
pub(super) fn parse_status(t: &Value) -> Result<ParsedItem, FetchError> {
    let text = str_at(t, "/text");
    let screen_name = str_at(t, "/author/screen_name");
    if text.is_none() && screen_name.is_none() && t.get("media").is_none() {
        return Err(malformed(
            "the FxTwitter tweet has no text, author or media",
            "",
        ));
    }
    let mut stats = Default::default();
    for key in [
        "likes",
        "retweets",
        "replies",
        "views",
        "quotes",
        "bookmarks",
    ] {
        stat(&mut stats, key, int_at(t, &format!("/{key}")));
    }
    // v2 calls them reposts.
    if !stats.contains_key("retweets") {
        stat(&mut stats, "retweets", int_at(t, "/reposts"));
    }
    // A deleted or withheld quote is a tombstone: the post itself is fine.
    let quoted = match t
        .get("quote")
        .filter(|q| q.is_object() && tombstone(q).is_none())
    {
        Some(q) => Some(Box::new(parse_status(q)?)),
        None => None,
    };
    let mut fields = std::collections::BTreeMap::new();
    for key in ["poll", "card", "community_note"] {
        if let Some(v) = t.get(key).filter(|v| !v.is_null()) {
            fields.insert(key.to_owned(), v.clone());
        }
    }
    Ok(ParsedItem {
        kind: Some(ContentKind::Post),
        title: None,
        html: text.as_deref().map(html::text_to_html),
        text,
        author: Some(ParsedAuthor {
            name: str_at(t, "/author/name"),
            id: id_at(t, "/author/id").or_else(|| screen_name.clone()),
            url: screen_name.as_ref().map(|s| format!("https://x.com/{s}")),
            avatar_url: str_at(t, "/author/avatar_url"),
        }),
        published_at: int_at(t, "/created_timestamp").and_then(unix_secs),
        stats,
        tags: Vec::new(),
        canonical_url: str_at(t, "/url"),
        media: status_media(t),
        quoted,
        parts: Vec::new(),
        fields,
        raw: t.clone(),
    })
}

/// A status's media: at most one cover (the first video's thumbnail), then
/// photos and videos in the tweet's order.
fn status_media(t: &Value) -> Vec<MediaRef> {
    let mut covers = Vec::new();
    let mut images = Vec::new();
    let mut videos = Vec::new();
    // `media.all` keeps the tweet's order; older answers only split by type.
    let all = array_at(t, "/media/all");
    let listed: Vec<&Value> = if all.is_empty() {
        array_at(t, "/media/photos")
            .iter()
            .chain(array_at(t, "/media/videos"))
            .collect()
    } else {
        all.iter().collect()
    };
    for m in listed {
        let Some(url) = str_at(m, "/url") else {
            continue;
        };
        let is_photo = str_at(m, "/type").as_deref() == Some("photo");
        let mut r = media(
            if is_photo {
                MediaRole::Image
            } else {
                MediaRole::Video
            },
            url,
        );
        r.width = u32_at(m, "/width");
        r.height = u32_at(m, "/height");
        if is_photo {
            images.push(r);
        } else {
            r.duration_secs = f64_at(m, "/duration");
            r.mime = str_at(m, "/format");
            if let Some(thumb) = str_at(m, "/thumbnail_url") {
                covers.push(media(MediaRole::Cover, thumb));
            }
            videos.push(r);
        }
    }
    covers.truncate(1);
    covers.into_iter().chain(images).chain(videos).collect()
}
