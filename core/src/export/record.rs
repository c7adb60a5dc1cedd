//! One line of `items.jsonl`: the item as `GET /api/v1/contents/{id}`
//! shows it, plus `raw_metadata` and `stored`: every stored row of the
//! item that the API view leaves out or reshapes (the item row itself, its
//! tags with their times, media rows, blob rows, versions, the stats
//! series, upstream state changes), which is what an import restores from.

use chrono::{DateTime, Timelike, Utc};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::entities::{
    blob, content, content_stat, content_tag, content_version, media, upstream_event,
};

/// The item row without its job bookkeeping (leases, queue times,
/// whether this deployment scheduled its pushes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredItem {
    pub platform: String,
    pub platform_id: String,
    pub canonical_url: String,
    pub kind: String,
    pub status: String,
    pub title: Option<String>,
    pub text: Option<String>,
    pub author_name: Option<String>,
    pub author_id: Option<String>,
    pub author_url: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub stats: Option<Value>,
    pub raw_metadata: Option<Value>,
    pub parts: Option<Value>,
    pub fields: Option<Value>,
    pub failure_count: i32,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub last_error_type: Option<String>,
    pub last_error_detail: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub pulled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub upstream_state: String,
    pub upstream_state_since: Option<DateTime<Utc>>,
    pub upstream_evidence: Option<Value>,
    pub last_refresh_at: Option<DateTime<Utc>>,
}

impl From<&content::Model> for StoredItem {
    fn from(m: &content::Model) -> Self {
        StoredItem {
            platform: m.platform.clone(),
            platform_id: m.platform_id.clone(),
            canonical_url: m.canonical_url.clone(),
            kind: m.kind.clone(),
            status: m.status.to_string(),
            title: m.title.clone(),
            text: m.text.clone(),
            author_name: m.author_name.clone(),
            author_id: m.author_id.clone(),
            author_url: m.author_url.clone(),
            published_at: m.published_at,
            stats: m.stats.clone(),
            raw_metadata: m.raw_metadata.clone(),
            parts: m.parts.clone(),
            fields: m.fields.clone(),
            failure_count: m.failure_count,
            attempts: m.attempts,
            last_error: m.last_error.clone(),
            last_error_type: m.last_error_type.clone(),
            last_error_detail: m.last_error_detail.clone(),
            last_error_at: m.last_error_at,
            pulled_at: m.pulled_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            upstream_state: m.upstream_state.to_string(),
            upstream_state_since: m.upstream_state_since,
            upstream_evidence: m.upstream_evidence.clone(),
            last_refresh_at: m.last_refresh_at,
        }
    }
}

/// A tag with when it was first given.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredTag {
    pub tag: String,
    pub created_at: DateTime<Utc>,
}

/// A media row without its job bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredMedia {
    pub position: i32,
    pub role: String,
    pub quoted: bool,
    pub original_url: String,
    pub request_headers: Option<Value>,
    pub status: String,
    pub attempts: i32,
    pub blob_key: Option<String>,
    pub sha256: Option<String>,
    pub source_sha256: Option<String>,
    pub bytes: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_secs: Option<f64>,
    pub mime: Option<String>,
    pub failure_count: i32,
    pub error_type: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub error_detail: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
    pub part: Option<i32>,
}

impl From<&media::Model> for StoredMedia {
    fn from(m: &media::Model) -> Self {
        StoredMedia {
            position: m.position,
            role: m.role.clone(),
            quoted: m.quoted,
            original_url: m.original_url.clone(),
            request_headers: m.request_headers.clone(),
            status: m.status.to_string(),
            attempts: m.attempts,
            blob_key: m.blob_key.clone(),
            sha256: m.sha256.clone(),
            source_sha256: m.source_sha256.clone(),
            bytes: m.bytes,
            width: m.width,
            height: m.height,
            duration_secs: m.duration_secs,
            mime: m.mime.clone(),
            failure_count: m.failure_count,
            error_type: m.error_type.clone(),
            error_code: m.error_code.map(|c| c.as_str().to_owned()),
            error_message: m.error_message.clone(),
            error_detail: m.error_detail.clone(),
            last_error_at: m.last_error_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            archived_at: m.archived_at,
            part: m.part,
        }
    }
}

/// A blob row (the registry of stored files).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredBlob {
    pub key: String,
    pub sha256: String,
    pub bytes: i64,
    pub mime: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub created_at: DateTime<Utc>,
}

/// One recorded version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredVersion {
    pub version: i32,
    pub captured_at: DateTime<Utc>,
    pub snapshot: Value,
    pub diff: Option<Value>,
}

/// One point of the stats series.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredStats {
    pub captured_at: DateTime<Utc>,
    pub stats: Value,
}

/// One change of upstream state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredEvent {
    pub state: String,
    pub previous: String,
    pub at: DateTime<Utc>,
    pub evidence: Option<Value>,
}

/// Everything stored of one item (the `stored` member of a line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stored {
    pub item: StoredItem,
    pub tags: Vec<StoredTag>,
    pub media: Vec<StoredMedia>,
    pub blobs: Vec<StoredBlob>,
    pub versions: Vec<StoredVersion>,
    pub stats: Vec<StoredStats>,
    pub upstream_events: Vec<StoredEvent>,
}

/// One source (submission) as a line carries it (`sources[]` of the view).
#[derive(Debug, Clone, Deserialize)]
pub struct LineSource {
    pub channel: String,
    pub raw_text: String,
    pub submitted_url: String,
    pub resolved_url: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub submitted_by: Option<String>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What an import reads from a line.
#[derive(Debug, Clone, Deserialize)]
pub struct Line {
    pub stored: Stored,
    pub sources: Vec<LineSource>,
}

/// The line of item `id`, or `None` when it is gone.
pub async fn line(db: &sea_orm::DatabaseConnection, id: i64) -> Result<Option<Value>, DbErr> {
    let Some(view) = crate::db::contents::get(db, id).await? else {
        return Ok(None);
    };
    let Some(item) = content::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let stored = stored(db, &item).await?;
    let mut line = serde_json::to_value(&view).map_err(|e| DbErr::Custom(e.to_string()))?;
    line["raw_metadata"] = item.raw_metadata.clone().unwrap_or_default();
    line["stored"] = serde_json::to_value(&stored).map_err(|e| DbErr::Custom(e.to_string()))?;
    micros(&mut line);
    Ok(Some(line))
}

async fn stored(db: &sea_orm::DatabaseConnection, item: &content::Model) -> Result<Stored, DbErr> {
    let id = item.id;
    let tags = content_tag::Entity::find()
        .filter(content_tag::Column::ContentId.eq(id))
        .order_by_asc(content_tag::Column::Tag)
        .all(db)
        .await?
        .into_iter()
        .map(|t| StoredTag {
            tag: t.tag,
            created_at: t.created_at,
        })
        .collect();
    let media_rows = crate::db::media::for_content(db, id).await?;
    let keys: Vec<String> = media_rows
        .iter()
        .filter_map(|m| m.blob_key.clone())
        .collect();
    let blobs = if keys.is_empty() {
        Vec::new()
    } else {
        blob::Entity::find()
            .filter(blob::Column::Key.is_in(keys))
            .order_by_asc(blob::Column::Key)
            .all(db)
            .await?
            .into_iter()
            .map(|b| StoredBlob {
                key: b.key,
                sha256: b.sha256,
                bytes: b.bytes,
                mime: b.mime,
                width: b.width,
                height: b.height,
                created_at: b.created_at,
            })
            .collect()
    };
    let versions = content_version::Entity::find()
        .filter(content_version::Column::ContentId.eq(id))
        .order_by_asc(content_version::Column::Version)
        .all(db)
        .await?
        .into_iter()
        .map(|v| StoredVersion {
            version: v.version,
            captured_at: v.captured_at,
            snapshot: v.snapshot,
            diff: v.diff,
        })
        .collect();
    let stats = content_stat::Entity::find()
        .filter(content_stat::Column::ContentId.eq(id))
        .order_by_asc(content_stat::Column::CapturedAt)
        .order_by_asc(content_stat::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|s| StoredStats {
            captured_at: s.captured_at,
            stats: s.stats,
        })
        .collect();
    let upstream_events = upstream_event::Entity::find()
        .filter(upstream_event::Column::ContentId.eq(id))
        .order_by_asc(upstream_event::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|e| StoredEvent {
            state: e.state.to_string(),
            previous: e.previous.to_string(),
            at: e.at,
            evidence: e.evidence,
        })
        .collect();
    Ok(Stored {
        item: StoredItem::from(item),
        tags,
        media: media_rows.iter().map(StoredMedia::from).collect(),
        blobs,
        versions,
        stats,
        upstream_events,
    })
}

/// Whether member `key` (with value `v`, inside the object at `path`) is
/// JSON the item carries as it was stored — raw upstream answers, the
/// stored parts, snapshots, upstream stats, evidence, headers — exported
/// verbatim, never rewritten.
fn verbatim(path: &[&str], key: &str, v: &Value) -> bool {
    match key {
        "raw_metadata" | "fields" | "upstream_evidence" | "evidence" | "request_headers"
        | "snapshot" | "diff" => true,
        // `stored.stats` is the series (rows with times); `stats`
        // anywhere else is an upstream object.
        "stats" => !v.is_array(),
        // The view's parts are ours (with archived media); the stored
        // item's are the parsed JSON.
        "parts" => path == ["stored", "item"],
        _ => false,
    }
}

/// Whether `key` names one of our time columns (`created_at`, `at`,
/// `upstream_state_since`, ...).
fn is_time_key(key: &str) -> bool {
    key == "at" || key.ends_with("_at") || key.ends_with("_since")
}

/// Times at the precision every database keeps (microseconds, as
/// PostgreSQL does), always written with six digits: a time written with
/// more (SQLite keeps nanoseconds) is cut, and one whose digits end in
/// zeros (which chrono shortens to three or none) is written out, so the
/// same archive exports the same on either database. Only our time
/// columns are touched, never JSON kept [`verbatim`].
fn micros(line: &mut Value) {
    walk(line, &[]);
}

fn walk(v: &mut Value, path: &[&str]) {
    match v {
        Value::Array(a) => a.iter_mut().for_each(|x| walk(x, path)),
        Value::Object(o) => {
            for (k, v) in o.iter_mut() {
                if verbatim(path, k, v) {
                    continue;
                }
                match v {
                    Value::String(s) if is_time_key(k) => {
                        if let Some(fixed) = six_digits(s) {
                            *s = fixed;
                        }
                    }
                    _ => {
                        let mut inner = path.to_vec();
                        inner.push(k);
                        walk(v, &inner);
                    }
                }
            }
        }
        _ => {}
    }
}

/// `2026-01-02T03:04:05.123456789Z` → `2026-01-02T03:04:05.123456Z`,
/// `2026-01-02T03:04:05.120Z` → `2026-01-02T03:04:05.120000Z`,
/// `2026-01-02T03:04:05Z` → `2026-01-02T03:04:05.000000Z`; `None` for
/// anything that is not an RFC 3339 time in UTC.
fn six_digits(s: &str) -> Option<String> {
    if !s.ends_with('Z') {
        return None;
    }
    let t = DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc);
    let cut = t.with_nanosecond(t.nanosecond() / 1_000 * 1_000)?;
    Some(cut.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_with_six_digits() {
        for (from, to) in [
            (
                "2026-01-02T03:04:05.123456789Z",
                "2026-01-02T03:04:05.123456Z",
            ),
            (
                "2026-01-02T03:04:05.120000789Z",
                "2026-01-02T03:04:05.120000Z",
            ),
            ("2026-01-02T03:04:05.120Z", "2026-01-02T03:04:05.120000Z"),
            ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000000Z"),
            ("2026-01-02T03:04:05.123456Z", "2026-01-02T03:04:05.123456Z"),
        ] {
            assert_eq!(six_digits(from).as_deref(), Some(to), "{from}");
        }
        assert_eq!(six_digits("not.1234567890Z"), None);
        assert_eq!(six_digits("2026-01-02T03:04:05.1+01:00"), None);
    }

    #[test]
    fn only_our_time_columns_are_rewritten() {
        let mut v = serde_json::json!({
            "created_at": "2026-01-02T03:04:05.1234567Z",
            "title": "2026-01-02T03:04:05Z",
            "sources": [{"created_at": "2026-01-02T03:04:05Z"}],
            "raw_metadata": {"created_at": "2026-01-02T03:04:05.000Z"},
            "stats": {"at": "2026-01-02T03:04:05Z"},
            "parts": [{"media": [{"archived_at": "2026-01-02T03:04:05.1Z"}]}],
            "stored": {"item": {"parts": [{"published_at": "2026-01-02T03:04:05Z"}]},
                       "versions": [{"captured_at": "2026-01-02T03:04:05.5Z",
                                     "snapshot": {"updated_at": "2026-01-02T03:04:05Z"}}],
                       "stats": [{"captured_at": "2026-01-02T03:04:05Z",
                                  "stats": {"at": "2026-01-02T03:04:05Z"}}]},
        });
        micros(&mut v);
        assert_eq!(v["created_at"], "2026-01-02T03:04:05.123456Z");
        assert_eq!(v["title"], "2026-01-02T03:04:05Z");
        assert_eq!(v["sources"][0]["created_at"], "2026-01-02T03:04:05.000000Z");
        assert_eq!(v["raw_metadata"]["created_at"], "2026-01-02T03:04:05.000Z");
        let version = &v["stored"]["versions"][0];
        assert_eq!(version["captured_at"], "2026-01-02T03:04:05.500000Z");
        assert_eq!(version["snapshot"]["updated_at"], "2026-01-02T03:04:05Z");
        assert_eq!(v["stats"]["at"], "2026-01-02T03:04:05Z");
        assert_eq!(
            v["parts"][0]["media"][0]["archived_at"],
            "2026-01-02T03:04:05.100000Z"
        );
        assert_eq!(
            v["stored"]["item"]["parts"][0]["published_at"],
            "2026-01-02T03:04:05Z"
        );
        let point = &v["stored"]["stats"][0];
        assert_eq!(point["captured_at"], "2026-01-02T03:04:05.000000Z");
        assert_eq!(point["stats"]["at"], "2026-01-02T03:04:05Z");
    }
}
