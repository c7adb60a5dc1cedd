//! The media step: archive an item's images and videos.
//!
//! - [`image`]: sniffing and WebP transcoding (pure, CPU-bound);
//! - [`job`]: the media job — download, transcode, store content-addressed,
//!   record, retry or dead-letter.

pub mod image;
pub mod job;

pub use job::{MediaCtx, MediaOutcome, handle_media, process_media};
