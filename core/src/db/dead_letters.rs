//! Dead letters: jobs that failed for good, kept with their payload, attempts
//! and error until an operator retries them (`open` → `retried`; retried
//! rows stay as history). A parse job's letter names its item; a media
//! job's also names its file (`media_id`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait, UpdateMany,
};

use super::entities::dead_letter;
use crate::parsed::FetchError;
use crate::queue::JobKind;
use crate::status::DeadLetterState;

/// A dead letter to record beside the row that failed for good.
pub(crate) struct NewDeadLetter<'a> {
    pub content_id: i64,
    /// The media file, for media jobs.
    pub media_id: Option<i64>,
    pub job_kind: JobKind,
    pub platform: &'a str,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub err: &'a FetchError,
}

/// Fail a row for good (`update`, which names the worker's lease) and
/// record its dead letter, in one transaction. False: the update matched
/// nothing (the lease was lost): nothing was written.
pub(crate) async fn fail_with_letter<T: EntityTrait>(
    db: &DatabaseConnection,
    update: UpdateMany<T>,
    letter: NewDeadLetter<'_>,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let txn = db.begin().await?;
    if update.exec(&txn).await?.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    insert(&txn, letter, now).await?;
    txn.commit().await?;
    Ok(true)
}

/// Record a dead letter inside the caller's transaction.
pub(crate) async fn insert_in<C: ConnectionTrait>(
    db: &C,
    letter: NewDeadLetter<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    insert(db, letter, now).await
}

async fn insert<C: ConnectionTrait>(
    db: &C,
    letter: NewDeadLetter<'_>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    dead_letter::Entity::insert(dead_letter::ActiveModel {
        id: NotSet,
        content_id: Set(letter.content_id),
        job_kind: Set(letter.job_kind),
        platform: Set(letter.platform.to_owned()),
        payload: Set(letter.payload),
        attempts: Set(letter.attempts),
        error_type: Set(letter.err.class.as_str().to_owned()),
        error_message: Set(letter.err.message.clone()),
        error_detail: Set(letter.err.detail.clone()),
        state: Set(DeadLetterState::Open),
        created_at: Set(now),
        retried_at: Set(None),
        media_id: Set(letter.media_id),
    })
    .exec(db)
    .await?;
    Ok(())
}

fn mark_retried(now: DateTime<Utc>) -> sea_orm::UpdateMany<dead_letter::Entity> {
    dead_letter::Entity::update_many()
        .col_expr(
            dead_letter::Column::State,
            Expr::value(DeadLetterState::Retried),
        )
        .col_expr(dead_letter::Column::RetriedAt, Expr::value(now))
        .filter(dead_letter::Column::State.eq(DeadLetterState::Open))
}

/// Close the open *parse* letters of these items (not their media or
/// refresh letters).
pub(crate) async fn close_for_items<C: ConnectionTrait>(
    db: &C,
    content_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    mark_retried(now)
        .filter(dead_letter::Column::ContentId.is_in(content_ids.iter().copied()))
        .filter(dead_letter::Column::JobKind.ne(JobKind::Media))
        .filter(dead_letter::Column::JobKind.ne(JobKind::Refresh))
        .exec(db)
        .await?;
    Ok(())
}

/// Close the open refresh letters of these items.
pub(crate) async fn close_refreshes<C: ConnectionTrait>(
    db: &C,
    content_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    mark_retried(now)
        .filter(dead_letter::Column::ContentId.is_in(content_ids.iter().copied()))
        .filter(dead_letter::Column::JobKind.eq(JobKind::Refresh))
        .exec(db)
        .await?;
    Ok(())
}

/// Close the open letters of these media files.
pub(crate) async fn close_for_media<C: ConnectionTrait>(
    db: &C,
    media_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    for chunk in media_ids.chunks(500) {
        mark_retried(now)
            .filter(dead_letter::Column::MediaId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Filters of the dead-letter list and bulk retry.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter {
    pub platform: Option<String>,
    pub error_type: Option<String>,
    /// `None`: both states.
    pub state: Option<DeadLetterState>,
    pub before_id: Option<i64>,
    pub limit: u64,
}

impl DeadLetterFilter {
    /// The letters it selects (platform, error type, state, keyset).
    pub(crate) fn select(&self) -> Select<dead_letter::Entity> {
        let mut q = dead_letter::Entity::find();
        if let Some(p) = &self.platform {
            q = q.filter(dead_letter::Column::Platform.eq(p.as_str()));
        }
        if let Some(t) = &self.error_type {
            q = q.filter(dead_letter::Column::ErrorType.eq(t.as_str()));
        }
        if let Some(s) = self.state {
            q = q.filter(dead_letter::Column::State.eq(s));
        }
        if let Some(b) = self.before_id {
            q = q.filter(dead_letter::Column::Id.lt(b));
        }
        q
    }
}

/// Newest first.
pub async fn list_dead_letters(
    db: &DatabaseConnection,
    f: &DeadLetterFilter,
) -> Result<Vec<dead_letter::Model>, DbErr> {
    f.select()
        .order_by_desc(dead_letter::Column::Id)
        .limit(f.limit)
        .all(db)
        .await
}

/// Open dead letters (metrics).
pub async fn open_count(db: &DatabaseConnection) -> Result<u64, DbErr> {
    dead_letter::Entity::find()
        .filter(dead_letter::Column::State.eq(DeadLetterState::Open))
        .count(db)
        .await
}
