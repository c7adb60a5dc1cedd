//! VaultStream workers: turn accepted items into archived ones.
//!
//! Layout (jobs sit on top; nothing below points back up into a job file):
//! - [`ctx`]: what every job can reach (`WorkerCtx`, the media settings,
//!   the `ItemFetcher` the platform adapters implement).
//! - [`outcome`]: how one message ended, for every kind, and its metrics.
//! - [`job`]: the `Job` trait every kind implements, the one list of kinds,
//!   the apalis entry point.
//! - [`executor`]: leased jobs, written once: permit → claim / early / stale
//!   → heartbeat → work → complete / retry / dead-letter → metrics →
//!   after-hook.
//! - [`parse`], [`media`], [`publish`]: the job kinds — fetch and store an
//!   item; archive one media file; push one item to one Telegram chat.
//! - [`refresh`]: the refresh job — fetch a pulled item again, compare,
//!   record a version / stats point / upstream state (below new items: its
//!   own smaller pool, fed only while the parse backlog is short).
//! - [`pushes`]: an item's pushes, scheduled once it has settled (after a
//!   parse or a media job).
//! - [`backoff`]: when the next attempt runs. [`limits`]: per-upstream
//!   concurrency.
//! - [`logins`]: the login task — scheduled login checks and the notices
//!   they queue, sent to the bot's operators.
//! - [`reconcile`]: the safety net that re-queues what the queue lost, one
//!   pass per kind.
//! - [`run`]: the worker process: a pool per kind, the reconciler, graceful
//!   shutdown.
//!
//! The database row is the source of truth; queue messages only say "look
//! at row N". A duplicate or stale message finds nothing to claim.

pub mod backoff;
pub mod ctx;
pub mod executor;
pub mod job;
pub mod limits;
pub mod logins;
pub mod media;
pub mod outcome;
pub mod parse;
pub mod publish;
pub mod pushes;
pub mod reconcile;
pub mod refresh;
pub mod run;

pub use ctx::{ItemFetcher, WorkerCtx};
pub use run::run_workers;
