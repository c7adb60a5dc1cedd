//! The Telegram side of VaultStream.
//!
//! - [`telegram`]: the client that sends text, photos, albums and videos,
//!   with errors classified by delivery outcome.
//! - [`commands`]: the bot people talk to (long polling, `/save`, `/get`,
//!   `/status`, `/retry`, `/targets`, `/search`).
//! - [`search`]: `/search <query>`, the top hits with their links.
//! - [`format`]: an item as Telegram HTML within the caption and message
//!   limits.
//! - [`publish`]: the channel publisher — one pushed record, sent at most
//!   once.

pub mod commands;
pub mod format;
pub mod publish;
pub mod refresh;
pub mod search;
pub mod telegram;
