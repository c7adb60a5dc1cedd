//! The media step: archive an item's images and videos.
//!
//! - [`image`]: sniffing and WebP transcoding (pure, CPU-bound);
//! - [`archive`]: one file — reuse, download, transcode, store
//!   content-addressed; staging files;
//! - [`job`]: the media job kind — claim, archive, record, retry or
//!   dead-letter (through the leased-job executor).

pub mod archive;
pub mod image;
pub mod job;
