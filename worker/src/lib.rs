//! VaultStream workers: turn accepted items into archived ones.
//!
//! Layout:
//! - [`queue`]: the apalis transport — Redis when `VAULTSTREAM_REDIS_URL`
//!   is set, otherwise the embedded SQL queue (SQLite file in the data dir,
//!   or PostgreSQL when that is the database). Implements `core::queue::JobQueue`.
//! - [`parse`]: the parse job: claim the item's lease, fetch it through the
//!   platform adapter, store it, or schedule a retry / dead-letter it.
//! - [`backoff`]: when the next attempt runs.
//! - [`reconcile`]: the safety net that re-queues items the queue lost.
//! - [`run`]: the worker process: pool, reconciler, graceful shutdown.
//!
//! The database row is the source of truth; queue messages only say "look
//! at item N". A duplicate or stale message finds nothing to claim.

pub mod backoff;
pub mod limits;
pub mod media;
pub mod metrics;
pub mod parse;
pub mod publish;
pub mod queue;
pub mod reconcile;
pub mod run;

pub use parse::{ItemFetcher, WorkerCtx};
pub use queue::ApalisQueue;
pub use run::run_workers;
