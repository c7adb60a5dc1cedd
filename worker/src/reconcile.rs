//! The safety net: rows the database says are due but the queue may not
//! hold — a lost enqueue (crash between commit and push), a flushed or
//! restarted Redis, a worker killed mid-job whose lease ran out — are
//! queued again, one pass per job kind ([`crate::job::each_kind`]).
//! Duplicates are harmless: the claim fences them.
//!
//! It also keeps the Redis backlog bounded (apalis-redis 1.0 dies fetching
//! ~20k due jobs at once): it tops each queue up only to its high-water
//! mark (`VAULTSTREAM_QUEUE_HIGH_WATER`), at most [`BATCH`] per pass.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};
use vaultstream_core::queue::JobKind;

use crate::ctx::WorkerCtx;
use crate::job::{Job, PerKind, each_kind};

pub const BATCH: u64 = 1_000;

type Pass<'a> = Pin<Box<dyn Future<Output = anyhow::Result<usize>> + Send + 'a>>;

/// One pass over every kind's table; returns how many jobs were queued.
pub async fn pass(ctx: &WorkerCtx, requeue_after: Duration) -> anyhow::Result<usize> {
    struct Passes<'a> {
        ctx: &'a WorkerCtx,
        requeue_after: Duration,
        passes: Vec<Pass<'a>>,
    }
    impl<'a> PerKind for Passes<'a> {
        fn kind<J: Job>(&mut self) {
            self.passes
                .push(Box::pin(pass_of::<J>(self.ctx, self.requeue_after)));
        }
    }
    let mut all = Passes {
        ctx,
        requeue_after,
        passes: Vec::new(),
    };
    each_kind(&mut all);
    let mut queued = 0;
    for pass in all.passes {
        queued += pass.await?;
    }
    Ok(queued)
}

/// Queue the due rows of one kind, up to the room its queue has.
async fn pass_of<J: Job>(ctx: &WorkerCtx, requeue_after: Duration) -> anyhow::Result<usize> {
    let room = room(ctx, J::KIND).await?;
    if room == 0 {
        return Ok(0);
    }
    let ids = J::due(ctx, requeue_after, room).await?;
    let mut queued = Vec::with_capacity(ids.len());
    for id in ids {
        match J::for_row(id).enqueue(ctx.queue.as_ref(), None).await {
            Ok(()) => queued.push(id),
            Err(e) => {
                warn!(error = %e, kind = %J::KIND, "reconciler could not queue; will try next pass");
                break;
            }
        }
    }
    J::mark_enqueued(ctx, &queued).await?;
    if !queued.is_empty() {
        info!(
            count = queued.len(),
            "reconciler queued {} that were due",
            J::ROWS
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
