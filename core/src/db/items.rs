//! An item's parse: its transitions, on the leased-work bookkeeping of
//! [`super::work`].
//!
//! [`claim`] moves an item to `processing` with a fresh lease token only if
//! it is due (`unprocessed` and past `next_attempt_at`) or its previous
//! lease ran out (a crashed worker); [`complete`], [`fail_retry`] and
//! [`fail_dead`] name the token, so a worker whose lease was taken over
//! cannot overwrite the new owner's result. Duplicate queue messages are
//! therefore harmless.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

use super::dead_letters::{self, NewDeadLetter};
use super::entities::content;
use super::work::{self, Failures, Lease};
use crate::parsed::{FetchError, ParsedItem};
use crate::queue::JobKind;
use crate::status::Status;

work::queued_table!(content: Status, waiting = Status::Unprocessed, working = Status::Processing, leased);

impl Failures for content::Entity {
    const FAILURE_COUNT: content::Column = content::Column::FailureCount;
    const ERROR_MESSAGE: content::Column = content::Column::LastError;
    const ERROR_CLASS: content::Column = content::Column::LastErrorType;
    const ERROR_DETAIL: content::Column = content::Column::LastErrorDetail;
    const ERROR_AT: content::Column = content::Column::LastErrorAt;
}

/// What the worker holds while it works on an item.
#[derive(Debug, Clone)]
pub struct Claim {
    pub lease: Lease,
    pub item: content::Model,
}

/// Take the lease on an item if it is due. `None`: not due, already leased,
/// or finished — the message that asked for it is stale.
pub async fn claim(
    db: &DatabaseConnection,
    id: i64,
    lease: std::time::Duration,
) -> Result<Option<Claim>, DbErr> {
    let claimed = work::claim::<content::Entity>(db, id, lease).await?;
    Ok(claimed.map(|(lease, item)| Claim { lease, item }))
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
    let done = work::finished(
        work::released(content::Entity::update_many()),
        Status::Pulled,
    );
    let mut update = done
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
        .col_expr(content::Column::UpdatedAt, Expr::value(now));
    if let Some(kind) = parsed.kind {
        update = update.col_expr(content::Column::Kind, Expr::value(kind.as_str()));
    }
    let txn = db.begin().await?;
    let res = update
        .filter(work::owned::<content::Entity>(&claim.lease))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    let media = super::media::plan(parsed);
    super::media::insert_for_item(&txn, claim.item.id, &media, archive_media, now).await?;
    // Its refresh row, for the worker to put on the refresh policy.
    super::refresh::insert_unscheduled(&txn, claim.item.id, now).await?;
    // The search index changes with the item, in the same transaction.
    super::search::index_item(&txn, claim.item.id).await?;
    txn.commit().await?;
    Ok(true)
}

/// Record a retryable failure and make the item due again at `next_at`.
pub async fn fail_retry(
    db: &DatabaseConnection,
    claim: &Claim,
    err: &FetchError,
    next_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let failed = work::failure(
        work::released(content::Entity::update_many()),
        err,
        Utc::now(),
    );
    let res = work::retry_at(failed, next_at)
        .filter(work::owned::<content::Entity>(&claim.lease))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Fail the item for good and put its parse job in the dead-letter queue.
pub async fn fail_dead(
    db: &DatabaseConnection,
    claim: &Claim,
    err: &FetchError,
    payload: serde_json::Value,
) -> Result<bool, DbErr> {
    let failed = work::failure(
        work::released(content::Entity::update_many()),
        err,
        Utc::now(),
    );
    let update =
        work::finished(failed, Status::Failed).filter(work::owned::<content::Entity>(&claim.lease));
    let letter = NewDeadLetter {
        content_id: claim.item.id,
        media_id: None,
        job_kind: JobKind::Parse,
        platform: &claim.item.platform,
        payload,
        attempts: claim.lease.attempt,
        err,
    };
    dead_letters::fail_with_letter(db, update, letter).await
}

/// An operator's retry: these items start a fresh round, queued now.
pub(crate) async fn reset<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let fresh = work::reset(
        work::released(content::Entity::update_many()),
        Some(now),
        now,
    );
    fresh
        .filter(content::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

/// How long the oldest due `unprocessed` item has waited: since it was
/// created (first attempt) or since its retry became due. `None`: nothing
/// waits.
pub async fn oldest_waiting(db: &DatabaseConnection) -> Result<Option<std::time::Duration>, DbErr> {
    let now = Utc::now();
    // The (status, id) index: the lowest id is the oldest.
    let fresh: Option<DateTime<Utc>> = content::Entity::find()
        .select_only()
        .column(content::Column::CreatedAt)
        .filter(content::Column::Status.eq(Status::Unprocessed))
        .filter(content::Column::NextAttemptAt.is_null())
        .order_by_asc(content::Column::Id)
        .into_tuple()
        .one(db)
        .await?;
    let retry: Option<DateTime<Utc>> = content::Entity::find()
        .select_only()
        .column(content::Column::NextAttemptAt)
        .filter(content::Column::Status.eq(Status::Unprocessed))
        .filter(content::Column::NextAttemptAt.lte(now))
        .order_by_asc(content::Column::NextAttemptAt)
        .into_tuple()
        .one(db)
        .await?;
    let since = match (fresh, retry) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(since.map(|s| (now - s).to_std().unwrap_or_default()))
}
