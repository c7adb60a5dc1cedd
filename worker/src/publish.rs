//! The publish job: push one pulled item to one target (one pushed record,
//! created by [`crate::pushes::schedule`]). For a Telegram chat the job is
//! `vaultstream_telegram::publish::Publisher::publish`; for a webhook,
//! `vaultstream_webhooks::Webhooks::deliver`: claim, send, complete — so it
//! has no lease and does not go through the leased-job executor.
//! Publishing runs on its own queue and pool: a Telegram or receiver
//! outage never holds up parsing or media.

use std::time::{Duration, Instant};

use tracing::{Span, warn};
use vaultstream_core::Settings;
use vaultstream_core::db::entities::pushed_record;
use vaultstream_core::db::push;
use vaultstream_core::metrics;
use vaultstream_core::queue::{JobKind, Payload, PublishJob};
use vaultstream_core::status::TargetKind;
use vaultstream_telegram::publish::PublishOutcome;
use vaultstream_webhooks::Delivery;

use crate::ctx::WorkerCtx;
use crate::job::Job;
use crate::outcome::{self, Outcome, UNKNOWN_PLATFORM};
use vaultstream_queue::{ApalisQueue, Transport};

#[async_trait::async_trait]
impl Job for PublishJob {
    type Table = pushed_record::Entity;
    const ROWS: &'static str = "pushes";

    fn span(&self, task_id: &str) -> Span {
        tracing::info_span!(
            "job",
            job.id = task_id,
            job.kind = "publish",
            record.id = self.record_id,
        )
    }

    fn transport(queue: &ApalisQueue) -> &Transport<Self> {
        &queue.publish
    }

    /// A small pool: sends are paced per chat anyway.
    fn concurrency(_: &Settings) -> usize {
        4
    }

    async fn run(&self, ctx: &WorkerCtx) -> anyhow::Result<Outcome> {
        if push::record_target_kind(&ctx.db, self.record_id).await? == Some(TargetKind::Webhook) {
            let started = Instant::now();
            let res = ctx.webhooks.deliver(self.record_id).await.map(|d| match d {
                Delivery::Stale => PublishOutcome::Stale,
                Delivery::Sent { .. } => PublishOutcome::Sent {
                    message_ids: Vec::new(),
                },
                Delivery::Retry { after } => PublishOutcome::Retry { after },
                Delivery::Failed => PublishOutcome::Failed,
            });
            return finish(self, ctx, started, res).await;
        }
        let Some(publisher) = &ctx.publisher else {
            // No bot token in this process: leave the record pending for a
            // worker that has one (the reconciler there queues it).
            warn!("a publish job arrived but this worker has no Telegram bot token; skipping");
            return Ok(outcome::unclaimed(JobKind::Publish, Outcome::Stale));
        };
        let started = Instant::now();
        let res = publisher.publish(self.record_id).await;
        finish(self, ctx, started, res).await
    }

    /// Items whose scheduling was lost (a crash after their last media file
    /// settled) get their records first; then records due but not queued.
    /// A process without a bot token queues only webhook records.
    async fn due(ctx: &WorkerCtx, requeue_after: Duration, limit: u64) -> anyhow::Result<Vec<i64>> {
        if ctx.publisher.is_none() {
            let due = push::due_pending(&ctx.db, requeue_after, limit).await?;
            return Ok(push::webhook_records(&ctx.db, &due).await?);
        }
        for content_id in push::unscheduled(&ctx.db, requeue_after, limit).await? {
            let created = push::schedule_lost(&ctx.db, content_id).await?;
            tracing::info!(
                content.id = content_id,
                records = created.len(),
                "reconciler scheduled the pushes of an item whose scheduling was lost"
            );
            // Left unqueued: the due scan just below lists them.
        }
        Ok(push::due_pending(&ctx.db, requeue_after, limit).await?)
    }
}

/// Count the attempt, and queue the retry it asks for.
async fn finish(
    job: &PublishJob,
    ctx: &WorkerCtx,
    started: Instant,
    res: anyhow::Result<PublishOutcome>,
) -> anyhow::Result<Outcome> {
    let outcome = published(started, res)?;
    if let Outcome::Retrying { delay } = &outcome
        && let Err(e) = job.clone().enqueue(ctx.queue.as_ref(), Some(*delay)).await
    {
        warn!(error = %e, "could not queue the publish retry; the reconciler will");
    }
    Ok(outcome)
}

/// A publish attempt ended: its outcome, counted as a job and, when a send
/// was attempted, as a push (`vaultstream_pushes_total`).
fn published(started: Instant, res: anyhow::Result<PublishOutcome>) -> anyhow::Result<Outcome> {
    let push = match &res {
        Ok(PublishOutcome::Sent { .. }) => Some("sent"),
        Ok(PublishOutcome::Retry { .. }) => Some("retry"),
        Ok(PublishOutcome::Failed) => Some("failed"),
        Ok(PublishOutcome::Unknown) => Some("unknown"),
        Ok(PublishOutcome::Stale) | Err(_) => None,
    };
    let outcome = res.map(|o| match o {
        PublishOutcome::Stale => Outcome::Stale,
        PublishOutcome::Sent { .. } => Outcome::Done,
        PublishOutcome::Retry { after } => Outcome::Retrying { delay: after },
        PublishOutcome::Failed => Outcome::DeadLettered,
        PublishOutcome::Unknown => Outcome::Unknown,
    });
    let claimed = !matches!(outcome, Ok(Outcome::Stale));
    let elapsed = claimed.then(|| started.elapsed());
    metrics::observe_job(
        JobKind::Publish,
        UNKNOWN_PLATFORM,
        outcome::label_of(&outcome),
        elapsed,
    );
    if let Some(push) = push {
        metrics::push_outcome(push);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_outcomes_count_jobs_and_pushes() {
        let started = Instant::now();
        let sent = PublishOutcome::Sent {
            message_ids: vec![1],
        };
        assert_eq!(published(started, Ok(sent)).unwrap(), Outcome::Done);
        let retry = PublishOutcome::Retry {
            after: Duration::from_secs(1),
        };
        published(started, Ok(retry)).unwrap();
        published(started, Ok(PublishOutcome::Stale)).unwrap();
        let text = metrics::encode();
        for line in [
            r#"vaultstream_jobs_total{kind="publish",platform="unknown",outcome="done"} 1"#,
            r#"vaultstream_jobs_total{kind="publish",platform="unknown",outcome="retried"} 1"#,
            r#"vaultstream_jobs_total{kind="publish",platform="unknown",outcome="stale"} 1"#,
            r#"vaultstream_pushes_total{outcome="sent"} 1"#,
            r#"vaultstream_pushes_total{outcome="retry"} 1"#,
            r#"vaultstream_job_duration_seconds_count{kind="publish",platform="unknown"} 2"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
        assert_eq!(outcome::label_of(&Err(anyhow::anyhow!("db down"))), "error");
    }
}
