//! Pushing pulled items to Telegram chats and webhooks: the targets (with
//! platform/tag filters, [`targets`]; what makes a webhook, [`webhooks`]) and one pushed record per target and item, sent at
//! most once ([`records`]), and the notices sent when a pushed item's
//! original is deleted upstream ([`notices`]). Both are re-exported here: callers say
//! `db::push::create_target`, `db::push::schedule`.

pub mod notices;
pub mod records;
pub mod targets;
pub mod webhooks;

pub use notices::*;
pub use records::*;
pub use targets::*;
pub use webhooks::{NewWebhook, webhook_key};
