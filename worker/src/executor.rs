//! The one executor of leased jobs (parse, media), written once.
//!
//! For one message:
//! 1. permit: at most `VAULTSTREAM_UPSTREAM_CONCURRENCY` jobs per upstream
//!    in this process; over it, the message is queued again a second later
//!    rather than hold a slot (`rescheduled`);
//! 2. claim the row's lease (`db::work::claim`); nothing to claim → a
//!    message that came before the row's retry time is queued again for
//!    then (`rescheduled`), any other is stale or a duplicate (`stale`);
//! 3. the kind's work, while a heartbeat keeps the lease alive;
//! 4. success → the kind stores its result; a retryable failure with
//!    attempts left → due again after a backoff, with a *delayed* message
//!    (no worker slot sleeps); otherwise → failed for good and
//!    dead-lettered. A write that finds the lease gone drops the result
//!    (`lease_lost`);
//! 5. metrics, then the kind's after-hook (e.g. scheduling pushes).
//!
//! Errors returned are our own (database) failures only; the queue
//! redelivers the message.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use tracing::{Instrument, info, warn};
use vaultstream_core::db::work::{self, Failures, Lease, Leased};
use vaultstream_core::error::MediaErrorCode;
use vaultstream_core::parsed::FetchError;

use crate::backoff;
use crate::ctx::WorkerCtx;
use crate::job::Job;
use crate::outcome::{self, Outcome};

/// A failed attempt: the adapter-style error (its class decides retry or
/// dead letter) and, for media files, the stable per-media code.
#[derive(Debug)]
pub struct Failure {
    pub err: FetchError,
    pub code: Option<MediaErrorCode>,
}

impl From<FetchError> for Failure {
    fn from(err: FetchError) -> Self {
        Failure { err, code: None }
    }
}

/// A job kind whose row is leased while it works: what is particular to the
/// kind. Everything else is [`run`].
#[async_trait::async_trait]
pub trait LeasedJob: Job<Table: Leased + Failures> {
    /// What a claimed attempt holds: the lease and the rows it needs.
    type Claim: Send + Sync;
    /// What the work produces, to be stored.
    type Done: Send;

    /// Permits of its upstream this kind leaves free for other work
    /// (refreshes leave one for new items).
    const LEAVE_FREE: usize = 0;

    /// The key of the upstream this job talks to (see `crate::limits`),
    /// read before claiming; `None` when the row is gone.
    async fn upstream(&self, ctx: &WorkerCtx) -> Result<Option<String>, DbErr>;

    /// Take the row's lease; `None` when it is not due.
    async fn claim(&self, ctx: &WorkerCtx) -> Result<Option<Self::Claim>, DbErr>;

    fn lease(claim: &Self::Claim) -> &Lease;

    /// The item the work belongs to, and its platform (span fields, metric
    /// labels).
    fn content_id(claim: &Self::Claim) -> i64;
    fn platform(claim: &Self::Claim) -> &str;

    /// The work itself, under the lease.
    async fn work(&self, ctx: &WorkerCtx, claim: &Self::Claim) -> Result<Self::Done, Failure>;

    /// Store the result. False: the lease was lost, nothing was stored.
    async fn complete(
        &self,
        ctx: &WorkerCtx,
        claim: &Self::Claim,
        done: Self::Done,
        duration_ms: u64,
    ) -> anyhow::Result<bool>;

    /// Record a retryable failure; the row is due again at `next_at`.
    async fn fail_retry(
        &self,
        ctx: &WorkerCtx,
        claim: &Self::Claim,
        failure: &Failure,
        next_at: DateTime<Utc>,
    ) -> Result<bool, DbErr>;

    /// Fail the row for good and dead-letter the job (`payload`).
    async fn fail_dead(
        &self,
        ctx: &WorkerCtx,
        claim: &Self::Claim,
        failure: &Failure,
        payload: serde_json::Value,
    ) -> Result<bool, DbErr>;

    /// After the attempt ended and was counted.
    async fn after(&self, _ctx: &WorkerCtx, _claim: &Self::Claim, _outcome: &Outcome) {}
}

/// Handle one message of a leased job kind.
pub async fn run<J: LeasedJob>(job: &J, ctx: &WorkerCtx) -> anyhow::Result<Outcome> {
    let _permit = match job.upstream(ctx).await? {
        Some(key) => match ctx.limits.try_acquire_leaving(&key, J::LEAVE_FREE) {
            Some(p) => Some(p),
            None => {
                tracing::debug!(upstream = %key, "upstream busy; trying again shortly");
                job.clone()
                    .enqueue(ctx.queue.as_ref(), Some(Duration::from_secs(1)))
                    .await?;
                return Ok(outcome::unclaimed(J::KIND, Outcome::Rescheduled));
            }
        },
        None => None,
    };
    let Some(claim) = job.claim(ctx).await? else {
        let outcome = early_or_stale(job, ctx).await?;
        return Ok(outcome::unclaimed(J::KIND, outcome));
    };
    let span = tracing::Span::current();
    span.record("content.id", J::content_id(&claim));
    span.record("platform", J::platform(&claim));
    let claimed_at = Instant::now();
    let res = attempt(job, ctx, &claim).await;
    outcome::finished(J::KIND, J::platform(&claim), claimed_at, &res);
    if let Ok(outcome) = &res {
        job.after(ctx, &claim, outcome).await;
    }
    res
}

/// Nothing to claim. A message for a row that waits for a retry not yet
/// due (delivered early) is queued again for the rest of the wait rather
/// than dropped; any other is stale or a duplicate.
async fn early_or_stale<J: LeasedJob>(job: &J, ctx: &WorkerCtx) -> anyhow::Result<Outcome> {
    if let Some(wait) = work::early_by::<J::Table>(&ctx.db, job.row_id()).await? {
        job.clone().enqueue(ctx.queue.as_ref(), Some(wait)).await?;
        tracing::debug!(
            wait_ms = wait.as_millis() as u64,
            "message arrived early; rescheduled"
        );
        return Ok(Outcome::Rescheduled);
    }
    tracing::debug!("nothing to claim: stale or duplicate message");
    Ok(Outcome::Stale)
}

/// The claimed attempt: work, then store, retry or dead-letter.
async fn attempt<J: LeasedJob>(
    job: &J,
    ctx: &WorkerCtx,
    claim: &J::Claim,
) -> anyhow::Result<Outcome> {
    let lease = J::lease(claim);
    let kind = J::KIND;
    info!(attempt = lease.attempt, "{kind} started");
    let started = Instant::now();
    let heartbeat = Heartbeat::spawn::<J::Table>(ctx.db.clone(), lease.clone(), ctx.lease);
    let result = job.work(ctx, claim).await;
    drop(heartbeat);
    let duration_ms = started.elapsed().as_millis() as u64;

    let f = match result {
        Ok(done) => {
            if !job.complete(ctx, claim, done, duration_ms).await? {
                warn!("lease lost before the result was stored; dropping it");
                return Ok(Outcome::LeaseLost);
            }
            return Ok(Outcome::Done);
        }
        Err(f) => f,
    };
    outcome::failure(kind, J::platform(claim), f.err.class);
    let retry = f.err.class.is_retryable() && (lease.attempt as u32) < ctx.max_attempts;
    let delay = retry.then(|| backoff::delay(ctx.backoff_base_ms, lease.attempt as u32, &f.err));
    let stored = match delay {
        Some(delay) => {
            let next_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            job.fail_retry(ctx, claim, &f, next_at).await?
        }
        None => {
            let payload = serde_json::to_value(job)?;
            job.fail_dead(ctx, claim, &f, payload).await?
        }
    };
    if !stored {
        return Ok(Outcome::LeaseLost);
    }
    warn!(
        duration_ms,
        error.class = %f.err.class,
        error.code = f.code.map(MediaErrorCode::as_str),
        error = %f.err.message,
        attempt = lease.attempt,
        retry_in_ms = delay.map(|d| d.as_millis() as u64),
        "{kind} failed{}",
        if retry { "; retrying later" } else { " for good: dead-lettered" }
    );
    let Some(delay) = delay else {
        return Ok(Outcome::DeadLettered);
    };
    // A delayed message: no worker slot waits. If the push fails, the
    // reconciler finds the row once it is due.
    if let Err(e) = job.clone().enqueue(ctx.queue.as_ref(), Some(delay)).await {
        warn!(error = %e, "could not queue the {kind} retry; the reconciler will");
    }
    Ok(Outcome::Retrying { delay })
}

/// A lease heartbeat task, stopped when this is dropped: also when the job
/// is cancelled mid-way (its apalis worker stopped), so a lease nobody
/// works on runs out and the reconciler hands the row to another attempt.
/// (A bare `JoinHandle` would detach the task and renew the lease forever.)
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    fn spawn<T: Leased>(db: DatabaseConnection, lease: Lease, duration: Duration) -> Self {
        let beat = async move {
            loop {
                tokio::time::sleep(duration / 3).await;
                match work::heartbeat::<T>(&db, &lease, duration).await {
                    Ok(true) => {}
                    Ok(false) => {
                        warn!("lease lost while working");
                        return;
                    }
                    Err(e) => warn!(error = %e, "lease heartbeat failed"),
                }
            }
        };
        Self(tokio::spawn(beat.in_current_span()))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}
