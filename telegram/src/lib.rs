//! Telegram below the bot: what the workers and the bot both need to send
//! an archived item to a chat. Depends only on core.
//!
//! - [`client`]: the Bot API client that sends text, photos, albums and
//!   videos, with errors classified by delivery outcome.
//! - [`format`]: an item as Telegram HTML within the caption and message
//!   limits.
//! - [`publish`]: the channel publisher — one pushed record, sent at most
//!   once, paced per chat and globally. Build one per process and share it.

pub mod client;
pub mod format;
pub mod publish;

pub use client::{ChatTarget, SendError, Telegram, Upload};
pub use publish::{PublishOutcome, Publisher};
