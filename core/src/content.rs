//! The life of an item and the shapes it is shown in.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::entities::{content, content_source};
use crate::status::MediaStatus;
pub use crate::status::Status;

mod parts;
pub use parts::{PartView, display_title, part_views, platform_label};

/// Where a submission came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Api,
    Cli,
    Telegram,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Cli => "cli",
            Channel::Telegram => "telegram",
        }
    }
}

/// The answer to a submission (`POST /shares`, `vaultstream submit`).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareReceipt {
    pub content_id: i64,
    /// True when this submission created the item; false when it was known.
    pub created: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::platform::Platform))]
    pub platform: String,
    pub platform_id: String,
    pub canonical_url: String,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::platform::ContentKind))]
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Status))]
    pub status: String,
    pub source_id: i64,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthorView {
    pub name: Option<String>,
    pub id: Option<String>,
    pub url: Option<String>,
}

/// One submission of an item.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SourceView {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Channel))]
    pub channel: String,
    pub raw_text: String,
    pub submitted_url: String,
    pub resolved_url: Option<String>,
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub submitted_by: Option<String>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<content_source::Model> for SourceView {
    fn from(m: content_source::Model) -> Self {
        let tags = serde_json::from_value(m.tags).unwrap_or_default();
        SourceView {
            id: m.id,
            channel: m.channel,
            raw_text: m.raw_text,
            submitted_url: m.submitted_url,
            resolved_url: m.resolved_url,
            tags,
            note: m.note,
            submitted_by: m.submitted_by,
            request_id: m.request_id,
            created_at: m.created_at,
        }
    }
}

/// One media file of an item as the API shows it.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaView {
    pub id: i64,
    pub position: i32,
    /// `cover`, `image` or `video`.
    pub role: String,
    /// From the quoted/embedded item.
    pub quoted: bool,
    /// `pending`, `processing`, `archived`, `failed` or `skipped`
    /// (media archiving off).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub status: MediaStatus,
    pub original_url: String,
    pub blob_key: Option<String>,
    pub sha256: Option<String>,
    pub bytes: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_secs: Option<f64>,
    pub mime: Option<String>,
    /// Where the archived file can be fetched (`GET /blobs/…`, which
    /// redirects to S3 when blobs live there). Null until archived.
    pub url: Option<String>,
    pub attempts: i32,
    pub archived_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed (kept while a retry is pending).
    pub error: Option<MediaErrorView>,
    /// Index into the item's `parts` of the part this file belongs to;
    /// null for the item's own files (and for single-part items).
    pub part: Option<i32>,
}

#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediaErrorView {
    /// Stable word: `download_failed`, `not_an_image`, `image_too_large`,
    /// `corrupt_image`, `too_large`, `ytdlp_failed`, `store_failed`, …
    pub code: String,
    /// `retryable`, `rate_limited`, `permanent` or `auth_required`.
    pub error_type: String,
    pub message: String,
    pub detail: Option<String>,
    pub failure_count: i32,
    pub at: Option<DateTime<Utc>>,
}

impl From<crate::db::entities::media::Model> for MediaView {
    fn from(m: crate::db::entities::media::Model) -> Self {
        let error = m.error_message.clone().map(|message| MediaErrorView {
            code: m.error_code.map_or("failed", |c| c.as_str()).to_owned(),
            error_type: m.error_type.clone().unwrap_or_default(),
            message,
            detail: m.error_detail.clone(),
            failure_count: m.failure_count,
            at: m.last_error_at,
        });
        let archived = m.status == MediaStatus::Archived;
        MediaView {
            id: m.id,
            position: m.position,
            role: m.role,
            quoted: m.quoted,
            url: archived
                .then(|| m.blob_key.as_ref().map(|k| format!("/{k}")))
                .flatten(),
            status: m.status,
            original_url: m.original_url,
            blob_key: m.blob_key,
            sha256: m.sha256,
            bytes: m.bytes,
            width: m.width,
            height: m.height,
            duration_secs: m.duration_secs,
            mime: m.mime,
            attempts: m.attempts,
            archived_at: m.archived_at,
            error,
            part: m.part,
        }
    }
}

#[cfg(test)]
impl MediaView {
    /// A pending image row with this id and part, for tests.
    pub(crate) fn for_test(id: i64, part: Option<i32>) -> Self {
        MediaView {
            id,
            position: id as i32,
            role: "image".into(),
            quoted: false,
            status: MediaStatus::Pending,
            original_url: format!("https://img.example/{id}.jpg"),
            blob_key: None,
            sha256: None,
            bytes: None,
            width: None,
            height: None,
            duration_secs: None,
            mime: None,
            url: None,
            attempts: 0,
            archived_at: None,
            error: None,
            part,
        }
    }
}

/// An item as the API shows it. `sources`, `media` and `parts` are filled
/// on the detail route only; `media_status` sums up the media on every
/// route.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContentView {
    pub id: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::platform::Platform))]
    pub platform: String,
    pub platform_id: String,
    pub canonical_url: String,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::platform::ContentKind))]
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Status))]
    pub status: String,
    /// The title as the platform gave it (null when it gave none).
    pub title: Option<String>,
    /// What to call the item: its title, else a name made from its kind,
    /// platform and author ("Thread by @jack", "Weibo post by 新浪新闻",
    /// "Zhihu pin").
    pub display_title: String,
    pub text: Option<String>,
    pub author: Option<AuthorView>,
    pub published_at: Option<DateTime<Utc>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub stats: Option<serde_json::Value>,
    /// Structured extras the platform gives, as it gives them: `poll`,
    /// `card` (a link preview), `community_note`, `thread` (how a thread
    /// was found, whether it can be complete), `live_photos`, `rating`…
    /// Absent when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub fields: Option<serde_json::Value>,
    pub tags: Vec<String>,
    pub failure_count: i32,
    pub last_error: Option<String>,
    pub last_error_type: Option<String>,
    pub last_error_detail: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub pulled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `none` (no media), `skipped` (archiving off), `pending` (some files
    /// not archived yet), `archived` (all), `partial` (some failed for
    /// good), `failed` (all failed).
    pub media_status: String,
    /// Every media file in order (each says its `part`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<Vec<MediaView>>,
    /// The parts of a whole post in order (a thread's posts, a season's
    /// episodes, a multi-part video's pages, a repost and its original),
    /// each with its own media. Absent for a single-part item.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<SourceView>>,
    /// What the platform says of the original: `live`, `deleted`,
    /// `restricted` or `unreachable`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::status::UpstreamState))]
    pub upstream_state: String,
    /// When the item was first seen in that state (null: live since
    /// archived).
    pub upstream_state_since: Option<DateTime<Utc>>,
    /// Why: `{"status", "message", "detail"}` of the refetch that decided
    /// (for `deleted`, also `first_seen` and `first_evidence`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub upstream_evidence: Option<serde_json::Value>,
    /// When a refresh last fetched the item again.
    pub last_refresh_at: Option<DateTime<Utc>>,
    /// When the next refresh is due (detail route; null: none scheduled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_due_at: Option<DateTime<Utc>>,
    /// Versions recorded and the latest change (detail route; the whole
    /// history is `GET /contents/{id}/history`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<crate::db::refresh::VersionsSummary>,
}

impl ContentView {
    pub fn new(m: content::Model, tags: Vec<String>) -> Self {
        let author = (m.author_name.is_some() || m.author_id.is_some() || m.author_url.is_some())
            .then_some(AuthorView {
                name: m.author_name,
                id: m.author_id,
                url: m.author_url,
            });
        let display_title = display_title(
            m.title.as_deref(),
            &m.platform,
            &m.kind,
            &m.canonical_url,
            author.as_ref(),
        );
        let fields = m
            .fields
            .filter(|f| f.as_object().is_some_and(|o| !o.is_empty()));
        ContentView {
            id: m.id,
            platform: m.platform,
            platform_id: m.platform_id,
            canonical_url: m.canonical_url,
            kind: m.kind,
            status: m.status.to_string(),
            title: m.title,
            display_title,
            text: m.text,
            author,
            published_at: m.published_at,
            stats: m.stats,
            fields,
            tags,
            failure_count: m.failure_count,
            last_error: m.last_error,
            last_error_type: m.last_error_type,
            last_error_detail: m.last_error_detail,
            last_error_at: m.last_error_at,
            pulled_at: m.pulled_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            media_status: "none".to_owned(),
            media: None,
            parts: Vec::new(),
            sources: None,
            upstream_state: m.upstream_state.to_string(),
            upstream_state_since: m.upstream_state_since,
            upstream_evidence: m.upstream_evidence,
            last_refresh_at: m.last_refresh_at,
            refresh_due_at: None,
            versions: None,
        }
    }
}

/// The item-level summary of its media rows' statuses.
pub fn media_status(statuses: impl IntoIterator<Item = MediaStatus>) -> &'static str {
    let (mut n, mut archived, mut failed, mut skipped) = (0, 0, 0, 0);
    for s in statuses {
        n += 1;
        match s {
            MediaStatus::Archived => archived += 1,
            MediaStatus::Failed => failed += 1,
            MediaStatus::Skipped => skipped += 1,
            MediaStatus::Pending | MediaStatus::Processing => {}
        }
    }
    match () {
        _ if n == 0 => "none",
        _ if archived == n => "archived",
        _ if skipped == n => "skipped",
        _ if archived + failed + skipped < n => "pending",
        _ if failed == n => "failed",
        _ => "partial",
    }
}

/// Tags as users type them, made uniform: trimmed, a leading `#` dropped,
/// lower case, duplicates removed (first spelling wins, order kept).
pub fn normalise_tags(raw: &[String]) -> Result<Vec<String>, crate::UserError> {
    use crate::ErrorCode::InvalidTag;
    const MAX_TAGS: usize = 32;
    const MAX_TAG_CHARS: usize = 64;
    if raw.len() > MAX_TAGS {
        return Err(crate::UserError::new(
            InvalidTag,
            format!("at most {MAX_TAGS} tags per submission, got {}", raw.len()),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for tag in raw {
        let t = tag.trim().trim_start_matches('#').trim().to_lowercase();
        if t.is_empty() {
            return Err(crate::UserError::new(InvalidTag, "tags cannot be empty"));
        }
        if t.chars().count() > MAX_TAG_CHARS {
            return Err(crate::UserError::new(
                InvalidTag,
                format!("tag `{t}` is longer than {MAX_TAG_CHARS} characters"),
            ));
        }
        if let Some(c) = t
            .chars()
            .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '#' | ',' | '<' | '>'))
        {
            return Err(crate::UserError::new(
                InvalidTag,
                format!(
                    "tag `{}` contains {c:?}; use letters, digits, - or _",
                    t.escape_debug()
                ),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_normalised() {
        let raw = vec![
            " #Rust ".to_string(),
            "rust".into(),
            "中文".into(),
            "a-b_c".into(),
        ];
        assert_eq!(normalise_tags(&raw).unwrap(), vec!["rust", "中文", "a-b_c"]);
        for bad in [
            "",
            "  ",
            "#",
            "two words",
            "a\u{0}b",
            "x,y",
            &"x".repeat(65),
        ] {
            let err = normalise_tags(&[bad.to_string()]).unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::InvalidTag, "{bad:?}");
        }
        assert!(normalise_tags(&vec!["t".to_string(); 33]).is_err());
    }
}
