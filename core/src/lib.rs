//! VaultStream core: the domain, its settings and its storage.
//!
//! Layout:
//! - [`platform`]: platforms, content kinds and the identity of an item.
//! - [`content`]: submission channels, API views, tag rules (and the item
//!   `Status`, re-exported from `status`).
//! - [`status`]: statuses of items, media files and pushed records,
//!   dead-letter states: the words stored as text, as enums.
//! - [`error`]: the stable error codes of the API contract; per-media error
//!   codes.
//! - [`parsed`]: what platform adapters produce, and their error classes.
//! - [`settings`]: layered settings (defaults < file < env < flags).
//! - [`blob`]: blob keys and the blob stores (local disk, S3).
//! - [`db`]: connecting, migrating and querying (SQLite or PostgreSQL);
//!   `db::work` is the queued-work bookkeeping every job table shares.
//! - [`export`]: the open export layout (a directory or a tar stream) and
//!   restoring an item from it.
//! - [`queue`]: job payloads and the queue interface the worker implements.
//! - [`metrics`]: the process-global Prometheus registry and its helpers.
//! - [`failpoint`]: crash points that only tests switch on.
//!
//! No HTTP framework and no Telegram here: `api`, `worker` and `bot` build on
//! this crate, never the other way round.

pub mod blob;
pub mod content;
pub mod db;
pub mod error;
pub mod export;
pub mod failpoint;
pub mod metrics;
pub mod parsed;
pub mod platform;
pub mod queue;
pub mod settings;
pub mod status;

pub use error::{ErrorCode, UserError};
pub use platform::{ContentKind, Identity, Platform};
pub use settings::Settings;
