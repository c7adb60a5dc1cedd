//! Webhook push targets over REST: what makes one (an http(s) address on
//! a public host — the SSRF guard of every pasted link —, a format, a
//! Standard Webhooks secret made when left out and shown once), what is
//! refused and how, and how operators see one (Discord's and Slack's token
//! masked) — on SQLite and PostgreSQL. Delivery is tested end to end in
//! worker/tests/e2e_webhooks.rs.

mod support;

use serde_json::{Value, json};
use support::{Backend, TestApp};

both_backends!(
    webhook_targets_are_made_shown_and_changed,
    webhook_addresses_pass_the_target_guard,
    bad_webhook_bodies_name_their_field,
);

async fn send(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let resp = app
        .client
        .request(method, app.url(path))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    send(app, reqwest::Method::POST, "/api/v1/push-targets", body).await
}

async fn webhook_targets_are_made_shown_and_changed(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, made) = post(
        &app,
        json!({"kind": "webhook", "url": "https://Hooks.Example.com/in", "tags": ["music"]}),
    )
    .await;
    assert_eq!(s, 201, "{made}");
    assert_eq!(made["kind"], "webhook");
    assert_eq!(made["chat_id"], Value::Null);
    assert_eq!(made["url"], "https://hooks.example.com/in");
    assert_eq!(made["format"], "standard");
    assert_eq!(made["signed"], true);
    let secret = made["secret"].as_str().expect("the secret, shown once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = made["id"].as_i64().unwrap();

    // Never shown again.
    let (s, got) = app.get(&format!("/api/v1/push-targets/{id}")).await;
    assert_eq!(s, 200, "{got}");
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["signed"], true);
    let (_, list) = app.get("/api/v1/push-targets").await;
    assert!(!list.to_string().contains(secret), "{list}");

    // One URL is one target, however it is spelled.
    let (s, dup) = post(
        &app,
        json!({"kind": "webhook", "url": "https://hooks.example.com:443/in"}),
    )
    .await;
    assert_eq!(
        (s, dup["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{dup}"
    );

    // Discord: no signature, and its URL's token never shown.
    let (s, discord) = post(
        &app,
        json!({"kind": "webhook", "format": "discord",
               "url": "https://discord.com/api/webhooks/123/SeCrEtToKeN"}),
    )
    .await;
    assert_eq!(s, 201, "{discord}");
    assert_eq!(discord["signed"], false);
    assert!(discord.get("secret").is_none());
    assert_eq!(discord["url"], "https://discord.com/api/webhooks/123/***");
    let (_, list) = app.get("/api/v1/push-targets").await;
    assert!(!list.to_string().contains("SeCrEtToKeN"), "{list}");

    // A chosen secret; a rotated one is shown in the answer that set it.
    let chosen = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let path = format!("/api/v1/push-targets/{id}");
    let (s, patched) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        json!({"secret": chosen}),
    )
    .await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(patched["secret"], chosen);
    let (s, moved) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        json!({"url": "https://hooks.example.com/v2", "enabled": false}),
    )
    .await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["url"], "https://hooks.example.com/v2");
    assert_eq!(moved["enabled"], false);
    assert!(moved.get("secret").is_none());
    // The old address is free again.
    let (s, again) = post(
        &app,
        json!({"kind": "webhook", "url": "https://hooks.example.com/in"}),
    )
    .await;
    assert_eq!(s, 201, "{again}");

    // Telegram targets keep their shape.
    let (s, chat) = post(&app, json!({"chat_id": "@vaultstream"})).await;
    assert_eq!(s, 201, "{chat}");
    assert_eq!(chat["kind"], "telegram");
    assert_eq!(chat["chat_id"], "@vaultstream");
    assert_eq!(chat["url"], Value::Null);
    assert_eq!(chat["signed"], false);
}

async fn webhook_addresses_pass_the_target_guard(b: Backend) {
    let app = TestApp::spawn(b).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://2130706433/hook",
        "http://metadata/computeMetadata/v1/",
        "http://printer.local/hook",
    ] {
        let (s, body) = post(&app, json!({"kind": "webhook", "url": url})).await;
        assert_eq!(s, 422, "{url}: {body}");
        assert_eq!(body["error"]["code"], "forbidden_target", "{url}: {body}");
    }
    // Moving a webhook onto a private address is refused the same way.
    let (s, made) = post(
        &app,
        json!({"kind": "webhook", "url": "https://hooks.example.com/x"}),
    )
    .await;
    assert_eq!(s, 201, "{made}");
    let path = format!("/api/v1/push-targets/{}", made["id"]);
    let (s, body) = send(
        &app,
        reqwest::Method::PATCH,
        &path,
        json!({"url": "http://127.0.0.1/x"}),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (422, Some("forbidden_target")),
        "{body}"
    );
    let (_, list) = app.get("/api/v1/push-targets").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

    // Tests (and only tests) may allow loopback receivers.
    let open = TestApp::spawn_with(b, &[("ALLOW_PRIVATE_TARGETS", "true".into())]).await;
    let (s, body) = post(
        &open,
        json!({"kind": "webhook", "url": "http://127.0.0.1:9/hook"}),
    )
    .await;
    assert_eq!(s, 201, "{body}");
}

async fn bad_webhook_bodies_name_their_field(b: Backend) {
    let app = TestApp::spawn(b).await;
    let cases = [
        (json!({"kind": "webhook"}), "`url`"),
        (json!({"kind": "webhook", "url": ""}), "`url`"),
        (
            json!({"kind": "webhook", "url": "ftp://example.com/x"}),
            "`url`",
        ),
        (
            json!({"kind": "webhook", "url": "file:///etc/passwd"}),
            "`url`",
        ),
        (
            json!({"kind": "webhook", "url": "https://u:p@example.com/x"}),
            "`url`",
        ),
        (json!({"kind": "webhook", "url": 5}), "`url`"),
        (
            json!({"kind": "webhook", "url": "https://example.com/x", "chat_id": "@vault"}),
            "`chat_id`",
        ),
        (
            json!({"kind": "webhook", "url": "https://example.com/x", "format": "teams"}),
            "`format`",
        ),
        (
            json!({"kind": "webhook", "url": "https://example.com/x", "secret": "hunter2"}),
            "`secret`",
        ),
        (
            json!({"kind": "webhook", "url": "https://example.com/x", "secret": "whsec_c2hvcnQ="}),
            "`secret`",
        ),
        (
            json!({"kind": "webhook", "url": "https://discord.com/api/webhooks/1/t", "format": "slack", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
            "`secret`",
        ),
        (
            json!({"kind": "email", "url": "https://example.com/x"}),
            "`kind`",
        ),
        (json!({"kind": null, "chat_id": "@vault"}), "`kind`"),
        (
            json!({"chat_id": "@vault", "url": "https://example.com/x"}),
            "webhook",
        ),
    ];
    for (body, names) in cases {
        let (s, answer) = post(&app, body.clone()).await;
        assert_eq!(s, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_body", "{body}: {answer}");
        let msg = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(names), "{body}: {msg}");
        assert!(!msg.contains("hunter2"), "a secret is never echoed: {msg}");
    }
    // `kind` and `format` cannot change; `url` is for webhooks only.
    let (_, chat) = post(&app, json!({"chat_id": "@vault"})).await;
    let path = format!("/api/v1/push-targets/{}", chat["id"]);
    for body in [
        json!({"kind": "webhook"}),
        json!({"format": "slack"}),
        json!({"url": "https://example.com/x"}),
    ] {
        let (s, answer) = send(&app, reqwest::Method::PATCH, &path, body.clone()).await;
        assert_eq!(
            (s, answer["error"]["code"].as_str()),
            (422, Some("invalid_body")),
            "{body}: {answer}"
        );
    }
    let (s, list) = app.get("/api/v1/push-targets").await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}
