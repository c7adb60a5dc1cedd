//! API keys, roles and rate limits, end to end: the real router on port 0,
//! keys created in the real database, real HTTP.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Backend, TestApp};
use vaultstream_core::db::keys::{self, Revoked, Role};

both_backends!(
    missing_wrong_and_malformed_keys_get_401,
    revoked_keys_get_401,
    submitters_share_and_read_but_do_not_operate,
    operators_may_do_everything,
    keys_are_rate_limited,
);

async fn required(b: Backend) -> TestApp {
    TestApp::spawn_with(b, &[("AUTH", "required".to_owned())]).await
}

/// Send a request with an optional bearer key; returns (status, headers, body).
async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let json = resp.json().await.unwrap_or(Value::Null);
    (status, headers, json)
}

async fn get(app: &TestApp, path: &str, key: Option<&str>) -> (u16, Value) {
    let (s, _, b) = call(app, Method::GET, path, key, None).await;
    (s, b)
}

async fn missing_wrong_and_malformed_keys_get_401(b: Backend) {
    let app = required(b).await;
    let (_, real) = keys::create(&app.db, Role::Operator, Some("ops"))
        .await
        .unwrap();

    // No key at all.
    let (status, headers, body) = call(&app, Method::GET, "/api/v1/contents", None, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, body) = app
        .share(json!({"url": "https://x.com/jack/status/20"}))
        .await;
    assert_eq!(status, 401, "{body}");
    // A well-formed key nobody created.
    let wrong = keys::generate_key();
    let (status, headers, body) = call(
        &app,
        Method::GET,
        "/api/v1/dead-letters",
        Some(&wrong),
        None,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(headers["www-authenticate"], "Bearer");
    // Junk, another scheme, the real key with a typo.
    for header in [
        "Bearer nope".to_owned(),
        format!("Basic {real}"),
        format!("Bearer {}x", real),
        "Bearer".to_owned(),
    ] {
        let resp = app
            .client
            .get(app.url("/api/v1/contents"))
            .header("authorization", &header)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{header}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthenticated", "{header}");
    }
    // Blobs need a key too.
    let (status, body) = get(&app, "/blobs/sha256/ab/cd/abcd.webp", None).await;
    assert_eq!(status, 401, "{body}");
    // Unknown routes do not reveal themselves to anonymous clients.
    let (status, _) = get(&app, "/api/v1/no-such-route", None).await;
    assert_eq!(status, 401);

    // Health is always open.
    let (status, body) = get(&app, "/api/v1/health", None).await;
    assert_eq!(status, 200, "{body}");
    // The real key works.
    let (status, body) = get(&app, "/api/v1/contents", Some(&real)).await;
    assert_eq!(status, 200, "{body}");
}

async fn revoked_keys_get_401(b: Backend) {
    let app = required(b).await;
    let (row, key) = keys::create(&app.db, Role::Submitter, None).await.unwrap();
    assert!(row.last_used_at.is_none());
    let (status, body) = get(&app, "/api/v1/contents", Some(&key)).await;
    assert_eq!(status, 200, "{body}");
    // Use is recorded (at most once a minute).
    let listed = keys::list(&app.db).await.unwrap();
    let first_use = listed[0].last_used_at.expect("last_used_at set on use");
    let (status, _) = get(&app, "/api/v1/contents", Some(&key)).await;
    assert_eq!(status, 200);
    let listed = keys::list(&app.db).await.unwrap();
    assert_eq!(listed[0].last_used_at, Some(first_use), "not rewritten");

    match keys::revoke(&app.db, &row.prefix).await.unwrap() {
        Revoked::Revoked(k) => assert_eq!(k.id, row.id),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        keys::revoke(&app.db, &row.id.to_string()).await.unwrap(),
        Revoked::AlreadyRevoked(_)
    ));
    assert_eq!(
        keys::revoke(&app.db, "vs_nothere").await.unwrap(),
        Revoked::NotFound
    );
    let (status, headers, body) =
        call(&app, Method::GET, "/api/v1/contents", Some(&key), None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_eq!(keys::count_active(&app.db).await.unwrap(), 0);
}

async fn submitters_share_and_read_but_do_not_operate(b: Backend) {
    let app = required(b).await;
    let (_, key) = keys::create(&app.db, Role::Submitter, Some("phone"))
        .await
        .unwrap();
    let k = Some(key.as_str());
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/shares",
        k,
        Some(json!({"url": "https://www.bilibili.com/video/BV1GJ411x7h7"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["content_id"].as_i64().unwrap();
    let (status, body) = get(&app, "/api/v1/contents", k).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&app, &format!("/api/v1/contents/{id}"), k).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"].as_i64(), Some(id));
    // Blobs are for submitters: past auth, this one just does not exist.
    let (status, body) = get(&app, "/blobs/sha256/ab/cd/abcd.webp", k).await;
    assert_ne!(status, 401, "{body}");
    assert_ne!(status, 403, "{body}");

    let operator_routes: &[(Method, String, Option<Value>)] = &[
        (Method::GET, "/api/v1/dead-letters".into(), None),
        (
            Method::POST,
            "/api/v1/dead-letters/retry".into(),
            Some(json!({})),
        ),
        (Method::POST, "/api/v1/dead-letters/1/retry".into(), None),
        (Method::POST, format!("/api/v1/contents/{id}/retry"), None),
        (Method::GET, "/api/v1/push-targets".into(), None),
        (
            Method::POST,
            "/api/v1/push-targets".into(),
            Some(json!({"chat_id": "@vault"})),
        ),
        (Method::DELETE, "/api/v1/push-targets/1".into(), None),
        (Method::GET, "/api/v1/pushed-records".into(), None),
    ];
    for (method, path, body) in operator_routes {
        let (status, _, resp) = call(&app, method.clone(), path, k, body.clone()).await;
        assert_eq!(status, 403, "{method} {path}: {resp}");
        assert_eq!(resp["error"]["code"], "forbidden", "{method} {path}");
    }
}

async fn operators_may_do_everything(b: Backend) {
    let app = required(b).await;
    let (_, key) = keys::create(&app.db, Role::Operator, None).await.unwrap();
    let k = Some(key.as_str());
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/shares",
        k,
        Some(json!({"url": "https://www.bilibili.com/video/BV1GJ411x7h7"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["content_id"].as_i64().unwrap();
    for path in [
        "/api/v1/contents".to_owned(),
        format!("/api/v1/contents/{id}"),
        "/api/v1/dead-letters".to_owned(),
        "/api/v1/push-targets".to_owned(),
        "/api/v1/pushed-records".to_owned(),
        "/api/v1/health".to_owned(),
    ] {
        let (status, body) = get(&app, &path, k).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, _, body) = call(
        &app,
        Method::POST,
        "/api/v1/push-targets",
        k,
        Some(json!({"chat_id": "@vault"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let target = body["id"].as_i64().expect("target id");
    let (status, _, body) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/push-targets/{target}"),
        k,
        None,
    )
    .await;
    assert!((200..300).contains(&status), "{status} {body}");
    // Past auth: whatever the item's state allows, never 401/403.
    let (status, _, body) = call(
        &app,
        Method::POST,
        &format!("/api/v1/contents/{id}/retry"),
        k,
        None,
    )
    .await;
    assert!(status != 401 && status != 403, "{status} {body}");
}

async fn keys_are_rate_limited(b: Backend) {
    let app = TestApp::spawn_with(
        b,
        &[
            ("AUTH", "required".to_owned()),
            ("RATE_LIMIT_BURST", "5".to_owned()),
            ("RATE_LIMIT_PER_SEC", "1".to_owned()),
        ],
    )
    .await;
    let (_, key) = keys::create(&app.db, Role::Submitter, None).await.unwrap();
    let (_, other) = keys::create(&app.db, Role::Submitter, None).await.unwrap();
    for i in 0..5 {
        let (status, body) = get(&app, "/api/v1/contents", Some(&key)).await;
        assert_eq!(status, 200, "request {i}: {body}");
    }
    let (status, headers, body) =
        call(&app, Method::GET, "/api/v1/contents", Some(&key), None).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    let retry_after: u64 = headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!(retry_after >= 1, "{retry_after}");
    // Each key has its own bucket; health is never limited.
    let (status, _) = get(&app, "/api/v1/contents", Some(&other)).await;
    assert_eq!(status, 200);
    for _ in 0..10 {
        let (status, _) = get(&app, "/api/v1/health", None).await;
        assert_eq!(status, 200);
    }
    // A token comes back after a second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, body) = get(&app, "/api/v1/contents", Some(&key)).await;
    assert_eq!(status, 200, "{body}");
}

/// With auth off, anonymous clients are limited per IP address.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anonymous_clients_are_rate_limited_by_ip() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("AUTH", "off".to_owned()),
            ("RATE_LIMIT_BURST", "5".to_owned()),
            ("RATE_LIMIT_PER_SEC", "1".to_owned()),
        ],
    )
    .await;
    for i in 0..5 {
        let (status, body) = get(&app, "/api/v1/contents", None).await;
        assert_eq!(status, 200, "request {i}: {body}");
    }
    let (status, headers, body) = call(&app, Method::GET, "/api/v1/contents", None, None).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(headers.contains_key("retry-after"));
    // Auth off: operator routes are open (but share the IP's bucket).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, body) = get(&app, "/api/v1/dead-letters", None).await;
    assert_eq!(status, 200, "{body}");
}

/// `0` disables the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn zero_disables_the_rate_limit() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("AUTH", "off".to_owned()),
            ("RATE_LIMIT_BURST", "0".to_owned()),
        ],
    )
    .await;
    for i in 0..50 {
        let (status, body) = get(&app, "/api/v1/contents", None).await;
        assert_eq!(status, 200, "request {i}: {body}");
    }
}
