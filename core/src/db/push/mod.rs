//! Pushing pulled items to Telegram: the targets (chats with platform/tag
//! filters, [`targets`]) and one pushed record per target and item, sent at
//! most once ([`records`]). Both are re-exported here: callers say
//! `db::push::create_target`, `db::push::schedule`.

pub mod records;
pub mod targets;

pub use records::*;
pub use targets::*;
