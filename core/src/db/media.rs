//! Media rows: an item's media files, each archived by its own media job,
//! on the leased-work bookkeeping of [`super::work`] (like items: a due or
//! orphaned row is claimed with a fresh token, every later transition names
//! it, so a duplicate or stale queue message changes nothing).
//!
//! Statuses: see [`MediaStatus`]. The stored blobs themselves are
//! registered in [`super::blobs`].

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};

use super::blobs::Archived;
use super::dead_letters::{self, NewDeadLetter};
use super::entities::{content, media};
use super::work::{self, Failures, Lease, chrono_dur};
use crate::error::MediaErrorCode;
use crate::parsed::{FetchError, MediaRef, MediaRole, ParsedItem};
use crate::queue::JobKind;
use crate::status::MediaStatus;

work::queued_table!(media: MediaStatus, waiting = MediaStatus::Pending, working = MediaStatus::Processing, leased);

impl Failures for media::Entity {
    const FAILURE_COUNT: media::Column = media::Column::FailureCount;
    const ERROR_MESSAGE: media::Column = media::Column::ErrorMessage;
    const ERROR_CLASS: media::Column = media::Column::ErrorType;
    const ERROR_DETAIL: media::Column = media::Column::ErrorDetail;
    const ERROR_AT: media::Column = media::Column::LastErrorAt;
}

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

/// Record an item's media (inside the transaction that stores the parsed
/// item). Rows already there (same item and position) are left alone.
pub(crate) async fn insert_for_item<C: ConnectionTrait>(
    db: &C,
    content_id: i64,
    list: &[NewMedia],
    archive: bool,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    insert_at(db, content_id, list, 0, archive, now).await
}

/// Record media files at positions from `first` on (a refresh appends the
/// files it found new after those archived).
pub(crate) async fn insert_at<C: ConnectionTrait>(
    db: &C,
    content_id: i64,
    list: &[NewMedia],
    first: i32,
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
            position: Set(first + i as i32),
            role: Set(role_str(m.role).to_owned()),
            quoted: Set(m.quoted),
            original_url: Set(m.media.url.clone()),
            url_hash: Set(url_hash(&m.media.url)),
            request_headers: Set(headers),
            status: Set(if archive {
                MediaStatus::Pending
            } else {
                MediaStatus::Skipped
            }),
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
        .filter(media::Column::Status.eq(MediaStatus::Pending))
        .order_by_asc(media::Column::Position)
        .into_tuple::<i64>()
        .all(db)
        .await
}

/// What the worker holds while it archives one file.
#[derive(Debug, Clone)]
pub struct MediaClaim {
    pub lease: Lease,
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

/// Take the lease on a media row if it is due; `None`: stale message.
pub async fn claim(
    db: &DatabaseConnection,
    id: i64,
    lease: Duration,
) -> Result<Option<MediaClaim>, DbErr> {
    let Some((lease, row)) = work::claim::<media::Entity>(db, id, lease).await? else {
        return Ok(None);
    };
    let item = content::Entity::find_by_id(row.content_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("content of media {id} vanished")))?;
    Ok(Some(MediaClaim {
        lease,
        media: row,
        platform: item.platform,
        canonical_url: item.canonical_url,
    }))
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
        .filter(media::Column::Status.eq(MediaStatus::Archived))
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
    let done = work::finished(
        work::released(media::Entity::update_many()),
        MediaStatus::Archived,
    );
    let res = done
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
        .col_expr(media::Column::ArchivedAt, Expr::value(now))
        .col_expr(media::Column::UpdatedAt, Expr::value(now))
        .filter(work::owned::<media::Entity>(&claim.lease))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The failed attempt recorded, with its per-media code; the lease given up.
fn failure(
    err: &FetchError,
    code: MediaErrorCode,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<media::Entity> {
    work::failure(work::released(media::Entity::update_many()), err, now)
        .col_expr(media::Column::ErrorCode, Expr::value(code))
}

/// Record a retryable failure; the row is due again at `next_at`.
pub async fn fail_retry(
    db: &DatabaseConnection,
    claim: &MediaClaim,
    err: &FetchError,
    code: MediaErrorCode,
    next_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = work::retry_at(failure(err, code, Utc::now()), next_at)
        .filter(work::owned::<media::Entity>(&claim.lease))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Fail the file for good (the item stays `pulled`) and dead-letter its job.
pub async fn fail_dead(
    db: &DatabaseConnection,
    claim: &MediaClaim,
    err: &FetchError,
    code: MediaErrorCode,
    payload: serde_json::Value,
) -> Result<bool, DbErr> {
    let update = work::finished(failure(err, code, Utc::now()), MediaStatus::Failed)
        .filter(work::owned::<media::Entity>(&claim.lease));
    let letter = NewDeadLetter {
        content_id: claim.media.content_id,
        media_id: Some(claim.media.id),
        job_kind: JobKind::Media,
        platform: &claim.platform,
        payload,
        attempts: claim.lease.attempt,
        err,
    };
    dead_letters::fail_with_letter(db, update, letter).await
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
        .add(media::Column::Status.is_in([MediaStatus::Failed, MediaStatus::Skipped]))
        .add(
            Condition::all()
                .add(media::Column::Status.eq(MediaStatus::Processing))
                .add(media::Column::LeaseUntil.lt(now)),
        )
        .add(
            Condition::all()
                .add(media::Column::Status.eq(MediaStatus::Pending))
                .add(
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
        work::reset(work::released(media::Entity::update_many()), Some(now), now)
            .filter(media::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(ids)
}
