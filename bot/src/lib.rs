//! The Telegram bot people talk to. Sending, formatting and the channel
//! publisher are in `vaultstream-telegram`, which the workers use too.
//!
//! - [`commands`]: long polling, `/save`, `/get`, `/status`, `/retry`,
//!   `/targets`, `/search`, `/refresh`.
//! - [`logins`]: `/login`, an operator's view of platform logins, checks
//!   and the QR login.
//! - [`refresh`]: `/refresh <id>`, an operator's refetch of an item.
//! - [`search`]: `/search <query>`, the top hits with their links.

pub mod commands;
pub mod logins;
pub mod refresh;
pub mod search;
