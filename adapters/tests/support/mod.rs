//! Test support for the adapter tests: the workspace's replay server
//! (`vaultstream_testkit::replay`) plus what only these tests need — a
//! `FetchConfig`/`Fetcher` pointed at it, and a bare `FetchRequest`.

#![allow(dead_code)]

use vaultstream_adapters::fetch::{FetchConfig, FetchRequest, Fetcher};
use vaultstream_adapters::http::UpstreamOverrides;
use vaultstream_core::{ContentKind, Identity, Platform};
pub use vaultstream_testkit::replay::{Replay, Reply, fixture};

/// The adapters' view of a replay server.
pub trait ReplayExt {
    fn config(&self) -> FetchConfig;
    fn fetcher(&self) -> Fetcher;
}

impl ReplayExt for Replay {
    fn config(&self) -> FetchConfig {
        FetchConfig {
            overrides: UpstreamOverrides::parse(&self.overrides()).expect("valid overrides"),
            request_timeout: std::time::Duration::from_secs(5),
            ..FetchConfig::default()
        }
    }

    fn fetcher(&self) -> Fetcher {
        Fetcher::new(self.config())
    }
}

pub fn request(platform: Platform, id: &str, kind: ContentKind) -> FetchRequest {
    FetchRequest {
        identity: Identity {
            platform,
            platform_id: id.to_owned(),
            canonical_url: format!("https://example.invalid/{id}"),
            kind,
        },
        source_url: None,
    }
}
