//! One file per route group.

pub mod contents;
pub mod health;
pub mod shares;
