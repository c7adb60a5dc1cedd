//! The safety net: items the database says are due but the queue may not
//! hold — a lost enqueue (crash between commit and push), a flushed or
//! restarted Redis, a worker killed mid-job whose lease ran out — are
//! queued again. Duplicates are harmless: the claim fences them.
//!
//! It also keeps the Redis backlog bounded (apalis-redis 1.0 dies fetching
//! ~20k due jobs at once): it tops the queue up only to its high-water mark
//! (`VAULTSTREAM_QUEUE_HIGH_WATER`), at most [`BATCH`] per pass.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};
use vaultstream_core::db::{jobs, media, push};
use vaultstream_core::queue::{JobKind, MediaJob, ParseJob, PublishJob};

use crate::parse::WorkerCtx;

pub const BATCH: u64 = 1_000;

/// One pass over items and media files; returns how many jobs were queued.
pub async fn pass(ctx: &WorkerCtx, requeue_after: Duration) -> anyhow::Result<usize> {
    let items = items_pass(ctx, requeue_after).await?;
    let files = if ctx.media.archive {
        media_pass(ctx, requeue_after).await?
    } else {
        0
    };
    let pushes = publish_pass(ctx, requeue_after).await?;
    Ok(items + files + pushes)
}

async fn publish_pass(ctx: &WorkerCtx, requeue_after: Duration) -> anyhow::Result<usize> {
    if ctx.publisher.is_none() {
        return Ok(0);
    }
    let room = room(ctx, JobKind::Publish).await?;
    if room == 0 {
        return Ok(0);
    }
    // Items whose scheduling was lost (a crash after their last media file
    // settled): create their records now; they are due below.
    for content_id in push::unscheduled(&ctx.db, requeue_after, room).await? {
        let created = push::schedule_lost(&ctx.db, content_id).await?;
        info!(
            content.id = content_id,
            records = created.len(),
            "reconciler scheduled the pushes of an item whose scheduling was lost"
        );
        // Left unqueued: the due scan just below queues them.
    }
    let ids = push::due_pending(&ctx.db, requeue_after, room).await?;
    let mut queued = Vec::with_capacity(ids.len());
    for record_id in ids {
        match ctx
            .queue
            .enqueue_publish(PublishJob { record_id }, None)
            .await
        {
            Ok(()) => queued.push(record_id),
            Err(e) => {
                warn!(error = %e, "reconciler could not queue a push; will try next pass");
                break;
            }
        }
    }
    push::mark_enqueued(&ctx.db, &queued).await?;
    if !queued.is_empty() {
        info!(
            count = queued.len(),
            "reconciler queued pushes that were due"
        );
    }
    Ok(queued.len())
}

async fn room(ctx: &WorkerCtx, kind: JobKind) -> anyhow::Result<u64> {
    let mut room = BATCH;
    if let (Some(high), Some(depth)) = (ctx.queue.high_water(), ctx.queue.depth_of(kind).await?) {
        room = room.min(high.saturating_sub(depth));
    }
    Ok(room)
}

async fn media_pass(ctx: &WorkerCtx, requeue_after: Duration) -> anyhow::Result<usize> {
    let room = room(ctx, JobKind::Media).await?;
    if room == 0 {
        return Ok(0);
    }
    let ids = media::due_for_enqueue(&ctx.db, requeue_after, room).await?;
    let mut queued = Vec::with_capacity(ids.len());
    for id in ids {
        let job = MediaJob {
            media_id: id,
            request_id: None,
        };
        match ctx.queue.enqueue_media(job, None).await {
            Ok(()) => queued.push(id),
            Err(e) => {
                warn!(error = %e, "reconciler could not queue media; will try next pass");
                break;
            }
        }
    }
    media::mark_enqueued(&ctx.db, &queued).await?;
    if !queued.is_empty() {
        info!(
            count = queued.len(),
            "reconciler queued media files that were due"
        );
    }
    Ok(queued.len())
}

async fn items_pass(ctx: &WorkerCtx, requeue_after: Duration) -> anyhow::Result<usize> {
    let room = room(ctx, JobKind::Parse).await?;
    if room == 0 {
        return Ok(0);
    }
    let ids = jobs::due_for_enqueue(&ctx.db, requeue_after, room).await?;
    let mut queued = Vec::with_capacity(ids.len());
    for id in ids {
        let job = ParseJob {
            content_id: id,
            request_id: None,
        };
        match ctx.queue.enqueue_parse(job, None).await {
            Ok(()) => queued.push(id),
            Err(e) => {
                warn!(error = %e, "reconciler could not queue; will try next pass");
                break;
            }
        }
    }
    jobs::mark_enqueued(&ctx.db, &queued).await?;
    if !queued.is_empty() {
        info!(
            count = queued.len(),
            "reconciler queued items that were due"
        );
    }
    Ok(queued.len())
}

/// Finished queue entries are kept this long (for apalis's own tooling),
/// then pruned: the database row holds the outcome.
pub const KEEP_FINISHED: Duration = Duration::from_secs(3600);

/// Run passes every `interval` until `stop` flips to true.
pub async fn run(
    ctx: Arc<WorkerCtx>,
    interval: Duration,
    requeue_after: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut last_prune = std::time::Instant::now();
    loop {
        if let Err(e) = pass(&ctx, requeue_after).await {
            warn!(error = %e, "reconciler pass failed");
        }
        if last_prune.elapsed() >= Duration::from_secs(60) {
            last_prune = std::time::Instant::now();
            match ctx.queue.prune(KEEP_FINISHED).await {
                Ok(0) => {}
                Ok(n) => info!(count = n, "pruned finished queue entries"),
                Err(e) => warn!(error = %e, "could not prune the queue"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
