//! Pushing pulled items to Telegram: the targets (chats with platform/tag
//! filters, [`targets`]) and one pushed record per target and item, sent at
//! most once ([`records`]), and the notices sent when a pushed item's
//! original is deleted upstream ([`notices`]). Both are re-exported here: callers say
//! `db::push::create_target`, `db::push::schedule`.

pub mod notices;
pub mod records;
pub mod targets;

pub use notices::*;
pub use records::*;
pub use targets::*;
