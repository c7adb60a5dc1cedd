//! Media rows: an item's media files, each archived by its own media job.
//!
//! The same lease discipline as parse jobs (`db::jobs`): [`claim`] takes a
//! row that is due (`pending`, past `next_attempt_at`) or whose lease ran
//! out, with a fresh token; every later transition names the token, so a
//! duplicate or stale queue message changes nothing.
//!
//! Statuses: `pending` → `processing` → `archived` | `failed`; `skipped`
//! when media archiving is off (the row still lists the original URL).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::entities::{blob, blob_source, content, dead_letter, media};
use crate::parsed::{FetchError, MediaRef, MediaRole, ParsedItem};

pub const PENDING: &str = "pending";
pub const PROCESSING: &str = "processing";
pub const ARCHIVED: &str = "archived";
pub const FAILED: &str = "failed";
pub const SKIPPED: &str = "skipped";

/// One media file to record for an item.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMedia {
    pub role: MediaRole,
    pub quoted: bool,
    pub media: MediaRef,
}

/// The media files of a parsed item in order: its own, then its quoted
/// item's (a quote tweet's photos are part of what was shared). The same
/// URL is listed once.
pub fn plan(parsed: &ParsedItem) -> Vec<NewMedia> {
    let mut seen = std::collections::HashSet::new();
    let own = parsed.media.iter().map(|m| (false, m));
    let quoted = parsed
        .quoted
        .iter()
        .flat_map(|q| q.media.iter().map(|m| (true, m)));
    own.chain(quoted)
        .filter(|(_, m)| m.role != MediaRole::Avatar && !m.url.trim().is_empty())
        .filter(|(_, m)| seen.insert(m.url.clone()))
        .map(|(quoted, m)| NewMedia {
            role: m.role,
            quoted,
            media: m.clone(),
        })
        .collect()
}

pub fn url_hash(url: &str) -> String {
    hex::encode(Sha256::digest(url.as_bytes()))
}

fn role_str(r: MediaRole) -> &'static str {
    match r {
        MediaRole::Cover => "cover",
        MediaRole::Image => "image",
        MediaRole::Video => "video",
        MediaRole::Avatar => "avatar",
    }
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Record an item's media (inside the transaction that stores the parsed
/// item). Rows already there (same item and position) are left alone.
pub(crate) async fn insert_for_item<C: ConnectionTrait>(
    db: &C,
    content_id: i64,
    list: &[NewMedia],
    archive: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    if list.is_empty() {
        return Ok(());
    }
    let rows = list.iter().enumerate().map(|(i, m)| {
        let headers = (!m.media.headers.is_empty()).then(|| serde_json::json!(m.media.headers));
        media::ActiveModel {
            id: NotSet,
            content_id: Set(content_id),
            position: Set(i as i32),
            role: Set(role_str(m.role).to_owned()),
            quoted: Set(m.quoted),
            original_url: Set(m.media.url.clone()),
            url_hash: Set(url_hash(&m.media.url)),
            request_headers: Set(headers),
            status: Set(if archive { PENDING } else { SKIPPED }.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(None),
            lease_until: Set(None),
            lease_token: Set(None),
            // The caller queues the jobs right after commit.
            enqueued_at: Set(archive.then_some(now)),
            blob_key: Set(None),
            sha256: Set(None),
            source_sha256: Set(None),
            bytes: Set(None),
            width: Set(m.media.width.map(|w| w as i32)),
            height: Set(m.media.height.map(|h| h as i32)),
            duration_secs: Set(m.media.duration_secs),
            mime: Set(m.media.mime.clone()),
            failure_count: Set(0),
            error_type: Set(None),
            error_code: Set(None),
            error_message: Set(None),
            error_detail: Set(None),
            last_error_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            archived_at: Set(None),
            // A quoted item's parts are its own: only the item's files
            // point into the item's parts.
            part: Set(m.media.part.filter(|_| !m.quoted).map(|p| p as i32)),
        }
    });
    media::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([media::Column::ContentId, media::Column::Position])
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The media of an item, in order.
pub async fn for_content<C: ConnectionTrait>(
    db: &C,
    content_id: i64,
) -> Result<Vec<media::Model>, DbErr> {
    media::Entity::find()
        .filter(media::Column::ContentId.eq(content_id))
        .order_by_asc(media::Column::Position)
        .all(db)
        .await
}

/// Ids of an item's media waiting for a job (to queue after a commit).
pub async fn pending_ids(db: &DatabaseConnection, content_id: i64) -> Result<Vec<i64>, DbErr> {
    media::Entity::find()
        .select_only()
        .column(media::Column::Id)
        .filter(media::Column::ContentId.eq(content_id))
        .filter(media::Column::Status.eq(PENDING))
        .order_by_asc(media::Column::Position)
        .into_tuple::<i64>()
        .all(db)
        .await
}

/// What the worker holds while it archives one file.
#[derive(Debug, Clone)]
pub struct MediaClaim {
    pub token: String,
    pub attempt: i32,
    pub media: media::Model,
    /// The item's platform and canonical URL (yt-dlp falls back to the page).
    pub platform: String,
    pub canonical_url: String,
}

impl MediaClaim {
    pub fn headers(&self) -> BTreeMap<String, String> {
        self.media
            .request_headers
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }
}

fn due() -> Condition {
    let now = Utc::now();
    Condition::any()
        .add(
            Condition::all().add(media::Column::Status.eq(PENDING)).add(
                Condition::any()
                    .add(media::Column::NextAttemptAt.is_null())
                    .add(media::Column::NextAttemptAt.lte(now)),
            ),
        )
        .add(
            Condition::all()
                .add(media::Column::Status.eq(PROCESSING))
                .add(media::Column::LeaseUntil.lt(now)),
        )
}

/// Take the lease on a media row if it is due; `None`: stale message.
pub async fn claim(
    db: &DatabaseConnection,
    id: i64,
    lease: Duration,
) -> Result<Option<MediaClaim>, DbErr> {
    let now = Utc::now();
    let token = uuid::Uuid::new_v4().simple().to_string();
    let res = media::Entity::update_many()
        .col_expr(media::Column::Status, Expr::value(PROCESSING))
        .col_expr(
            media::Column::LeaseUntil,
            Expr::value(now + chrono_dur(lease)),
        )
        .col_expr(media::Column::LeaseToken, Expr::value(token.clone()))
        .col_expr(
            media::Column::Attempts,
            Expr::col(media::Column::Attempts).add(1),
        )
        .col_expr(media::Column::UpdatedAt, Expr::value(now))
        .filter(media::Column::Id.eq(id))
        .filter(due())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    let row = media::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("media {id} vanished after claim")))?;
    let item = content::Entity::find_by_id(row.content_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("content of media {id} vanished")))?;
    Ok(Some(MediaClaim {
        token,
        attempt: row.attempts,
        media: row,
        platform: item.platform,
        canonical_url: item.canonical_url,
    }))
}

/// When a message arrives for a row that is not due: `Some(wait)` if it
/// waits for a retry (the message came early), `None` if it is stale.
pub async fn early_by(db: &DatabaseConnection, id: i64) -> Result<Option<Duration>, DbErr> {
    let now = Utc::now();
    let row = media::Entity::find_by_id(id).one(db).await?;
    Ok(row
        .filter(|m| m.status == PENDING)
        .and_then(|m| m.next_attempt_at)
        .filter(|n| *n > now)
        .map(|n| (n - now).to_std().unwrap_or_default()))
}

fn owned(id: i64, token: &str) -> Condition {
    Condition::all()
        .add(media::Column::Id.eq(id))
        .add(media::Column::Status.eq(PROCESSING))
        .add(media::Column::LeaseToken.eq(token))
}

fn released(update: sea_orm::UpdateMany<media::Entity>) -> sea_orm::UpdateMany<media::Entity> {
    update
        .col_expr(
            media::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            media::Column::LeaseToken,
            Expr::value(Option::<String>::None),
        )
}

/// Extend the lease of a long download. False: the lease was lost.
pub async fn heartbeat(
    db: &DatabaseConnection,
    id: i64,
    token: &str,
    lease: Duration,
) -> Result<bool, DbErr> {
    let res = media::Entity::update_many()
        .col_expr(
            media::Column::LeaseUntil,
            Expr::value(Utc::now() + chrono_dur(lease)),
        )
        .filter(owned(id, token))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// A file stored in the blob store.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Archived {
    pub blob_key: String,
    pub sha256: String,
    /// SHA-256 of the downloaded bytes, when they differ from the blob's.
    pub source_sha256: Option<String>,
    pub bytes: i64,
    pub mime: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_secs: Option<f64>,
}

/// Record a stored blob (once per key) and, for transcoded sources, which
/// source bytes produced it.
pub async fn record_blob(
    db: &DatabaseConnection,
    a: &Archived,
    variant: Option<&str>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    blob::Entity::insert(blob::ActiveModel {
        key: Set(a.blob_key.clone()),
        sha256: Set(a.sha256.clone()),
        bytes: Set(a.bytes),
        mime: Set(a.mime.clone()),
        width: Set(a.width),
        height: Set(a.height),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([blob::Column::Key])
    .exec_without_returning(db)
    .await?;
    if let (Some(src), Some(variant)) = (&a.source_sha256, variant) {
        blob_source::Entity::insert(blob_source::ActiveModel {
            source_sha256: Set(src.clone()),
            variant: Set(variant.to_owned()),
            blob_key: Set(a.blob_key.clone()),
            created_at: Set(now),
        })
        .on_conflict_do_nothing_on([
            blob_source::Column::SourceSha256,
            blob_source::Column::Variant,
        ])
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// The blob a source (by the SHA-256 of its bytes) was already turned
/// into with this variant.
pub async fn blob_for_source(
    db: &DatabaseConnection,
    source_sha256: &str,
    variant: &str,
) -> Result<Option<blob::Model>, DbErr> {
    let Some(src) = blob_source::Entity::find_by_id((source_sha256.to_owned(), variant.to_owned()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    blob::Entity::find_by_id(src.blob_key).one(db).await
}

/// Another row already archived from the same URL with the same kind of
/// processing (images vs videos): its result can be reused without a
/// download.
pub async fn archived_from_url(
    db: &DatabaseConnection,
    url: &str,
    video: bool,
) -> Result<Option<media::Model>, DbErr> {
    let roles: &[&str] = if video {
        &["video"]
    } else {
        &["cover", "image"]
    };
    media::Entity::find()
        .filter(media::Column::UrlHash.eq(url_hash(url)))
        .filter(media::Column::OriginalUrl.eq(url))
        .filter(media::Column::Status.eq(ARCHIVED))
        .filter(media::Column::Role.is_in(roles.iter().copied()))
        .order_by_asc(media::Column::Id)
        .one(db)
        .await
}

/// Store the archived result. False: the lease was lost.
pub async fn complete(
    db: &DatabaseConnection,
    claim: &MediaClaim,
    a: &Archived,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let res = released(media::Entity::update_many())
        .col_expr(media::Column::Status, Expr::value(ARCHIVED))
        .col_expr(media::Column::BlobKey, Expr::value(a.blob_key.clone()))
        .col_expr(media::Column::Sha256, Expr::value(a.sha256.clone()))
        .col_expr(
            media::Column::SourceSha256,
            Expr::value(a.source_sha256.clone()),
        )
        .col_expr(media::Column::Bytes, Expr::value(a.bytes))
        .col_expr(media::Column::Mime, Expr::value(a.mime.clone()))
        .col_expr(media::Column::Width, Expr::value(a.width))
        .col_expr(media::Column::Height, Expr::value(a.height))
        .col_expr(
            media::Column::DurationSecs,
            Expr::value(a.duration_secs.or(claim.media.duration_secs)),
        )
        .col_expr(
            media::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(media::Column::ArchivedAt, Expr::value(now))
        .col_expr(media::Column::UpdatedAt, Expr::value(now))
        .filter(owned(claim.media.id, &claim.token))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

fn failure_update(
    err: &FetchError,
    code: &str,
    status: &str,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<media::Entity> {
    released(media::Entity::update_many())
        .col_expr(media::Column::Status, Expr::value(status))
        .col_expr(
            media::Column::FailureCount,
            Expr::col(media::Column::FailureCount).add(1),
        )
        .col_expr(media::Column::ErrorType, Expr::value(err.class.as_str()))
        .col_expr(media::Column::ErrorCode, Expr::value(code))
        .col_expr(
            media::Column::ErrorMessage,
            Expr::value(err.message.clone()),
        )
        .col_expr(media::Column::ErrorDetail, Expr::value(err.detail.clone()))
        .col_expr(media::Column::LastErrorAt, Expr::value(now))
        .col_expr(media::Column::UpdatedAt, Expr::value(now))
}

/// Record a retryable failure; the row is due again at `next_at`.
pub async fn fail_retry(
    db: &DatabaseConnection,
    claim: &MediaClaim,
    err: &FetchError,
    code: &str,
    next_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = failure_update(err, code, PENDING, Utc::now())
        .col_expr(media::Column::NextAttemptAt, Expr::value(next_at))
        .col_expr(media::Column::EnqueuedAt, Expr::value(next_at))
        .filter(owned(claim.media.id, &claim.token))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Fail the file for good (the item stays `pulled`) and dead-letter its job.
pub async fn fail_dead(
    db: &DatabaseConnection,
    claim: &MediaClaim,
    err: &FetchError,
    code: &str,
    payload: serde_json::Value,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let txn = db.begin().await?;
    let res = failure_update(err, code, FAILED, now)
        .col_expr(
            media::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(owned(claim.media.id, &claim.token))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    dead_letter::Entity::insert(dead_letter::ActiveModel {
        id: NotSet,
        content_id: Set(claim.media.content_id),
        job_kind: Set("media".to_owned()),
        platform: Set(claim.platform.clone()),
        payload: Set(payload),
        attempts: Set(claim.attempt),
        error_type: Set(err.class.as_str().to_owned()),
        error_message: Set(err.message.clone()),
        error_detail: Set(err.detail.clone()),
        state: Set("open".to_owned()),
        created_at: Set(now),
        retried_at: Set(None),
        media_id: Set(Some(claim.media.id)),
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Media rows due but maybe not queued (lost message, expired lease).
pub async fn due_for_enqueue(
    db: &DatabaseConnection,
    requeue_after: Duration,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    let now = Utc::now();
    let stale = now - chrono_dur(requeue_after);
    let waiting = Condition::all()
        .add(media::Column::Status.eq(PENDING))
        .add(
            Condition::any()
                .add(media::Column::NextAttemptAt.is_null())
                .add(media::Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::any()
                .add(media::Column::EnqueuedAt.is_null())
                .add(media::Column::EnqueuedAt.lt(stale)),
        );
    // Lease ran out: queue it once, and again if that message too is
    // long gone (a flushed or restarted Redis): the claim fences duplicates.
    let orphaned = Condition::all()
        .add(media::Column::Status.eq(PROCESSING))
        .add(media::Column::LeaseUntil.lt(now))
        .add(
            Condition::any()
                .add(media::Column::EnqueuedAt.is_null())
                .add(Expr::col(media::Column::EnqueuedAt).lt(Expr::col(media::Column::LeaseUntil)))
                .add(media::Column::EnqueuedAt.lt(stale)),
        );
    media::Entity::find()
        .select_only()
        .column(media::Column::Id)
        .filter(Condition::any().add(waiting).add(orphaned))
        .order_by_asc(media::Column::Id)
        .limit(limit)
        .into_tuple::<i64>()
        .all(db)
        .await
}

pub async fn mark_enqueued(db: &DatabaseConnection, ids: &[i64]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    media::Entity::update_many()
        .col_expr(media::Column::EnqueuedAt, Expr::value(Utc::now()))
        .filter(media::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Make failed (or skipped, or stale) media rows pending again with a
/// fresh attempt count; their error fields stay as history. Returns the
/// ids to queue. `content_id` limits it to one item; `media_ids` to those
/// rows.
pub(crate) async fn reset_for_retry<C: ConnectionTrait>(
    db: &C,
    content_id: Option<i64>,
    media_ids: Option<&[i64]>,
    requeue_after: Duration,
) -> Result<Vec<i64>, DbErr> {
    let now = Utc::now();
    let stale = now - chrono_dur(requeue_after);
    let retryable = Condition::any()
        .add(media::Column::Status.is_in([FAILED, SKIPPED]))
        .add(
            Condition::all()
                .add(media::Column::Status.eq(PROCESSING))
                .add(media::Column::LeaseUntil.lt(now)),
        )
        .add(
            Condition::all().add(media::Column::Status.eq(PENDING)).add(
                Condition::any()
                    .add(media::Column::EnqueuedAt.is_null())
                    .add(media::Column::EnqueuedAt.lt(stale))
                    .add(media::Column::NextAttemptAt.is_not_null()),
            ),
        );
    let mut q = media::Entity::find()
        .select_only()
        .column(media::Column::Id)
        .filter(retryable);
    if let Some(c) = content_id {
        q = q.filter(media::Column::ContentId.eq(c));
    }
    if let Some(ids) = media_ids {
        q = q.filter(media::Column::Id.is_in(ids.iter().copied()));
    }
    let ids: Vec<i64> = q.into_tuple::<i64>().all(db).await?;
    for chunk in ids.chunks(500) {
        released(media::Entity::update_many())
            .col_expr(media::Column::Status, Expr::value(PENDING))
            .col_expr(media::Column::Attempts, Expr::value(0))
            .col_expr(
                media::Column::NextAttemptAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(media::Column::EnqueuedAt, Expr::value(now))
            .col_expr(media::Column::UpdatedAt, Expr::value(now))
            .filter(media::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(ids)
}

/// Media rows per status (health, metrics).
pub async fn status_counts(db: &DatabaseConnection) -> Result<Vec<(String, i64)>, DbErr> {
    media::Entity::find()
        .select_only()
        .column(media::Column::Status)
        .column_as(media::Column::Id.count(), "n")
        .group_by(media::Column::Status)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await
}

/// Blobs stored and their total size (metrics).
pub async fn blob_totals(db: &DatabaseConnection) -> Result<(i64, i64), DbErr> {
    let row: Option<(i64, Option<i64>)> = blob::Entity::find()
        .select_only()
        .column_as(blob::Column::Key.count(), "n")
        .column_as(blob::Column::Bytes.sum(), "bytes")
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.map_or((0, 0), |(n, b)| (n, b.unwrap_or(0))))
}
