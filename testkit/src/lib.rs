//! Test support shared by the workspace's integration tests.
//!
//! Layout:
//! - [`pg`]: a fresh PostgreSQL database per test, dropped when it ends.
//! - [`upgrade`]: migration tests: a fresh database of each backend, brought
//!   to the schema before a migration and rolled back to it.
//! - [`upstream`]: a scripted stand-in for an upstream platform API
//!   (FxTwitter + the syndication endpoint) that serves the recorded
//!   responses and injects failures on demand, counting every request.
//! - [`replay`]: a replay server for recorded upstream responses, routes by
//!   logical host and path, records every request.
//! - [`env`]: settings for a test deployment (data dir, database, queue
//!   namespace) as `(key, value)` pairs for `SettingsSources` or a child
//!   process's environment.
//! - [`telegram`]: a fake Telegram Bot API (long polling, sends, uploads,
//!   injected 429s and errors) that records everything the bot sent.
//! - [`bilibili`]: a fake of Bilibili's login surface (`nav`, `view`'s
//!   login wall and session refresh, the web QR login with real timing),
//!   from the community API docs.
//! - [`chaos`]: a fault-injecting TCP proxy (5xx, hangs, resets, 429s) in
//!   front of an upstream, seeded, logging every request it saw.
//! - [`proc`]: the `vaultstream` binary run with a deployment's settings
//!   (killed when dropped, peak memory) and items stored as the API would.
//! - [`tcp`]: a TCP forwarder in front of a service that a test can cut
//!   and restore (a Redis outage, as its clients see it).
//! - [`s3`]: a real S3 server (Garage) on loopback for the test process and
//!   a fresh bucket per test.
//! - [`webhook`]: a webhook receiver that answers by a script (statuses,
//!   429 + `Retry-After`, redirects, late answers, dropped connections) and
//!   records every request.
//! - [`wait`]: waiting for something that happens elsewhere, with a bound
//!   (`wait::until`), instead of a deadline loop in every test.
//!
//! Nothing here mocks our own storage: tests run on real SQLite files,
//! PostgreSQL databases and Redis keys.

pub mod bilibili;
pub mod chaos;
pub mod env;
pub mod pg;
pub mod proc;
pub mod replay;
pub mod s3;
pub mod tcp;
pub mod telegram;
pub mod upgrade;
pub mod upstream;
pub mod wait;
pub mod webhook;
