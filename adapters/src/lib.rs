//! VaultStream adapters: everything that talks to, or knows the shape of,
//! the platforms we archive from.
//!
//! Layout:
//! - [`links`]: from a pasted share text to the identity of one piece of
//!   content — link extraction, per-platform URL recognition, generic URL
//!   normalisation and short-link resolution ([`links::Linker`]).
//! - [`fetch`]: from an identity to a normalised parsed item — one adapter
//!   per platform behind [`fetch::Fetcher`].
//! - [`intake`]: one submission from any channel → stored item + parse
//!   job, with the same checks and error codes everywhere.
//! - [`http`]: everything outbound HTTP — upstream overrides (platform hosts
//!   pointed at a local server for tests and staging), the one HTTP client
//!   (hand-followed redirects, body cap, status → error class), the SSRF
//!   guard (host literal, then every resolved address), the guard proxy
//!   yt-dlp goes through, and [`fetch::FetchConfig`], the configuration of
//!   all of it.
//! - [`media`]: downloading the media files an item refers to (images into
//!   memory, videos streamed to disk and hashed, or through yt-dlp).
//! - [`logins`]: platform logins — the vault's cookies as requests carry
//!   them (refreshed from `Set-Cookie`), health checks, Bilibili's QR
//!   login, and the retry of what failed for lack of a login.
//! - [`ytdlp`]: the one yt-dlp driver (guard proxy, time limit, stderr
//!   tail, error classification) for the YouTube adapter and media.

pub mod fetch;
pub mod http;
pub mod intake;
pub mod links;
pub mod logins;
pub mod media;
pub mod ytdlp;
