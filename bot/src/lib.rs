//! The Telegram bot people talk to. Sending, formatting and the channel
//! publisher are in `vaultstream-telegram`, which the workers use too.
//!
//! - [`commands`]: long polling, `/save`, `/get`, `/status`, `/retry`,
//!   `/targets`, `/search`.
//! - [`search`]: `/search <query>`, the top hits with their links.

pub mod commands;
pub mod search;
