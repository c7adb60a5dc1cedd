//! The publish job: push one pulled item to one Telegram target.
//!
//! Scheduling: once an item is `pulled` and none of its media files is
//! still pending, [`schedule`] creates one pushed record per matching push
//! target (UNIQUE per target and item, so a second call creates nothing)
//! and queues a `PublishJob` for each. The job itself is
//! `vaultstream_bot::publish::Publisher::publish`: claim, send, complete —
//! at most once. Publishing runs on its own queue and pool: a Telegram
//! outage never holds up parsing or media.

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data, TaskId};
use tracing::{Instrument, warn};
use vaultstream_bot::publish::PublishOutcome;
use vaultstream_core::db::{media, push};
use vaultstream_core::queue::{JobKind, PublishJob};

use crate::parse::WorkerCtx;

/// The apalis entry point.
pub async fn handle_publish(
    job: PublishJob,
    ctx: Data<Arc<WorkerCtx>>,
    task_id: TaskId,
) -> Result<(), BoxDynError> {
    let span = tracing::info_span!(
        "job",
        job.id = %task_id,
        job.kind = "publish",
        record.id = job.record_id,
    );
    process_publish(&ctx, &job)
        .instrument(span)
        .await
        .map(|_| ())
        .map_err(|e| {
            warn!(error = ?e, "publish job hit an internal error; the queue will redeliver it");
            BoxDynError::from(e.to_string())
        })
}

pub async fn process_publish(ctx: &WorkerCtx, job: &PublishJob) -> anyhow::Result<PublishOutcome> {
    let Some(publisher) = &ctx.publisher else {
        // No bot token in this process: leave the record pending for a
        // worker that has one (the reconciler there queues it).
        warn!("a publish job arrived but this worker has no Telegram bot token; skipping");
        return Ok(crate::metrics::unclaimed(
            JobKind::Publish,
            PublishOutcome::Stale,
        ));
    };
    let started = std::time::Instant::now();
    let res = publisher.publish(job.record_id).await;
    crate::metrics::published(started, &res);
    let outcome = res?;
    if let PublishOutcome::Retry { after } = &outcome
        && let Err(e) = ctx.queue.enqueue_publish(job.clone(), Some(*after)).await
    {
        warn!(error = %e, "could not queue the publish retry; the reconciler will");
    }
    Ok(outcome)
}

/// After an item's parse or one of its media jobs ended: when the item is
/// pulled and no media file is still on its way, create its pushed records
/// and queue them. Failures are logged: an item left unscheduled (this
/// failed, or the process died before it) is found by the reconciler
/// ([`push::unscheduled`]) and scheduled then.
pub async fn schedule(ctx: &WorkerCtx, content_id: i64) {
    if ctx.publisher.is_none() {
        return;
    }
    let run = async {
        let rows = media::for_content(&ctx.db, content_id).await?;
        if rows
            .iter()
            .any(|m| matches!(m.status.as_str(), "pending" | "processing"))
        {
            return Ok::<_, anyhow::Error>(());
        }
        vaultstream_core::failpoint::hit(vaultstream_core::failpoint::BEFORE_PUSH_SCHEDULE);
        let ids = push::schedule(&ctx.db, content_id).await?;
        for record_id in ids {
            if let Err(e) = ctx
                .queue
                .enqueue_publish(PublishJob { record_id }, None)
                .await
            {
                warn!(error = %e, "could not queue a publish job; the reconciler will");
                break;
            }
        }
        Ok(())
    };
    if let Err(e) = run.await {
        warn!(content.id = content_id, error = %e, "could not schedule pushes");
    }
}
