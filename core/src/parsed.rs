//! What a platform adapter produces, and how its failures are classified.
//!
//! Adapters (in the `adapters` crate) turn an [`Identity`] into a
//! [`ParsedItem`]; the parse job (in `worker`) stores it. A failure carries
//! an [`ErrorClass`] that decides what the pipeline does next: retry later,
//! fail at once, or wait for an operator.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::platform::ContentKind;

/// A normalised item, the same shape for every platform.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParsedItem {
    /// Refined kind (e.g. a Douyin link that turns out to be a photo post).
    pub kind: Option<ContentKind>,
    pub title: Option<String>,
    /// Plain text (no markup), for search and Telegram captions.
    pub text: Option<String>,
    /// Sanitised HTML of the body where the platform has rich text.
    pub html: Option<String>,
    pub author: Option<ParsedAuthor>,
    pub published_at: Option<DateTime<Utc>>,
    /// Named counters: `views`, `likes`, `comments`, `shares`, `favorites`,
    /// `coins`, `danmaku`, `retweets`, `replies`, `quotes`, `bookmarks`…
    pub stats: BTreeMap<String, i64>,
    pub tags: Vec<String>,
    /// A better canonical URL than the one derived from the link, if the
    /// upstream document names one (e.g. a Zhihu answer with its question).
    pub canonical_url: Option<String>,
    /// Cover/thumbnail first, then images in order, then videos. A file
    /// that belongs to one part says so in [`MediaRef::part`].
    pub media: Vec<MediaRef>,
    /// The parts of a whole post, in order: the tweets of a self-thread,
    /// the episodes of a season, the pages of a multi-part video, the posts
    /// of a repost chain. Empty for a single-part item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<ParsedPart>,
    /// Structured extras the platform gives, kept as they are: `poll`,
    /// `card` (a link preview), `community_note`, `thread` (how a thread
    /// was found and whether it can be complete), `live_photos`…
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, serde_json::Value>,
    /// A quoted/embedded item (quote tweet, reposted Weibo), parsed the same way.
    pub quoted: Option<Box<ParsedItem>>,
    /// The upstream document as received, kept for re-parsing later.
    pub raw: serde_json::Value,
}

/// One part of a whole post. Every field the platform does not give is
/// absent, never invented.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParsedPart {
    /// The platform's id of the part (a tweet id, an episode id, a page's
    /// cid), when it has one.
    pub id: Option<String>,
    pub title: Option<String>,
    /// Plain text of the part.
    pub text: Option<String>,
    /// Sanitised HTML, where the platform has rich text.
    pub html: Option<String>,
    /// The part's own original URL.
    pub url: Option<String>,
    /// Its author when it differs from the item's (a reposted status).
    pub author: Option<ParsedAuthor>,
    pub published_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<f64>,
    /// The part the user shared (the tweet of the thread, the episode of
    /// the season).
    #[serde(default)]
    pub shared: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedAuthor {
    pub name: Option<String>,
    pub id: Option<String>,
    pub url: Option<String>,
    pub avatar_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaRole {
    Cover,
    Image,
    Video,
    Avatar,
}

/// A media file the item refers to, before it is archived.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaRef {
    pub role: MediaRole,
    pub url: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_secs: Option<f64>,
    pub mime: Option<String>,
    /// Headers the media host needs (e.g. Bilibili's Referer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Index into [`ParsedItem::parts`] of the part this file belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<u32>,
}

/// How a failed fetch should be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Timeouts, connection errors, 5xx: try again with backoff.
    Retryable,
    /// 429 or a platform's risk control: try again after the given delay.
    RateLimited,
    /// Deleted, not found, 403/404/410, unparseable: fail at once.
    Permanent,
    /// A login wall: fail at once; an operator supplies cookies and retries.
    AuthRequired,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Retryable => "retryable",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Permanent => "permanent",
            ErrorClass::AuthRequired => "auth_required",
        }
    }

    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Retryable | ErrorClass::RateLimited)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified failure from an adapter.
///
/// `class`, `message` and `detail` are what is stored (dead letters, media
/// rows) and shown; `source` is the lower-level error it was made from (a
/// transport, I/O or JSON error), for logs only: never stored, never in an
/// API answer. Print the whole story once with [`FetchError::report`].
#[derive(Clone, Debug)]
pub struct FetchError {
    pub class: ErrorClass,
    /// One line for people: what went wrong.
    pub message: String,
    /// More for operators: status code, upstream code, a body excerpt.
    pub detail: Option<String>,
    /// For `RateLimited`: the upstream's Retry-After, if it gave one.
    pub retry_after: Option<Duration>,
    /// The response was over a size limit (a media file: `too_large`).
    pub too_large: bool,
    /// The error this one was made from, if any (an `Arc`, so the error
    /// stays `Clone`).
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class, self.message)
    }
}

/// Written by hand: `source()` must be the kept error itself (so callers
/// can downcast it), not the `Arc` around it.
impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// Two failures are the same when they say the same; where they came from
/// (`source`, which has no equality) is left out.
impl PartialEq for FetchError {
    fn eq(&self, other: &Self) -> bool {
        self.class == other.class
            && self.message == other.message
            && self.detail == other.detail
            && self.retry_after == other.retry_after
    }
}

impl FetchError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            detail: None,
            retry_after: None,
            too_large: false,
            source: None,
        }
    }

    pub fn retryable(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Retryable, message)
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::Permanent, message)
    }

    /// Over a size limit: permanent, and marked [`FetchError::too_large`].
    pub fn too_large(message: impl Into<String>) -> Self {
        Self {
            too_large: true,
            ..Self::permanent(message)
        }
    }

    pub fn auth_required(message: impl Into<String>) -> Self {
        Self::new(ErrorClass::AuthRequired, message)
    }

    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self {
            retry_after,
            ..Self::new(ErrorClass::RateLimited, message)
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Keep the lower-level error this failure was made from.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The message and its chain of sources, for a log line:
    /// `error = %err.report()`.
    pub fn report(&self) -> Chain<'_> {
        Chain {
            head: &self.message,
            source: self
                .source
                .as_deref()
                .map(|s| s as &(dyn std::error::Error + 'static)),
        }
    }
}

/// An error and its sources, `: `-separated, each said once: a source whose
/// text the line already holds (a message written as `"…: {e}"`, or a
/// wrapper that repeats its cause) is not printed again.
pub struct Chain<'a> {
    head: &'a str,
    source: Option<&'a (dyn std::error::Error + 'static)>,
}

impl<'a> Chain<'a> {
    /// `err`'s own text, then its sources.
    pub fn of(err: &'a (dyn std::error::Error + 'static)) -> Chain<'a> {
        Chain {
            head: "",
            source: Some(err),
        }
    }
}

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.head.to_owned();
        let mut next = self.source;
        while let Some(err) = next {
            let text = err.to_string();
            if line.is_empty() {
                line = text;
            } else if !text.is_empty() && !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            next = err.source();
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Layer(&'static str, #[source] Option<Box<Layer>>);

    #[test]
    fn the_source_is_kept_and_reported_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
        let err = FetchError::retryable("request to example.com failed")
            .with_detail("HTTP detail")
            .with_source(io);
        assert_eq!(
            err.report().to_string(),
            "request to example.com failed: connection reset"
        );
        let source = std::error::Error::source(&err).expect("a source");
        assert_eq!(source.to_string(), "connection reset");
        assert!(
            source.is::<std::io::Error>(),
            "the kept error itself, not its Arc"
        );
        // Stored fields and equality are what they were.
        assert_eq!(err.message, "request to example.com failed");
        assert_eq!(err.detail.as_deref(), Some("HTTP detail"));
        assert_eq!(
            err.clone(),
            FetchError::retryable("request to example.com failed").with_detail("HTTP detail")
        );
        assert!(FetchError::permanent("gone").report().to_string() == "gone");
    }

    #[test]
    fn repeated_text_is_said_once() {
        let inner = Layer("Connection refused (os error 111)", None);
        let middle = Layer(
            "tcp connect error: Connection refused (os error 111)",
            Some(Box::new(inner)),
        );
        let outer = Layer("client error (Connect)", Some(Box::new(middle)));
        assert_eq!(
            Chain::of(&outer).to_string(),
            "client error (Connect): tcp connect error: Connection refused (os error 111)"
        );
        let err = FetchError::permanent("`x` is not JSON (expected value)")
            .with_source(Layer("expected value", None));
        assert_eq!(err.report().to_string(), "`x` is not JSON (expected value)");
    }
}
