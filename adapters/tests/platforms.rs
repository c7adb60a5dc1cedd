//! Platform adapters against a local replay server.
//!
//! Every upstream host is overridden onto one axum server on 127.0.0.1:0
//! (see `support`), which serves the recorded fixtures from
//! `tests/fixtures/` (provenance in `tests/fixtures/PROVENANCE.md`). One
//! test binary; one file per platform.

mod support;

#[path = "platforms_bilibili.rs"]
mod bilibili;
#[path = "platforms_client.rs"]
mod client;
#[path = "platforms_douyin.rs"]
mod douyin;
#[path = "platforms_twitter.rs"]
mod twitter;
#[path = "platforms_twitter_thread.rs"]
mod twitter_thread;
#[path = "platforms_web.rs"]
mod web;
#[path = "platforms_web_charset.rs"]
mod web_charset;
#[path = "platforms_weibo.rs"]
mod weibo;
#[path = "platforms_weibo_whole.rs"]
mod weibo_whole;
#[path = "platforms_xiaohongshu.rs"]
mod xiaohongshu;
#[path = "platforms_youtube.rs"]
mod youtube;
#[path = "platforms_zhihu.rs"]
mod zhihu;

use std::time::Duration;

use support::{Replay, ReplayExt, Reply};
use vaultstream_adapters::fetch::FetchRequest;
use vaultstream_core::parsed::{ErrorClass, FetchError};

/// The HTTP failure matrix every adapter must classify the same way:
/// 5xx → Retryable, 429 + Retry-After → RateLimited with the delay,
/// 404 → Permanent, 403 → `forbidden`, a 200 that is not JSON/HTML we can
/// read → Permanent "malformed" (never a panic).
pub async fn assert_error_matrix(
    hosts: &[&str],
    prefix: &str,
    req: &FetchRequest,
    forbidden: ErrorClass,
    malformed_body: Reply,
) {
    assert_error_matrix_with(hosts, &[], prefix, req, forbidden, malformed_body).await;
}

/// [`assert_error_matrix`] with routes every case also serves (what the
/// adapter asks before the failing endpoint, e.g. Weibo's visitor passport).
pub async fn assert_error_matrix_with(
    hosts: &[&str],
    routes: &[(&str, Reply)],
    prefix: &str,
    req: &FetchRequest,
    forbidden: ErrorClass,
    malformed_body: Reply,
) {
    let cases: Vec<(&str, Reply, ErrorClass)> = vec![
        ("503", Reply::status(503, "{}"), ErrorClass::Retryable),
        (
            "429",
            Reply::status(429, "{}").header("retry-after", "7"),
            ErrorClass::RateLimited,
        ),
        ("404", Reply::status(404, "{}"), ErrorClass::Permanent),
        ("403", Reply::status(403, "{}"), forbidden),
        ("malformed", malformed_body, ErrorClass::Permanent),
    ];
    for (name, reply, class) in cases {
        let server = Replay::start(hosts).await;
        for (p, r) in routes {
            server.route(p, r.clone());
        }
        server.route(prefix, reply);
        let err = server
            .fetcher()
            .fetch(req)
            .await
            .expect_err(&format!("{name} must fail"));
        assert_eq!(err.class, class, "{name}: {err:?}");
        if name == "429" {
            assert_eq!(err.retry_after, Some(Duration::from_secs(7)), "{err:?}");
        }
        if name == "malformed" {
            assert!(err.message.contains("malformed"), "{name}: {err:?}");
        }
    }
}

pub async fn fetch_err(server: &Replay, req: &FetchRequest) -> FetchError {
    server.fetcher().fetch(req).await.expect_err("must fail")
}
