//! Queued work: the bookkeeping every table whose rows jobs work on shares
//! — `contents` (parse jobs), `media` (media jobs), `pushed_records`
//! (publish jobs).
//!
//! Such a row has a status, an attempt count, `next_attempt_at` (when a
//! retry is due) and `enqueued_at` (when a queue message for it was last
//! pushed). It is *due* when it is in its table's waiting status and
//! `next_attempt_at` is unset or past. Every transition is one conditional
//! UPDATE, so the row — never the queue — decides whether work happens: a
//! duplicate or stale message finds nothing to take.
//!
//! Two disciplines:
//! - [`Leased`] tables (contents, media): [`claim`] takes a due row, *or one
//!   whose lease ran out* (its worker died), with a fresh token; every later
//!   transition names the token ([`owned`]), so a worker whose lease was
//!   taken over cannot overwrite the new owner's result. Work happens at
//!   least once; the jobs are idempotent.
//! - At-most-once tables (pushed records): [`start`] takes a due row only.
//!   A row a crash left in its working status is never taken again
//!   automatically — the message may have been posted, and a second post is
//!   worse than a missing one — so these tables have no lease, and nothing
//!   here that takes over a row compiles for them.
//!
//! The reconciler finds due rows whose message may be lost
//! ([`due_for_enqueue`], [`waiting_for_enqueue`]) and notes what it queued
//! ([`mark_enqueued`]). A table's error columns are named per table
//! ([`Failures`]); the schema is unchanged.

use std::fmt::Display;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ValueType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, ExprTrait, ModelTrait,
    QueryFilter, QueryOrder, QuerySelect, TryGetable, UpdateMany, Value,
};

use crate::parsed::FetchError;

/// A std duration as chrono's, saturating (a lease of "forever" stays valid).
pub fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A table with queued work: the columns of its bookkeeping and the
/// statuses that mean "waiting" and "being worked on".
pub trait Queued: EntityTrait {
    type Status: Into<Value> + TryGetable + Copy + Display + Send + Sync + 'static;
    const ID: Self::Column;
    const STATUS: Self::Column;
    const ATTEMPTS: Self::Column;
    const NEXT_ATTEMPT_AT: Self::Column;
    const ENQUEUED_AT: Self::Column;
    const UPDATED_AT: Self::Column;
    /// Waiting for an attempt (due once past `next_attempt_at`).
    const WAITING: Self::Status;
    /// Being worked on.
    const WORKING: Self::Status;
}

/// A table whose work is leased: a worker that dies loses its rows to the
/// next one once the lease runs out.
pub trait Leased: Queued {
    const LEASE_UNTIL: Self::Column;
    const LEASE_TOKEN: Self::Column;
}

/// Implements [`Queued`] — and [`Leased`] with `leased` — for the entity of
/// table module `$table`, whose bookkeeping columns have the usual names
/// (`id`, `status`, `attempts`, `next_attempt_at`, `enqueued_at`,
/// `updated_at`; `lease_until`, `lease_token`), as every table with queued
/// work has them.
macro_rules! queued_table {
    ($table:ident: $status:ty, waiting = $waiting:expr, working = $working:expr) => {
        impl $crate::db::work::Queued for $table::Entity {
            type Status = $status;
            const ID: $table::Column = $table::Column::Id;
            const STATUS: $table::Column = $table::Column::Status;
            const ATTEMPTS: $table::Column = $table::Column::Attempts;
            const NEXT_ATTEMPT_AT: $table::Column = $table::Column::NextAttemptAt;
            const ENQUEUED_AT: $table::Column = $table::Column::EnqueuedAt;
            const UPDATED_AT: $table::Column = $table::Column::UpdatedAt;
            const WAITING: $status = $waiting;
            const WORKING: $status = $working;
        }
    };
    ($table:ident: $status:ty, waiting = $waiting:expr, working = $working:expr, leased) => {
        $crate::db::work::queued_table!($table: $status, waiting = $waiting, working = $working);
        impl $crate::db::work::Leased for $table::Entity {
            const LEASE_UNTIL: $table::Column = $table::Column::LeaseUntil;
            const LEASE_TOKEN: $table::Column = $table::Column::LeaseToken;
        }
    };
}
pub(crate) use queued_table;

/// A table that records each failed attempt, under its own column names.
pub trait Failures: Queued {
    const FAILURE_COUNT: Self::Column;
    const ERROR_MESSAGE: Self::Column;
    /// The error class (`retryable`, `permanent`, …).
    const ERROR_CLASS: Self::Column;
    const ERROR_DETAIL: Self::Column;
    const ERROR_AT: Self::Column;
}

/// What a worker holds on a leased row while it works on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The row's id.
    pub id: i64,
    pub token: String,
    /// 1 for the first attempt of this round.
    pub attempt: i32,
}

/// Waiting, and past its retry time (or never tried).
pub fn due<T: Queued>(now: DateTime<Utc>) -> Condition {
    Condition::all().add(T::STATUS.eq(T::WAITING)).add(
        Condition::any()
            .add(T::NEXT_ATTEMPT_AT.is_null())
            .add(T::NEXT_ATTEMPT_AT.lte(now)),
    )
}

fn lease_expired<T: Leased>(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(T::STATUS.eq(T::WORKING))
        .add(T::LEASE_UNTIL.lt(now))
}

/// An attempt begins: the working status, one more attempt.
fn begin<T: Queued>(id: i64, now: DateTime<Utc>) -> UpdateMany<T> {
    T::update_many()
        .col_expr(T::STATUS, Expr::value(T::WORKING))
        .col_expr(T::ATTEMPTS, Expr::col(T::ATTEMPTS).add(1))
        .col_expr(T::UPDATED_AT, Expr::value(now))
        .filter(T::ID.eq(id))
}

/// At-most-once work: the UPDATE that takes row `id` if it is due — never
/// one already in its working status. The caller adds its own columns and
/// runs it; one row affected means it is taken.
pub fn start<T: Queued>(id: i64, now: DateTime<Utc>) -> UpdateMany<T> {
    begin::<T>(id, now).filter(due::<T>(now))
}

/// Take the lease on row `id` if it is due or its lease ran out, and read
/// the row. `None`: not due, leased by a live worker, or finished — the
/// message that asked for it is stale.
pub async fn claim<T: Leased>(
    db: &impl ConnectionTrait,
    id: i64,
    lease: Duration,
) -> Result<Option<(Lease, T::Model)>, DbErr> {
    let now = Utc::now();
    let token = uuid::Uuid::new_v4().simple().to_string();
    let res = begin::<T>(id, now)
        .col_expr(T::LEASE_UNTIL, Expr::value(now + chrono_dur(lease)))
        .col_expr(T::LEASE_TOKEN, Expr::value(token.clone()))
        .filter(
            Condition::any()
                .add(due::<T>(now))
                .add(lease_expired::<T>(now)),
        )
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    let table = T::default().table_name().to_owned();
    let row = T::find()
        .filter(T::ID.eq(id))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("{table} {id} vanished after its claim")))?;
    let attempt = <i32 as ValueType>::try_from(row.get(T::ATTEMPTS))
        .map_err(|_| DbErr::Custom(format!("{table} {id}: attempts is not a number")))?;
    Ok(Some((Lease { id, token, attempt }, row)))
}

/// The row is still this lease's: working, with its token.
pub fn owned<T: Leased>(lease: &Lease) -> Condition {
    Condition::all()
        .add(T::ID.eq(lease.id))
        .add(T::STATUS.eq(T::WORKING))
        .add(T::LEASE_TOKEN.eq(lease.token.as_str()))
}

/// The update also gives the lease up (the row leaves its working status).
pub fn released<T: Leased>(update: UpdateMany<T>) -> UpdateMany<T> {
    update
        .col_expr(T::LEASE_UNTIL, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(T::LEASE_TOKEN, Expr::value(Option::<String>::None))
}

/// Extend a lease while a long job runs. False: the lease was lost.
pub async fn heartbeat<T: Leased>(
    db: &impl ConnectionTrait,
    lease: &Lease,
    duration: Duration,
) -> Result<bool, DbErr> {
    let res = T::update_many()
        .col_expr(
            T::LEASE_UNTIL,
            Expr::value(Utc::now() + chrono_dur(duration)),
        )
        .filter(owned::<T>(lease))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// A message arrived for a row that is not due: `Some(wait)` when the row
/// waits for a retry (the message came early), `None` when the message is
/// stale.
pub async fn early_by<T: Queued>(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<Duration>, DbErr> {
    let now = Utc::now();
    let next: Option<Option<DateTime<Utc>>> = T::find()
        .select_only()
        .column(T::NEXT_ATTEMPT_AT)
        .filter(T::ID.eq(id))
        .filter(T::STATUS.eq(T::WAITING))
        .filter(T::NEXT_ATTEMPT_AT.gt(now))
        .into_tuple()
        .one(db)
        .await?;
    Ok(next
        .flatten()
        .map(|n| (n - now).to_std().unwrap_or_default()))
}

/// Back to waiting, due again at `next_at`. `enqueued_at` = `next_at`:
/// the caller queues a delayed message, and the reconciler only steps in
/// if it has not run well after that.
pub fn retry_at<T: Queued>(update: UpdateMany<T>, next_at: DateTime<Utc>) -> UpdateMany<T> {
    update
        .col_expr(T::STATUS, Expr::value(T::WAITING))
        .col_expr(T::NEXT_ATTEMPT_AT, Expr::value(next_at))
        .col_expr(T::ENQUEUED_AT, Expr::value(next_at))
}

/// Done for this round (in `status`: done or failed for good): nothing
/// more is due.
pub fn finished<T: Queued>(update: UpdateMany<T>, status: T::Status) -> UpdateMany<T> {
    update.col_expr(T::STATUS, Expr::value(status)).col_expr(
        T::NEXT_ATTEMPT_AT,
        Expr::value(Option::<DateTime<Utc>>::None),
    )
}

/// Record a failed attempt in the table's error columns.
pub fn failure<T: Failures>(
    update: UpdateMany<T>,
    err: &FetchError,
    now: DateTime<Utc>,
) -> UpdateMany<T> {
    update
        .col_expr(T::FAILURE_COUNT, Expr::col(T::FAILURE_COUNT).add(1))
        .col_expr(T::ERROR_MESSAGE, Expr::value(err.message.clone()))
        .col_expr(T::ERROR_CLASS, Expr::value(err.class.as_str()))
        .col_expr(T::ERROR_DETAIL, Expr::value(err.detail.clone()))
        .col_expr(T::ERROR_AT, Expr::value(now))
        .col_expr(T::UPDATED_AT, Expr::value(now))
}

/// An operator's fresh round: waiting with no attempts, due now.
/// `enqueued_at`: now when the caller queues it, `None` to leave it to the
/// reconciler. Error fields stay as history.
pub fn reset<T: Queued>(
    update: UpdateMany<T>,
    enqueued_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> UpdateMany<T> {
    update
        .col_expr(T::STATUS, Expr::value(T::WAITING))
        .col_expr(T::ATTEMPTS, Expr::value(0))
        .col_expr(
            T::NEXT_ATTEMPT_AT,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(T::ENQUEUED_AT, Expr::value(enqueued_at))
        .col_expr(T::UPDATED_AT, Expr::value(now))
}

/// Due, and not queued since `stale` (never, or its message is lost).
fn waiting_unqueued<T: Queued>(now: DateTime<Utc>, stale: DateTime<Utc>) -> Condition {
    due::<T>(now).add(
        Condition::any()
            .add(T::ENQUEUED_AT.is_null())
            .add(T::ENQUEUED_AT.lt(stale)),
    )
}

/// Rows that should be in the queue but may not be: due and not queued in
/// the last `requeue_after`, or leased by a worker whose lease ran out.
/// Oldest first.
pub async fn due_for_enqueue<T: Leased>(
    db: &impl ConnectionTrait,
    requeue_after: Duration,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    let now = Utc::now();
    let stale = now - chrono_dur(requeue_after);
    // Lease ran out: queue it once, and again if that message too is long
    // gone (a flushed or restarted Redis): the claim fences duplicates.
    let orphaned = lease_expired::<T>(now).add(
        Condition::any()
            .add(T::ENQUEUED_AT.is_null())
            .add(Expr::col(T::ENQUEUED_AT).lt(Expr::col(T::LEASE_UNTIL)))
            .add(T::ENQUEUED_AT.lt(stale)),
    );
    let cond = Condition::any()
        .add(waiting_unqueued::<T>(now, stale))
        .add(orphaned);
    ids_where::<T>(db, cond, limit).await
}

/// At-most-once rows that should be in the queue but may not be: due and
/// not queued in the last `requeue_after`. Rows in their working status are
/// never listed. Oldest first.
pub async fn waiting_for_enqueue<T: Queued>(
    db: &impl ConnectionTrait,
    requeue_after: Duration,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    let now = Utc::now();
    let cond = waiting_unqueued::<T>(now, now - chrono_dur(requeue_after));
    ids_where::<T>(db, cond, limit).await
}

async fn ids_where<T: Queued>(
    db: &impl ConnectionTrait,
    cond: Condition,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    T::find()
        .select_only()
        .column(T::ID)
        .filter(cond)
        .order_by_asc(T::ID)
        .limit(limit)
        .into_tuple::<i64>()
        .all(db)
        .await
}

/// Note that messages for these rows were just queued.
pub async fn mark_enqueued<T: Queued>(db: &impl ConnectionTrait, ids: &[i64]) -> Result<(), DbErr> {
    let now = Utc::now();
    for chunk in ids.chunks(500) {
        T::update_many()
            .col_expr(T::ENQUEUED_AT, Expr::value(now))
            .filter(T::ID.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Rows per status (health, metrics).
pub async fn status_counts<T: Queued>(
    db: &impl ConnectionTrait,
) -> Result<Vec<(T::Status, i64)>, DbErr> {
    T::find()
        .select_only()
        .column(T::STATUS)
        .column_as(T::ID.count(), "n")
        .group_by(T::STATUS)
        .into_tuple::<(T::Status, i64)>()
        .all(db)
        .await
}
