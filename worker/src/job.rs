//! Job kinds: the trait each kind implements, the one list of them, and the
//! apalis entry point they share.
//!
//! Adding a job kind: its payload (a `core::queue::Payload` with a queue of
//! its own in `vaultstream_queue`), an `impl Job` (for work on a leased row,
//! `run` is [`crate::executor::run`] over an `impl LeasedJob`: its claim,
//! its work function, how a result or a failure is stored), and one line
//! in [`each_kind`]. The worker then runs a pool for it and the reconciler
//! a pass over its table.

use std::time::Duration;

use apalis::prelude::{BoxDynError, Data, TaskId};
use sea_orm::DbErr;
use std::sync::Arc;
use tracing::{Instrument, Span, warn};
use vaultstream_core::Settings;
use vaultstream_core::db::work::{self, Queued};
use vaultstream_core::queue::{MediaJob, ParseJob, Payload, PublishJob, RefreshJob};

use crate::ctx::WorkerCtx;
use crate::outcome::Outcome;
use vaultstream_queue::{ApalisQueue, Transport};

/// A kind of job, as the worker runs it.
#[async_trait::async_trait]
pub trait Job: Payload {
    /// The table whose rows say whether this work is due.
    type Table: Queued;

    /// What the reconciler's log calls the rows it queued ("items").
    const ROWS: &'static str;

    /// The tracing span of one message: `job.id`, `job.kind`, the ids of
    /// what it works on (and `platform`, `content.id`, recorded once known).
    fn span(&self, task_id: &str) -> Span;

    /// The queue its messages wait in.
    fn transport(queue: &ApalisQueue) -> &Transport<Self>;

    /// How many run at once in this process.
    fn concurrency(settings: &Settings) -> usize;

    /// Handle one message. Errors are our own (database) failures only:
    /// upstream failures end in an [`Outcome`].
    async fn run(&self, ctx: &WorkerCtx) -> anyhow::Result<Outcome>;

    /// For the reconciler: rows due whose message may be lost (at most
    /// `limit`). Empty when this process does not run the kind's work.
    async fn due(ctx: &WorkerCtx, requeue_after: Duration, limit: u64) -> anyhow::Result<Vec<i64>>;

    /// Note that messages for these rows were just queued.
    async fn mark_enqueued(ctx: &WorkerCtx, ids: &[i64]) -> Result<(), DbErr> {
        work::mark_enqueued::<Self::Table>(&ctx.db, ids).await
    }
}

/// Something done for each job kind: start its pool, reconcile its table.
pub trait PerKind {
    fn kind<J: Job>(&mut self);
}

/// Every job kind, one line each, in the order pools start and the
/// reconciler passes run.
pub fn each_kind(v: &mut impl PerKind) {
    v.kind::<ParseJob>();
    v.kind::<MediaJob>();
    v.kind::<PublishJob>();
    v.kind::<RefreshJob>();
}

/// The apalis entry point of every kind.
pub async fn handle<J: Job>(
    job: J,
    ctx: Data<Arc<WorkerCtx>>,
    task_id: TaskId,
) -> Result<(), BoxDynError> {
    let span = job.span(&task_id.to_string());
    let run = async {
        job.run(&ctx).await.map(|_| ()).map_err(|e| {
            // Inside the span: the line carries the job's ids.
            warn!(
                error = ?e,
                "{} job hit an internal error; the queue will redeliver it",
                J::KIND
            );
            BoxDynError::from(e.to_string())
        })
    };
    run.instrument(span).await
}
