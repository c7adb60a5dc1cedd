//! `GET /metrics`: HTTP counters by route template, gauges from the database.
//!
//! The registry is global to the process, so this file holds one test that
//! runs the backends one after the other (SQLite, then PostgreSQL) and
//! expects the counters to add up across them.

mod support;

use serde_json::json;
use support::{Backend, TestApp};

/// The value of the sample line `series` (name and labels, exactly).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

async fn scrape(app: &TestApp) -> String {
    let resp = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    resp.text().await.expect("body")
}

/// Some traffic: a new share, the item, a 404, a bad request.
async fn traffic(app: &TestApp) -> i64 {
    let (status, body) = app
        .share(json!({"url": "https://www.bilibili.com/video/BV1GJ411x7h7"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["content_id"].as_i64().expect("content_id");
    let (status, _) = app.get(&format!("/api/v1/contents/{id}")).await;
    assert_eq!(status, 200);
    let (status, _) = app.get("/api/v1/no-such-route/42").await;
    assert_eq!(status, 404);
    let resp = app
        .client
        .post(app.url("/api/v1/shares"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    id
}

async fn check(backend: Backend, round: f64) {
    let app = TestApp::spawn(backend).await;
    let id = traffic(&app).await;
    let text = scrape(&app).await;

    for (series, want) in [
        (
            r#"vaultstream_http_requests_total{method="POST",route="/api/v1/shares",status="201"}"#,
            round,
        ),
        (
            r#"vaultstream_http_requests_total{method="POST",route="/api/v1/shares",status="400"}"#,
            round,
        ),
        (
            r#"vaultstream_http_requests_total{method="GET",route="/api/v1/contents/{id}",status="200"}"#,
            round,
        ),
        (
            r#"vaultstream_http_requests_total{method="GET",route="unmatched",status="404"}"#,
            round,
        ),
        (
            r#"vaultstream_http_request_duration_seconds_count{method="POST",route="/api/v1/shares"}"#,
            2.0 * round,
        ),
        // Gauges: this test's database only.
        (r#"vaultstream_items{status="unprocessed"}"#, 1.0),
        ("vaultstream_dead_letters_open", 0.0),
        ("vaultstream_blobs", 0.0),
        ("vaultstream_blob_bytes", 0.0),
        ("vaultstream_metrics_refresh_ok", 1.0),
    ] {
        assert_eq!(sample(&text, series), Some(want), "{series} in:\n{text}");
    }
    // Raw paths never become labels.
    assert!(
        !text.contains(&format!("/api/v1/contents/{id}\"")),
        "{text}"
    );
    assert!(!text.contains("no-such-route"), "{text}");
    // The item waits for its first parse (no worker runs here).
    let oldest = sample(&text, "vaultstream_oldest_waiting_seconds").expect("oldest waiting");
    assert!((0.0..60.0).contains(&oldest), "{oldest}");
    // The embedded SQL queues cannot count cheaply: no depth samples.
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("vaultstream_queue_depth{")),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"));

    // The scrape itself is counted, under its own route.
    let again = scrape(&app).await;
    assert_eq!(
        sample(
            &again,
            r#"vaultstream_http_requests_total{method="GET",route="/metrics",status="200"}"#
        ),
        Some(2.0 * round - 1.0),
        "{again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_route_templates_and_items() {
    check(Backend::Sqlite, 1.0).await;
    check(Backend::Postgres, 2.0).await;
}
