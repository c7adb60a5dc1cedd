//! The shared client: cookies, redirects, body cap, transport errors.

use std::io::Write;
use std::sync::{Arc, Mutex};

use vaultstream_adapters::fetch::{FetchConfig, Fetcher};
use vaultstream_core::parsed::ErrorClass;
use vaultstream_core::settings::Secret;
use vaultstream_core::{ContentKind, Platform};

use crate::fetch_err;
use crate::support::{Replay, ReplayExt, Reply, fixture, request};

const SECRET: &str = "SESSDATA=top-secret-cookie-value";

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn cookies_reach_the_platform_host_only_and_never_the_logs() {
    // A process-wide subscriber: a thread-local one (`set_default`) races
    // with tracing's global callsite-interest cache while other tests of
    // this binary run in parallel, and can miss the events.
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    let captured = CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || writer.clone())
                .finish();
            let _ = tracing::subscriber::set_global_default(subscriber);
            captured
        })
        .clone();

    let server = Replay::start(&["api.bilibili.com", "elsewhere.example"]).await;
    server
        .route(
            "api.bilibili.com/x/web-interface/view",
            Reply::json(fixture("bilibili/view_BV117411r7R1.json")),
        )
        // The play URL redirects to another host: the cookie must not follow.
        .route(
            "api.bilibili.com/x/player/playurl",
            Reply::redirect("https://elsewhere.example/p"),
        )
        .route(
            "elsewhere.example/p",
            Reply::json(fixture("bilibili/playurl_BV1y7411Q7Eq_cid171776208.json")),
        );
    let mut cfg = server.config();
    cfg.cookies
        .insert(Platform::Bilibili, Secret::new(SECRET.to_owned()));
    let fetcher = Fetcher::new(cfg);
    let req = request(Platform::Bilibili, "BV117411r7R1", ContentKind::Video);
    let item = fetcher.fetch(&req).await.expect("fetches");
    assert_eq!(item.media.len(), 2);

    let hits = server.hits();
    let cookie_of = |prefix: &str| {
        hits.iter()
            .find(|h| h.target.starts_with(prefix))
            .map(|h| h.headers.get("cookie").cloned())
    };
    assert_eq!(
        cookie_of("api.bilibili.com/x/web-interface"),
        Some(Some(SECRET.to_owned()))
    );
    assert_eq!(
        cookie_of("api.bilibili.com/x/player"),
        Some(Some(SECRET.to_owned()))
    );
    assert_eq!(cookie_of("elsewhere.example"), Some(None));

    let logs = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
    assert!(
        logs.contains("upstream response"),
        "debug logs were captured: {logs}"
    );
    assert!(
        !logs.contains("top-secret"),
        "cookie leaked into logs: {logs}"
    );
    assert!(!format!("{fetcher:?}").contains("top-secret"));
}

#[tokio::test]
async fn body_cap_redirect_limit_and_connect_errors() {
    let server = Replay::start(&["api.bilibili.com"]).await;
    server.route(
        "api.bilibili.com/x/web-interface/view",
        Reply::json("x".repeat(5_000)),
    );
    let small = Fetcher::new(FetchConfig {
        max_body_bytes: 1_000,
        ..server.config()
    });
    let req = request(Platform::Bilibili, "BV117411r7R1", ContentKind::Video);
    let err = small.fetch(&req).await.expect_err("too large");
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("too large"), "{err:?}");

    let server = Replay::start(&["api.bilibili.com"]).await;
    server.route(
        "api.bilibili.com/x/web-interface/view",
        Reply::redirect("/x/web-interface/view?bvid=again"),
    );
    let err = fetch_err(&server, &req).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("more than 5 redirects"), "{err:?}");
    assert_eq!(
        server.hits().len(),
        6,
        "the first request and five redirects"
    );

    // Nothing listens on port 9 of loopback: a connect error is retryable.
    let cfg = FetchConfig {
        overrides: vaultstream_adapters::http::UpstreamOverrides::parse(
            "api.bilibili.com=http://127.0.0.1:9",
        )
        .expect("overrides"),
        ..FetchConfig::default()
    };
    let err = Fetcher::new(cfg).fetch(&req).await.expect_err("refused");
    assert_eq!(err.class, ErrorClass::Retryable, "{err:?}");
}

#[tokio::test]
async fn failures_keep_their_source_for_the_logs() {
    // A refused connection: reqwest's error is the source, and the report
    // says the message, then each cause once.
    let cfg = FetchConfig {
        overrides: vaultstream_adapters::http::UpstreamOverrides::parse(
            "api.bilibili.com=http://127.0.0.1:9",
        )
        .expect("overrides"),
        ..FetchConfig::default()
    };
    let req = request(Platform::Bilibili, "BV117411r7R1", ContentKind::Video);
    let err = Fetcher::new(cfg).fetch(&req).await.expect_err("refused");
    let source = std::error::Error::source(&err).expect("the transport error is kept");
    assert!(source.is::<reqwest::Error>(), "{source:?}");
    let report = err.report().to_string();
    assert!(report.starts_with(&err.message), "{report}");
    assert_eq!(report.matches("os error").count(), 1, "{report}");
    assert!(report.contains(&format!(": {source}")), "{report}");

    // A body that is not JSON: serde's error is the source.
    let server = Replay::start(&["api.bilibili.com"]).await;
    server.route(
        "api.bilibili.com/x/web-interface/view",
        Reply::json("{not json"),
    );
    let err = fetch_err(&server, &req).await;
    assert!(err.message.contains("is not JSON"), "{err:?}");
    let source = std::error::Error::source(&err).expect("the JSON error is kept");
    assert!(source.is::<serde_json::Error>(), "{source:?}");
    // The message already quotes serde's text: the report does not repeat it.
    assert_eq!(err.report().to_string(), err.message);
}

#[tokio::test]
async fn slow_upstreams_time_out_as_retryable() {
    let server = Replay::start(&["api.bilibili.com"]).await;
    server.route(
        "api.bilibili.com/x/web-interface/view",
        Reply::json("{}").delayed(std::time::Duration::from_secs(5)),
    );
    let fetcher = Fetcher::new(FetchConfig {
        request_timeout: std::time::Duration::from_millis(300),
        ..server.config()
    });
    let req = request(Platform::Bilibili, "BV117411r7R1", ContentKind::Video);
    let started = std::time::Instant::now();
    let err = fetcher.fetch(&req).await.expect_err("times out");
    assert_eq!(err.class, ErrorClass::Retryable, "{err:?}");
    assert!(err.message.contains("did not answer in time"), "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn settings_feed_the_fetcher() {
    // The operator's spelling of everything the adapters read.
    let server = Replay::start(&["api.bilibili.com"]).await;
    server.route(
        "api.bilibili.com/x/web-interface/view",
        Reply::json(fixture("bilibili/view_error_-404.json")),
    );
    let overrides = format!("api.bilibili.com={}/h/api.bilibili.com", server.base);
    let settings = vaultstream_core::Settings::load(
        &vaultstream_core::settings::SettingsSources::new().with_env([
            ("VAULTSTREAM_UPSTREAM_OVERRIDES", overrides.as_str()),
            ("VAULTSTREAM_COOKIES_BILIBILI", "SESSDATA=from-settings"),
            ("VAULTSTREAM_USER_AGENT", "VaultStreamTest/1.0"),
        ]),
    )
    .expect("settings");
    let fetcher = Fetcher::from_settings(&settings);
    let req = request(Platform::Bilibili, "BV117411r7R1", ContentKind::Video);
    let err = fetcher.fetch(&req).await.expect_err("-404");
    assert_eq!(err.class, ErrorClass::Permanent);
    let hit = &server.hits()[0];
    assert_eq!(
        hit.headers.get("cookie").map(String::as_str),
        Some("SESSDATA=from-settings")
    );
    assert_eq!(
        hit.headers.get("user-agent").map(String::as_str),
        Some("VaultStreamTest/1.0")
    );
}
