//! An operator's retry (`POST /contents/{id}/retry`, dead-letter retries,
//! `/retry` in the bot, `vaultstream dlq retry`): what failed, or went
//! stale, starts a fresh round of attempts. Failure fields and dead letters
//! stay as history; the letters are closed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::dead_letters::{self, DeadLetterFilter};
use super::entities::{content, dead_letter};
use super::work::chrono_dur;
use super::{items, media};
use crate::queue::{JobKind, JobQueue, MediaJob, ParseJob, Payload, RefreshJob};
use crate::status::{DeadLetterState, Status};

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
    /// Items to refresh again (refresh dead letters).
    pub refreshes: Vec<i64>,
}

impl Requeued {
    /// Queue the jobs now. A push that fails is logged: the rows are due
    /// and marked enqueued, so the reconciler queues them later.
    pub async fn enqueue(&self, queue: &dyn JobQueue) {
        for &content_id in &self.items {
            if let Err(e) = ParseJob::for_row(content_id).enqueue(queue, None).await {
                tracing::warn!(content.id = content_id, error = %e, "could not queue the retry; the reconciler will");
            }
        }
        for &media_id in &self.media {
            if let Err(e) = MediaJob::for_row(media_id).enqueue(queue, None).await {
                tracing::warn!(media.id = media_id, error = %e, "could not queue the media retry; the reconciler will");
            }
        }
        for &content_id in &self.refreshes {
            if let Err(e) = RefreshJob::for_row(content_id).enqueue(queue, None).await {
                tracing::warn!(content.id = content_id, error = %e, "could not queue the refresh retry; the reconciler will");
            }
        }
    }
}

/// A failed item, or a stale one (expired lease, or waiting but not queued
/// for a while), starts a fresh round of attempts; a pulled item with
/// failed (or stale) media files gets those files retried.
pub async fn retry_content(
    db: &DatabaseConnection,
    id: i64,
    requeue_after: Duration,
) -> Result<Result<Requeued, RetryRefusal>, DbErr> {
    let now = Utc::now();
    let txn = super::begin_write(db).await?;
    let Some(item) = content::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(Err(RetryRefusal::NotFound));
    };
    let stale_wait = item
        .enqueued_at
        .is_none_or(|t| t < now - chrono_dur(requeue_after));
    let retryable = match item.status {
        Status::Failed => true,
        Status::Processing => item.lease_until.is_none_or(|l| l < now),
        Status::Unprocessed => stale_wait || item.next_attempt_at.is_some(),
        Status::Pulled => false,
    };
    if item.status == Status::Pulled {
        let media = media::reset_for_retry(&txn, Some(id), None, requeue_after).await?;
        if media.is_empty() {
            txn.rollback().await?;
            return Ok(Err(RetryRefusal::NotRetryable(item.status)));
        }
        dead_letters::close_for_media(&txn, &media, now).await?;
        txn.commit().await?;
        return Ok(Ok(Requeued {
            media,
            ..Default::default()
        }));
    }
    if !retryable {
        txn.rollback().await?;
        return Ok(Err(RetryRefusal::NotRetryable(item.status)));
    }
    items::reset(&txn, &[id], now).await?;
    dead_letters::close_for_items(&txn, &[id], now).await?;
    txn.commit().await?;
    Ok(Ok(Requeued {
        items: vec![id],
        ..Default::default()
    }))
}

/// Retry one dead letter: its item (or, for a media job, its media file)
/// starts a fresh round. Returns the item id and what to queue, or `None`
/// when there is no open dead letter with that id.
pub async fn retry_dead_letter(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<(i64, Requeued)>, DbErr> {
    let now = Utc::now();
    let txn = super::begin_write(db).await?;
    let open = DeadLetterFilter {
        state: Some(DeadLetterState::Open),
        ..Default::default()
    };
    let Some(dl) = open
        .select()
        .filter(dead_letter::Column::Id.eq(id))
        .one(&txn)
        .await?
    else {
        txn.rollback().await?;
        return Ok(None);
    };
    let requeued = retry_letters(&txn, &[dl], now).await?;
    txn.commit().await?;
    Ok(Some(requeued))
}

/// Retry every open dead letter matching the filter (at most `limit`),
/// oldest first. Returns the jobs to queue.
pub async fn retry_dead_letters(
    db: &DatabaseConnection,
    f: &DeadLetterFilter,
) -> Result<Requeued, DbErr> {
    let now = Utc::now();
    let open = DeadLetterFilter {
        state: Some(DeadLetterState::Open),
        before_id: None,
        ..f.clone()
    };
    let txn = super::begin_write(db).await?;
    let letters = open
        .select()
        .order_by_asc(dead_letter::Column::Id)
        .limit(open.limit)
        .all(&txn)
        .await?;
    let (_, requeued) = retry_letters(&txn, &letters, now).await?;
    txn.commit().await?;
    Ok(requeued)
}

/// Reset what these open dead letters name; close them. Returns the first
/// item id and the jobs to queue.
async fn retry_letters<C: ConnectionTrait>(
    db: &C,
    letters: &[dead_letter::Model],
    now: DateTime<Utc>,
) -> Result<(i64, Requeued), DbErr> {
    let mut items: Vec<i64> = letters
        .iter()
        .filter(|d| d.media_id.is_none() && d.job_kind != JobKind::Refresh)
        .map(|d| d.content_id)
        .collect();
    let mut refreshes: Vec<i64> = letters
        .iter()
        .filter(|d| d.job_kind == JobKind::Refresh)
        .map(|d| d.content_id)
        .collect();
    refreshes.sort_unstable();
    refreshes.dedup();
    for chunk in refreshes.chunks(500) {
        super::refresh::reset(db, chunk, now).await?;
        dead_letters::close_refreshes(db, chunk, now).await?;
    }
    items.sort_unstable();
    items.dedup();
    let mut media_ids: Vec<i64> = letters.iter().filter_map(|d| d.media_id).collect();
    media_ids.sort_unstable();
    media_ids.dedup();
    for chunk in items.chunks(500) {
        items::reset(db, chunk, now).await?;
        dead_letters::close_for_items(db, chunk, now).await?;
    }
    let mut media = Vec::new();
    for chunk in media_ids.chunks(500) {
        // Failed rows match whatever the staleness window.
        let reset =
            media::reset_for_retry(db, None, Some(chunk), Duration::from_secs(3600)).await?;
        media.extend(reset);
    }
    // Close them even when the row moved on (e.g. archived by a duplicate).
    dead_letters::close_for_media(db, &media_ids, now).await?;
    let first = letters.first().map_or(0, |d| d.content_id);
    Ok((
        first,
        Requeued {
            items,
            media,
            refreshes,
        },
    ))
}
