//! The batch intake and group commit end to end: `POST
//! /api/v1/shares/batch` on the real router with a real database (SQLite
//! file and PostgreSQL), and single shares from 64 concurrent clients
//! (group commit): every acknowledged share is in the database, identical
//! shares make one item.

mod support;

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use support::{Backend, TestApp};
use vaultstream_core::db::contents;

both_backends!(
    a_batch_judges_each_share_on_its_own,
    batch_limits_and_malformed_bodies,
    original_time_round_trips,
    sixty_four_clients_share_commits,
);

async fn batch(app: &TestApp, body: &Value) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url("/api/v1/shares/batch"))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn a_batch_judges_each_share_on_its_own(b: Backend) {
    let app = TestApp::spawn(b).await;
    // Known before the batch.
    let (s, before) = app
        .share(json!({"url": "https://x.com/jack/status/20"}))
        .await;
    assert_eq!(s, 201, "{before}");
    let shares = json!({"shares": [
        {"url": "https://www.bilibili.com/video/BV1GJ411x7h7", "tags": ["Music"], "note": "first"},
        {"url": "no link here"},
        {"url": "https://m.bilibili.com/video/av80433022", "tags": ["again"]},
        {"url": 5},
        {"url": "https://twitter.com/jack/status/20?s=20"},
        {"url": "https://www.bilibili.com/video/BV1xx411c7mD", "tags": ["bad\u{7}tag"]},
        {"url": "http://127.0.0.1:8080/admin"},
        {"url": "https://x.com/bench/status/1800000000000000001"},
    ]});
    let (status, body) = batch(&app, &shares).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().expect("results");
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "created", "refused", "known", "refused", "known", "refused", "refused", "created"
        ],
        "{body}"
    );
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i, "{r}");
    }
    assert_eq!(results[1]["error"]["code"], "no_link_found");
    assert_eq!(results[3]["error"]["code"], "invalid_body");
    assert!(
        results[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shares[3]")
    );
    assert_eq!(results[5]["error"]["code"], "invalid_tag");
    assert_eq!(results[6]["error"]["code"], "forbidden_target");
    assert_eq!(
        (&body["created"], &body["known"], &body["refused"]),
        (&json!(2), &json!(2), &json!(4))
    );
    // The same item twice in one batch: created once, the second a source.
    let video = results[0]["receipt"]["content_id"].as_i64().unwrap();
    assert_eq!(results[2]["receipt"]["content_id"], video);
    assert_eq!(results[2]["receipt"]["created"], false);
    assert_eq!(
        results[4]["receipt"]["content_id"], before["content_id"],
        "a batch finds items stored before it"
    );
    let (_, item) = app.get(&format!("/api/v1/contents/{video}")).await;
    let sources = item["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{item}");
    assert_eq!(sources[0]["note"], "first");
    assert_eq!(
        results[0]["receipt"]["source_id"], sources[0]["id"],
        "each share's receipt names its own source"
    );
    assert_eq!(results[2]["receipt"]["source_id"], sources[1]["id"]);
    let tags: HashSet<&str> = item["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags, HashSet::from(["music", "again"]));
    let (items, sources) = contents::counts(&app.db).await.unwrap();
    assert_eq!(
        (items, sources),
        (3, 5),
        "only the accepted shares are stored"
    );
}

async fn batch_limits_and_malformed_bodies(b: Backend) {
    let app = TestApp::spawn(b).await;
    let many = |n: u64| {
        json!({"shares": (0..n)
            .map(|i| json!({"url": format!("https://x.com/i/status/{}", 1_900_000_000_000_000_000u64 + i)}))
            .collect::<Vec<_>>()})
    };
    let (status, body) = batch(&app, &many(1001)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "batch_too_large");
    let (status, body) = batch(&app, &json!({"shares": []})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "empty_input");
    let (status, body) = batch(&app, &json!({"shares": "https://x.com/jack/status/20"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_body");
    let (status, body) = batch(&app, &json!([{"url": "https://x.com/jack/status/20"}])).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_body");
    let resp = app
        .client
        .post(app.url("/api/v1/shares/batch"))
        .header("content-type", "application/json")
        .body("{\"shares\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_json");
    // Over the batch route's 4 MiB.
    let huge = json!({"shares": [{"url": format!("https://example.com/{}", "a".repeat(5 << 20))}]});
    let (status, body) = batch(&app, &huge).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert_eq!(contents::counts(&app.db).await.unwrap(), (0, 0));

    // The largest batch: 1,000 new items, one answer each, in order.
    let (status, body) = batch(&app, &many(1000)).await;
    assert_eq!(status, 200, "{}", body["error"]);
    assert_eq!(body["created"], 1000);
    let ids: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["receipt"]["platform_id"].as_str().unwrap())
        .collect();
    let want: Vec<String> = (0..1000u64)
        .map(|i| (1_900_000_000_000_000_000u64 + i).to_string())
        .collect();
    assert_eq!(ids, want);
    assert_eq!(contents::counts(&app.db).await.unwrap(), (1000, 1000));
    // The same again: all known, nothing new but their sources.
    let (status, body) = batch(&app, &many(1000)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["created"], &body["known"]),
        (&json!(0), &json!(1000))
    );
    assert_eq!(contents::counts(&app.db).await.unwrap(), (1000, 2000));
    // A single share's body limit is unchanged.
    let (status, body) = app
        .share(json!({"url": format!("https://example.com/{}", "a".repeat(70_000))}))
        .await;
    assert_eq!(status, 413, "{body}");
}

async fn original_time_round_trips(b: Backend) {
    let app = TestApp::spawn(b).await;
    let saved = "2019-04-01T08:30:15Z";
    let (status, body) = batch(
        &app,
        &json!({"shares": [
            {"url": "https://x.com/jack/status/20", "saved_at": saved},
            {"url": "https://x.com/jack/status/21"},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["results"][0]["receipt"]["content_id"]
        .as_i64()
        .unwrap();
    let (_, item) = app.get(&format!("/api/v1/contents/{id}")).await;
    let at = item["sources"][0]["created_at"].as_str().unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(at).unwrap(),
        chrono::DateTime::parse_from_rfc3339(saved).unwrap(),
        "{item}"
    );
    // The item itself entered the archive now.
    let created = chrono::DateTime::parse_from_rfc3339(item["created_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert!(chrono::Utc::now() - created < chrono::Duration::minutes(5));
    // Without one, the source's time is the time it arrived.
    let other = body["results"][1]["receipt"]["content_id"]
        .as_i64()
        .unwrap();
    let (_, item) = app.get(&format!("/api/v1/contents/{other}")).await;
    let at =
        chrono::DateTime::parse_from_rfc3339(item["sources"][0]["created_at"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc);
    assert!(chrono::Utc::now() - at < chrono::Duration::minutes(5));
    // A bad time refuses that share alone.
    let (status, body) = batch(
        &app,
        &json!({"shares": [
            {"url": "https://x.com/jack/status/22", "saved_at": "yesterday"},
            {"url": "https://x.com/jack/status/23"},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["error"]["code"], "invalid_body");
    assert_eq!(body["results"][1]["outcome"], "created");
}

/// 64 clients at once, each sending single shares: new links of its own
/// and one link every client shares. Every acknowledged share is in the
/// database when it is acknowledged; the common link is one item.
async fn sixty_four_clients_share_commits(b: Backend) {
    // Measured load, not the per-client rate limit (all 64 share one address).
    let unlimited = [
        ("RATE_LIMIT_PER_SEC", "0".to_owned()),
        ("RATE_LIMIT_BURST", "0".to_owned()),
    ];
    let app = TestApp::spawn_with(b, &unlimited).await;
    const CLIENTS: u64 = 64;
    const EACH: u64 = 8;
    let clients = (0..CLIENTS).map(|c| {
        let app = &app;
        async move {
            let mut acked = Vec::new();
            for i in 0..EACH {
                let url = if i % 4 == 3 {
                    "https://www.bilibili.com/video/BV1GJ411x7h7".to_owned()
                } else {
                    format!(
                        "https://x.com/i/status/{}",
                        1_950_000_000_000_000_000u64 + c * 100 + i
                    )
                };
                let (status, body) = app.share(json!({"url": url})).await;
                assert!(status == 200 || status == 201, "{status}: {body}");
                // Acknowledged means committed: another connection sees it.
                let source = body["source_id"].as_i64().unwrap();
                let (s, item) = app
                    .get(&format!("/api/v1/contents/{}", body["content_id"]))
                    .await;
                assert_eq!(s, 200, "{item}");
                assert!(
                    item["sources"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x["id"] == source),
                    "source {source} of an acknowledged share is stored"
                );
                acked.push((
                    url,
                    body["content_id"].as_i64().unwrap(),
                    body["created"] == true,
                ));
            }
            acked
        }
    });
    let all: Vec<(String, i64, bool)> = futures::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(all.len() as u64, CLIENTS * EACH);
    let mut by_url: HashMap<&str, HashSet<i64>> = HashMap::new();
    for (url, id, _) in &all {
        by_url.entry(url).or_default().insert(*id);
    }
    assert!(by_url.values().all(|ids| ids.len() == 1));
    let common: Vec<_> = all
        .iter()
        .filter(|(u, _, _)| u.contains("bilibili"))
        .collect();
    assert_eq!(common.len() as u64, CLIENTS * 2);
    assert_eq!(
        common.iter().filter(|(_, _, created)| *created).count(),
        1,
        "exactly one share creates the common item"
    );
    let distinct = by_url.len() as u64;
    assert_eq!(distinct, CLIENTS * 6 + 1);
    assert_eq!(
        contents::counts(&app.db).await.unwrap(),
        (distinct, CLIENTS * EACH)
    );
}
