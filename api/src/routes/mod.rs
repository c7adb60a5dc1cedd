//! One file per route group.

pub mod blobs;
pub mod contents;
pub mod health;
pub mod operator;
pub mod push;
pub mod shares;
