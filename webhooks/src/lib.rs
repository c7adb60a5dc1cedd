//! Webhook push targets: a pulled item (or the notice that its original
//! is gone) POSTed as JSON to an address an operator configured, with the
//! same platform/tag rules and never-twice records as Telegram chats.
//!
//! - [`sign`]: the Standard Webhooks signature (HMAC-SHA256 over
//!   `id.timestamp.body`) and its headers;
//! - [`format`]: the body for each receiver — `standard` (the item as
//!   `GET /api/v1/contents/{id}` shows it), `discord` and `slack` (their
//!   incoming webhooks' message shapes and limits);
//! - [`deliver`]: one pushed record delivered: claim → POST (behind the
//!   SSRF guard, no redirects) → `sent` with the HTTP status, or a retry
//!   with backoff (5xx, 429, timeouts), or `failed` after the attempt limit
//!   or on a refusal — visible in pushed records and re-sendable.

#![forbid(unsafe_code)]

pub mod deliver;
pub mod format;
pub mod sign;

pub use deliver::{Delivery, Webhooks};
