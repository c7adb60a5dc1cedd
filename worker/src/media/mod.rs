//! The media step: archive an item's images and videos.
//!
//! - `sniff`: what a downloaded file really is, from its magic bytes (pure;
//!   images and videos);
//! - [`image`]: the image step — decode within limits, orient, and keep or
//!   re-encode as WebP (pure, CPU-bound);
//! - `gif`: animated GIF → animated WebP, for `image`;
//! - `encode`: writing WebP (settings, 8-bit pixels, the 16383-pixel limit),
//!   for `image`, through `vaultstream-webp` (libwebp 1.6);
//! - [`stages`]: where an image's time goes (decode, transform, encode), for
//!   the benchmark;
//! - [`archive`]: one file — reuse, download, transcode, store
//!   content-addressed; staging files;
//! - [`job`]: the media job kind — claim, archive, record, retry or
//!   dead-letter (through the leased-job executor).

pub mod archive;
mod encode;
mod gif;
pub mod image;
pub mod job;
mod sniff;
pub mod stages;
