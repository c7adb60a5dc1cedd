//! The pipeline's state transitions, each one conditional UPDATE.
//!
//! An item is worked on only by the worker that holds its lease: [`claim`]
//! moves it to `processing` with a fresh lease token only if it is due
//! (`unprocessed` and past `next_attempt_at`) or its previous lease expired
//! (a crashed worker). Every later transition names the token, so a worker
//! whose lease was taken over cannot overwrite the new owner's result.
//! Duplicate queue messages are therefore harmless.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use super::entities::{content, dead_letter};
use crate::content::Status;
use crate::parsed::{FetchError, ParsedItem};

/// What the worker holds while it works on an item.
#[derive(Debug, Clone)]
pub struct Claim {
    pub token: String,
    /// 1 for the first attempt of this round.
    pub attempt: i32,
    pub item: content::Model,
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Take the lease on an item if it is due. `None`: not due, already leased,
/// or finished — the message that asked for it is stale.
pub async fn claim(
    db: &DatabaseConnection,
    id: i64,
    lease: Duration,
) -> Result<Option<Claim>, DbErr> {
    let now = Utc::now();
    let token = uuid::Uuid::new_v4().simple().to_string();
    let due = Condition::any()
        .add(
            Condition::all()
                .add(content::Column::Status.eq(Status::Unprocessed.as_str()))
                .add(
                    Condition::any()
                        .add(content::Column::NextAttemptAt.is_null())
                        .add(content::Column::NextAttemptAt.lte(now)),
                ),
        )
        .add(
            Condition::all()
                .add(content::Column::Status.eq(Status::Processing.as_str()))
                .add(content::Column::LeaseUntil.lt(now)),
        );
    let res = content::Entity::update_many()
        .col_expr(
            content::Column::Status,
            Expr::value(Status::Processing.as_str()),
        )
        .col_expr(
            content::Column::LeaseUntil,
            Expr::value(now + chrono_dur(lease)),
        )
        .col_expr(content::Column::LeaseToken, Expr::value(token.clone()))
        .col_expr(
            content::Column::Attempts,
            Expr::col(content::Column::Attempts).add(1),
        )
        .col_expr(content::Column::UpdatedAt, Expr::value(now))
        .filter(content::Column::Id.eq(id))
        .filter(due)
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    let item = content::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("content {id} vanished after claim")))?;
    Ok(Some(Claim {
        token,
        attempt: item.attempts,
        item,
    }))
}

/// The update also gives up the lease (the item leaves `processing`).
fn released(update: sea_orm::UpdateMany<content::Entity>) -> sea_orm::UpdateMany<content::Entity> {
    update
        .col_expr(
            content::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            content::Column::LeaseToken,
            Expr::value(Option::<String>::None),
        )
}

fn owned(id: i64, token: &str) -> Condition {
    Condition::all()
        .add(content::Column::Id.eq(id))
        .add(content::Column::Status.eq(Status::Processing.as_str()))
        .add(content::Column::LeaseToken.eq(token))
}

/// Extend the lease of a long job. False: the lease was lost.
pub async fn heartbeat(
    db: &DatabaseConnection,
    id: i64,
    token: &str,
    lease: Duration,
) -> Result<bool, DbErr> {
    let res = content::Entity::update_many()
        .col_expr(
            content::Column::LeaseUntil,
            Expr::value(Utc::now() + chrono_dur(lease)),
        )
        .filter(owned(id, token))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Store a parsed item, move it to `pulled` and record its media files
/// (`pending` when `archive_media`, else `skipped`) in one transaction.
/// False: the lease was lost (another worker took over), nothing was written.
pub async fn complete(
    db: &DatabaseConnection,
    claim: &Claim,
    parsed: &ParsedItem,
    archive_media: bool,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let stats = (!parsed.stats.is_empty()).then(|| serde_json::json!(parsed.stats));
    let raw = serde_json::to_value(parsed).map_err(|e| DbErr::Custom(e.to_string()))?;
    let parts = (!parsed.parts.is_empty())
        .then(|| serde_json::to_value(&parsed.parts))
        .transpose()
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let fields = (!parsed.fields.is_empty()).then(|| serde_json::json!(parsed.fields));
    let author = parsed.author.clone().unwrap_or_default();
    let mut update = released(content::Entity::update_many())
        .col_expr(
            content::Column::Status,
            Expr::value(Status::Pulled.as_str()),
        )
        .col_expr(content::Column::Title, Expr::value(parsed.title.clone()))
        .col_expr(content::Column::Text, Expr::value(parsed.text.clone()))
        .col_expr(content::Column::AuthorName, Expr::value(author.name))
        .col_expr(content::Column::AuthorId, Expr::value(author.id))
        .col_expr(content::Column::AuthorUrl, Expr::value(author.url))
        .col_expr(
            content::Column::PublishedAt,
            Expr::value(parsed.published_at),
        )
        .col_expr(content::Column::Stats, Expr::value(stats))
        .col_expr(content::Column::RawMetadata, Expr::value(Some(raw)))
        .col_expr(content::Column::Parts, Expr::value(parts))
        .col_expr(content::Column::Fields, Expr::value(fields))
        .col_expr(content::Column::PulledAt, Expr::value(now))
        .col_expr(content::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            content::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        );
    if let Some(kind) = parsed.kind {
        update = update.col_expr(content::Column::Kind, Expr::value(kind.as_str()));
    }
    let txn = db.begin().await?;
    let res = update
        .filter(owned(claim.item.id, &claim.token))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    let media = super::media::plan(parsed);
    super::media::insert_for_item(&txn, claim.item.id, &media, archive_media, now).await?;
    super::search::index_item(&txn, claim.item.id).await?;
    txn.commit().await?;
    Ok(true)
}

fn failure_update(
    err: &FetchError,
    status: Status,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<content::Entity> {
    released(content::Entity::update_many())
        .col_expr(content::Column::Status, Expr::value(status.as_str()))
        .col_expr(
            content::Column::FailureCount,
            Expr::col(content::Column::FailureCount).add(1),
        )
        .col_expr(content::Column::LastError, Expr::value(err.message.clone()))
        .col_expr(
            content::Column::LastErrorType,
            Expr::value(err.class.as_str()),
        )
        .col_expr(
            content::Column::LastErrorDetail,
            Expr::value(err.detail.clone()),
        )
        .col_expr(content::Column::LastErrorAt, Expr::value(now))
        .col_expr(content::Column::UpdatedAt, Expr::value(now))
}

/// Record a retryable failure and make the item due again at `next_at`.
pub async fn fail_retry(
    db: &DatabaseConnection,
    claim: &Claim,
    err: &FetchError,
    next_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let res = failure_update(err, Status::Unprocessed, now)
        .col_expr(content::Column::NextAttemptAt, Expr::value(next_at))
        // The delayed message is "enqueued" for `next_at`: the reconciler
        // only steps in if it has not run well after that.
        .col_expr(content::Column::EnqueuedAt, Expr::value(next_at))
        .filter(owned(claim.item.id, &claim.token))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Fail the item for good and put its job in the dead-letter queue.
pub async fn fail_dead(
    db: &DatabaseConnection,
    claim: &Claim,
    err: &FetchError,
    job_kind: &str,
    payload: serde_json::Value,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let txn = db.begin().await?;
    let res = failure_update(err, Status::Failed, now)
        .col_expr(
            content::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(owned(claim.item.id, &claim.token))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    dead_letter::Entity::insert(dead_letter::ActiveModel {
        id: NotSet,
        content_id: Set(claim.item.id),
        job_kind: Set(job_kind.to_owned()),
        platform: Set(claim.item.platform.clone()),
        payload: Set(payload),
        attempts: Set(claim.attempt),
        error_type: Set(err.class.as_str().to_owned()),
        error_message: Set(err.message.clone()),
        error_detail: Set(err.detail.clone()),
        state: Set("open".to_owned()),
        created_at: Set(now),
        retried_at: Set(None),
        media_id: Set(None),
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Items that should be in the queue but may not be: due and not queued
/// recently, or leased by a worker whose lease ran out.
pub async fn due_for_enqueue(
    db: &DatabaseConnection,
    requeue_after: Duration,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    let now = Utc::now();
    let stale = now - chrono_dur(requeue_after);
    let waiting = Condition::all()
        .add(content::Column::Status.eq(Status::Unprocessed.as_str()))
        .add(
            Condition::any()
                .add(content::Column::NextAttemptAt.is_null())
                .add(content::Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::any()
                .add(content::Column::EnqueuedAt.is_null())
                .add(content::Column::EnqueuedAt.lt(stale)),
        );
    // Lease ran out: queue it once, and again if that message too is
    // long gone (a flushed or restarted Redis): the claim fences duplicates.
    let orphaned = Condition::all()
        .add(content::Column::Status.eq(Status::Processing.as_str()))
        .add(content::Column::LeaseUntil.lt(now))
        .add(
            Condition::any()
                .add(content::Column::EnqueuedAt.is_null())
                .add(
                    Expr::col(content::Column::EnqueuedAt)
                        .lt(Expr::col(content::Column::LeaseUntil)),
                )
                .add(content::Column::EnqueuedAt.lt(stale)),
        );
    content::Entity::find()
        .select_only()
        .column(content::Column::Id)
        .filter(Condition::any().add(waiting).add(orphaned))
        .order_by_asc(content::Column::Id)
        .limit(limit)
        .into_tuple::<i64>()
        .all(db)
        .await
}

/// Note that messages for these items were just queued.
pub async fn mark_enqueued(db: &DatabaseConnection, ids: &[i64]) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    content::Entity::update_many()
        .col_expr(content::Column::EnqueuedAt, Expr::value(Utc::now()))
        .filter(content::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Why an item could not be re-queued by an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryRefusal {
    NotFound,
    /// The item is pulled, or being worked on under a live lease.
    NotRetryable(Status),
}

/// Jobs to queue after an operator's retry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requeued {
    /// Items to parse again.
    pub items: Vec<i64>,
    /// Media files to archive again.
    pub media: Vec<i64>,
}

impl Requeued {
    /// Queue the jobs now. A push that fails is logged: the rows are due
    /// and marked enqueued, so the reconciler queues them later.
    pub async fn enqueue(&self, queue: &dyn crate::queue::JobQueue) {
        use crate::queue::{MediaJob, ParseJob};
        for &content_id in &self.items {
            let job = ParseJob {
                content_id,
                request_id: None,
            };
            if let Err(e) = queue.enqueue_parse(job, None).await {
                tracing::warn!(content.id = content_id, error = %e, "could not queue the retry; the reconciler will");
            }
        }
        for &media_id in &self.media {
            let job = MediaJob {
                media_id,
                request_id: None,
            };
            if let Err(e) = queue.enqueue_media(job, None).await {
                tracing::warn!(media.id = media_id, error = %e, "could not queue the media retry; the reconciler will");
            }
        }
    }
}

/// `POST /contents/{id}/retry`: a failed item, or a stale one (expired
/// lease, or waiting but not queued for a while), starts a fresh round of
/// attempts; a pulled item with failed (or stale) media files gets those
/// files retried. Failure fields and dead letters stay as history.
pub async fn retry_content(
    db: &DatabaseConnection,
    id: i64,
    requeue_after: Duration,
) -> Result<Result<Requeued, RetryRefusal>, DbErr> {
    let now = Utc::now();
    let txn = db.begin().await?;
    let Some(item) = content::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(Err(RetryRefusal::NotFound));
    };
    let status = item.status.parse::<Status>().unwrap_or(Status::Failed);
    let stale_wait = item
        .enqueued_at
        .is_none_or(|t| t < now - chrono_dur(requeue_after));
    let retryable = match status {
        Status::Failed => true,
        Status::Processing => item.lease_until.is_none_or(|l| l < now),
        Status::Unprocessed => stale_wait || item.next_attempt_at.is_some(),
        Status::Pulled => false,
    };
    if status == Status::Pulled {
        let media = super::media::reset_for_retry(&txn, Some(id), None, requeue_after).await?;
        if media.is_empty() {
            txn.rollback().await?;
            return Ok(Err(RetryRefusal::NotRetryable(status)));
        }
        close_media_dead_letters(&txn, &media, now).await?;
        txn.commit().await?;
        return Ok(Ok(Requeued {
            items: Vec::new(),
            media,
        }));
    }
    if !retryable {
        txn.rollback().await?;
        return Ok(Err(RetryRefusal::NotRetryable(status)));
    }
    reset_for_retry(&txn, &[id], now).await?;
    close_dead_letters(&txn, &[id], now).await?;
    txn.commit().await?;
    Ok(Ok(Requeued {
        items: vec![id],
        media: Vec::new(),
    }))
}

async fn close_media_dead_letters<C: sea_orm::ConnectionTrait>(
    db: &C,
    media_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in media_ids.chunks(500) {
        dead_letter::Entity::update_many()
            .col_expr(dead_letter::Column::State, Expr::value("retried"))
            .col_expr(dead_letter::Column::RetriedAt, Expr::value(now))
            .filter(dead_letter::Column::MediaId.is_in(chunk.iter().copied()))
            .filter(dead_letter::Column::State.eq("open"))
            .exec(db)
            .await?;
    }
    Ok(())
}

async fn reset_for_retry<C: sea_orm::ConnectionTrait>(
    db: &C,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    released(content::Entity::update_many())
        .col_expr(
            content::Column::Status,
            Expr::value(Status::Unprocessed.as_str()),
        )
        .col_expr(content::Column::Attempts, Expr::value(0))
        .col_expr(
            content::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(content::Column::EnqueuedAt, Expr::value(now))
        .col_expr(content::Column::UpdatedAt, Expr::value(now))
        .filter(content::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// Close the open *parse* dead letters of these items.
async fn close_dead_letters<C: sea_orm::ConnectionTrait>(
    db: &C,
    content_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    dead_letter::Entity::update_many()
        .col_expr(dead_letter::Column::State, Expr::value("retried"))
        .col_expr(dead_letter::Column::RetriedAt, Expr::value(now))
        .filter(dead_letter::Column::ContentId.is_in(content_ids.iter().copied()))
        .filter(dead_letter::Column::JobKind.ne("media"))
        .filter(dead_letter::Column::State.eq("open"))
        .exec(db)
        .await?;
    Ok(())
}

/// Filters of the dead-letter list and bulk retry.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter {
    pub platform: Option<String>,
    pub error_type: Option<String>,
    /// `open` (default) or `retried`; `None` with `all` = both.
    pub state: Option<String>,
    pub before_id: Option<i64>,
    pub limit: u64,
}

pub async fn list_dead_letters(
    db: &DatabaseConnection,
    f: &DeadLetterFilter,
) -> Result<Vec<dead_letter::Model>, DbErr> {
    let mut q = dead_letter::Entity::find();
    if let Some(p) = &f.platform {
        q = q.filter(dead_letter::Column::Platform.eq(p.as_str()));
    }
    if let Some(t) = &f.error_type {
        q = q.filter(dead_letter::Column::ErrorType.eq(t.as_str()));
    }
    if let Some(s) = &f.state {
        q = q.filter(dead_letter::Column::State.eq(s.as_str()));
    }
    if let Some(b) = f.before_id {
        q = q.filter(dead_letter::Column::Id.lt(b));
    }
    q.order_by_desc(dead_letter::Column::Id)
        .limit(f.limit)
        .all(db)
        .await
}

/// Retry one dead letter: its item (or, for a media job, its media file)
/// starts a fresh round. Returns the item id and what to queue, or `None`
/// when there is no open dead letter with that id.
pub async fn retry_dead_letter(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<(i64, Requeued)>, DbErr> {
    let now = Utc::now();
    let txn = db.begin().await?;
    let Some(dl) = dead_letter::Entity::find_by_id(id)
        .filter(dead_letter::Column::State.eq("open"))
        .one(&txn)
        .await?
    else {
        txn.rollback().await?;
        return Ok(None);
    };
    let requeued = retry_letters(&txn, &[dl], now).await?;
    txn.commit().await?;
    Ok(Some((requeued.0, requeued.1)))
}

/// Reset what these open dead letters name; close them. Returns the first
/// item id and the jobs to queue.
async fn retry_letters<C: sea_orm::ConnectionTrait>(
    db: &C,
    letters: &[dead_letter::Model],
    now: DateTime<Utc>,
) -> Result<(i64, Requeued), DbErr> {
    let mut items: Vec<i64> = letters
        .iter()
        .filter(|d| d.media_id.is_none())
        .map(|d| d.content_id)
        .collect();
    items.sort_unstable();
    items.dedup();
    let mut media_ids: Vec<i64> = letters.iter().filter_map(|d| d.media_id).collect();
    media_ids.sort_unstable();
    media_ids.dedup();
    for chunk in items.chunks(500) {
        reset_for_retry(db, chunk, now).await?;
        close_dead_letters(db, chunk, now).await?;
    }
    let mut media = Vec::new();
    for chunk in media_ids.chunks(500) {
        // Failed rows match whatever the staleness window.
        let reset =
            super::media::reset_for_retry(db, None, Some(chunk), Duration::from_secs(3600)).await?;
        media.extend(reset);
    }
    // Close them even when the row moved on (e.g. archived by a duplicate).
    close_media_dead_letters(db, &media_ids, now).await?;
    let first = letters.first().map_or(0, |d| d.content_id);
    Ok((first, Requeued { items, media }))
}

/// Retry every open dead letter matching the filter (at most `limit`).
/// Returns the jobs to queue.
pub async fn retry_dead_letters(
    db: &DatabaseConnection,
    f: &DeadLetterFilter,
) -> Result<Requeued, DbErr> {
    let now = Utc::now();
    let filter = DeadLetterFilter {
        state: Some("open".into()),
        before_id: None,
        ..f.clone()
    };
    let txn = db.begin().await?;
    let mut q = dead_letter::Entity::find().filter(dead_letter::Column::State.eq("open"));
    if let Some(p) = &filter.platform {
        q = q.filter(dead_letter::Column::Platform.eq(p.as_str()));
    }
    if let Some(t) = &filter.error_type {
        q = q.filter(dead_letter::Column::ErrorType.eq(t.as_str()));
    }
    let letters = q
        .order_by_asc(dead_letter::Column::Id)
        .limit(filter.limit)
        .all(&txn)
        .await?;
    let (_, requeued) = retry_letters(&txn, &letters, now).await?;
    txn.commit().await?;
    Ok(requeued)
}

/// Items per status, for health and metrics.
pub async fn status_counts(db: &DatabaseConnection) -> Result<Vec<(String, i64)>, DbErr> {
    content::Entity::find()
        .select_only()
        .column(content::Column::Status)
        .column_as(content::Column::Id.count(), "n")
        .group_by(content::Column::Status)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await
}
