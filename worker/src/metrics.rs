//! Job metrics: how each job ended, as `vaultstream_core::metrics` labels.
//!
//! The counters live in this process's registry: they show on `/metrics`
//! only when the API runs in the same process (the `all` role).

use std::time::Instant;

use vaultstream_bot::publish::PublishOutcome;
use vaultstream_core::metrics;
use vaultstream_core::parsed::ErrorClass;
use vaultstream_core::queue::JobKind;

use crate::media::job::MediaOutcome;
use crate::parse::Outcome;

/// Platform label where the job ended before its row was read.
pub const UNKNOWN_PLATFORM: &str = "unknown";

/// The `outcome` label of a job's result.
pub trait OutcomeLabel {
    fn label(&self) -> &'static str;
}

impl OutcomeLabel for Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Stale => "stale",
            Outcome::Rescheduled => "rescheduled",
            Outcome::Pulled => "done",
            Outcome::Retrying { .. } => "retried",
            Outcome::DeadLettered => "dead",
            Outcome::LeaseLost => "lease_lost",
        }
    }
}

impl OutcomeLabel for MediaOutcome {
    fn label(&self) -> &'static str {
        match self {
            MediaOutcome::Stale => "stale",
            MediaOutcome::Rescheduled => "rescheduled",
            MediaOutcome::Archived { .. } => "done",
            MediaOutcome::Retrying { .. } => "retried",
            MediaOutcome::DeadLettered => "dead",
            MediaOutcome::LeaseLost => "lease_lost",
        }
    }
}

impl OutcomeLabel for PublishOutcome {
    fn label(&self) -> &'static str {
        match self {
            PublishOutcome::Stale => "stale",
            PublishOutcome::Sent { .. } => "done",
            PublishOutcome::Retry { .. } => "retried",
            PublishOutcome::Failed => "dead",
            PublishOutcome::Unknown => "unknown",
        }
    }
}

/// The label of a job's result; `error` when our own database failed.
pub fn label_of<O: OutcomeLabel>(res: &anyhow::Result<O>) -> &'static str {
    res.as_ref().map_or("error", OutcomeLabel::label)
}

/// A job that claimed nothing (stale, or rescheduled because early).
pub fn unclaimed<O: OutcomeLabel>(kind: JobKind, outcome: O) -> O {
    metrics::observe_job(kind, UNKNOWN_PLATFORM, outcome.label(), None);
    outcome
}

/// A claimed job ended (`started`: when it was claimed).
pub fn finished<O: OutcomeLabel>(
    kind: JobKind,
    platform: &str,
    started: Instant,
    res: &anyhow::Result<O>,
) {
    metrics::observe_job(kind, platform, label_of(res), Some(started.elapsed()));
}

/// A parse or media attempt failed (retried or dead-lettered).
pub fn failure(kind: JobKind, platform: &str, class: ErrorClass) {
    metrics::job_failure(kind, platform, class.as_str());
}

/// A publish job ended: the job counter and, when a send was attempted,
/// the push counter.
pub fn published(started: Instant, res: &anyhow::Result<PublishOutcome>) {
    let claimed = !matches!(res, Ok(PublishOutcome::Stale));
    let elapsed = claimed.then(|| started.elapsed());
    metrics::observe_job(JobKind::Publish, UNKNOWN_PLATFORM, label_of(res), elapsed);
    let push = match res {
        Ok(PublishOutcome::Sent { .. }) => "sent",
        Ok(PublishOutcome::Retry { .. }) => "retry",
        Ok(PublishOutcome::Failed) => "failed",
        Ok(PublishOutcome::Unknown) => "unknown",
        Ok(PublishOutcome::Stale) | Err(_) => return,
    };
    metrics::push_outcome(push);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn publish_outcomes_count_jobs_and_pushes() {
        let started = Instant::now();
        published(
            started,
            &Ok(PublishOutcome::Sent {
                message_ids: vec![1],
            }),
        );
        published(
            started,
            &Ok(PublishOutcome::Retry {
                after: Duration::from_secs(1),
            }),
        );
        published(started, &Ok(PublishOutcome::Stale));
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
        assert_eq!(
            label_of::<Outcome>(&Err(anyhow::anyhow!("db down"))),
            "error"
        );
    }
}
