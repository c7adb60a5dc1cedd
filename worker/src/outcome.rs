//! How one job message ended, for every kind, and the job metrics it is
//! counted under (`vaultstream_jobs_total{kind,platform,outcome}`,
//! `vaultstream_job_duration_seconds`, `vaultstream_job_failures_total`).
//!
//! The counters live in this process's registry: they show on `/metrics`
//! only when the API runs in the same process (the `all` role).

use std::time::{Duration, Instant};

use vaultstream_core::metrics;
use vaultstream_core::parsed::ErrorClass;
use vaultstream_core::queue::JobKind;

/// Platform label where the job ended before its row was read, and for
/// publish jobs (the record's item is not read).
pub const UNKNOWN_PLATFORM: &str = "unknown";

/// How one message ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to do: leased elsewhere, finished, or gone.
    Stale,
    /// Not run now: queued again for later (it came before its row's retry
    /// time, or its upstream was busy).
    Rescheduled,
    /// Done: item pulled, file archived, message sent.
    Done,
    /// Failed; due again after `delay`.
    Retrying { delay: Duration },
    /// Failed for good: dead-lettered (a push: `failed`).
    DeadLettered,
    /// Another worker took the lease over while we worked; our result was
    /// dropped.
    LeaseLost,
    /// May or may not have happened (a Telegram send whose answer was
    /// lost): left for an operator.
    Unknown,
}

impl Outcome {
    /// The `outcome` label.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Stale => "stale",
            Outcome::Rescheduled => "rescheduled",
            Outcome::Done => "done",
            Outcome::Retrying { .. } => "retried",
            Outcome::DeadLettered => "dead",
            Outcome::LeaseLost => "lease_lost",
            Outcome::Unknown => "unknown",
        }
    }
}

/// The label of a job's result; `error` when our own database failed (the
/// queue redelivers the message).
pub fn label_of(res: &anyhow::Result<Outcome>) -> &'static str {
    res.as_ref().map_or("error", Outcome::label)
}

/// A job that claimed nothing (stale, or rescheduled): counted without a
/// duration.
pub fn unclaimed(kind: JobKind, outcome: Outcome) -> Outcome {
    metrics::observe_job(kind, UNKNOWN_PLATFORM, outcome.label(), None);
    outcome
}

/// A claimed job ended (`started`: when it was claimed).
pub fn finished(kind: JobKind, platform: &str, started: Instant, res: &anyhow::Result<Outcome>) {
    metrics::observe_job(kind, platform, label_of(res), Some(started.elapsed()));
}

/// An attempt failed (retried or dead-lettered alike).
pub fn failure(kind: JobKind, platform: &str, class: ErrorClass) {
    metrics::job_failure(kind, platform, class.as_str());
}
