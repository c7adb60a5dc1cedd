//! Push targets and pushed records: the REST routes end to end, and the
//! storage rules of `core::db::push` (matching, "never twice", the state
//! transitions) — each on SQLite and PostgreSQL.

mod support;

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use support::{Backend, TestApp};
use vaultstream_core::content::{Channel, Status};
use vaultstream_core::db::contents::{self, NewSource};
use vaultstream_core::db::entities::content;
use vaultstream_core::db::push::{self, NewTarget, RecordFilter};
use vaultstream_core::status::RecordStatus;
use vaultstream_core::{ContentKind, ErrorCode, Identity, Platform};

both_backends!(
    targets_crud_round_trip,
    target_validation_errors,
    duplicate_chat_id_conflicts,
    pushed_records_list_and_resend,
    matching_rules,
    schedule_twice_creates_once,
    claim_is_exclusive_and_sent_is_final,
    release_for_retry_then_claim_again,
    resend_makes_a_record_pending_again,
);

// -- helpers ---------------------------------------------------------------

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let json = resp.json().await.unwrap_or(Value::Null);
    (status, headers, json)
}

async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = send(app, reqwest::Method::POST, path, Some(body)).await;
    (s, b)
}

async fn patch(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let (s, _, b) = send(app, reqwest::Method::PATCH, path, Some(body)).await;
    (s, b)
}

async fn delete(app: &TestApp, path: &str) -> u16 {
    send(app, reqwest::Method::DELETE, path, None).await.0
}

async fn raw_post(app: &TestApp, path: &str, body: &str) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn assert_error(status: u16, body: &Value, want_status: u16, code: &str, mentions: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let msg = body["error"]["message"].as_str().unwrap_or("");
    assert!(
        msg.contains(mentions),
        "`{msg}` should mention `{mentions}`"
    );
}

/// A `pulled` item on `platform` with these tags, made through the real
/// intake (`contents::submit`) and then marked pulled directly.
async fn pulled_item(db: &DatabaseConnection, platform: Platform, key: &str, tags: &[&str]) -> i64 {
    let identity = Identity {
        platform,
        platform_id: key.to_owned(),
        canonical_url: format!("https://example.com/{}/{key}", platform.as_str()),
        kind: ContentKind::Post,
    };
    let submitted = contents::submit(
        db,
        &identity,
        NewSource {
            raw_text: identity.canonical_url.clone(),
            submitted_url: identity.canonical_url.clone(),
            resolved_url: None,
            channel: Channel::Api,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            note: None,
            submitted_by: None,
            request_id: None,
        },
    )
    .await
    .expect("submit");
    let id = submitted.content.id;
    content::Entity::update_many()
        .col_expr(
            content::Column::Status,
            Expr::value(Status::Pulled.as_str()),
        )
        .col_expr(content::Column::PulledAt, Expr::value(Utc::now()))
        .filter(content::Column::Id.eq(id))
        .exec(db)
        .await
        .expect("mark pulled");
    id
}

async fn target(
    db: &DatabaseConnection,
    chat_id: &str,
    platforms: &[Platform],
    tags: &[&str],
    enabled: bool,
) -> i64 {
    push::create_target(
        db,
        NewTarget {
            name: None,
            chat_id: chat_id.to_owned(),
            platforms: platforms.to_vec(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            enabled,
            notify_deleted: false,
            webhook: None,
        },
    )
    .await
    .expect("create target")
    .id
}

async fn record(
    db: &DatabaseConnection,
    id: i64,
) -> vaultstream_core::db::entities::pushed_record::Model {
    push::get_record(db, id).await.unwrap().expect("record")
}

// -- REST ------------------------------------------------------------------

async fn targets_crud_round_trip(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, body) = app.get("/api/v1/push-targets").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["items"], json!([]));

    let (s, headers, created) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/push-targets",
        Some(json!({
            "chat_id": "@VaultStream",
            "name": "  Main channel ",
            "platforms": ["bilibili", "x", "Bilibili"],
            "tags": ["#Music", "music", "中文"],
        })),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_i64().expect("id");
    assert_eq!(
        headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/push-targets/{id}").as_str())
    );
    assert_eq!(created["chat_id"], "@vaultstream");
    assert_eq!(created["name"], "Main channel");
    assert_eq!(created["platforms"], json!(["bilibili", "twitter"]));
    assert_eq!(created["tags"], json!(["music", "中文"]));
    assert_eq!(created["enabled"], true);

    // A numeric chat id, as a JSON number; everything else defaulted.
    let (s, numeric) = post(
        &app,
        "/api/v1/push-targets",
        json!({"chat_id": -1001234567890i64, "enabled": false}),
    )
    .await;
    assert_eq!(s, 201, "{numeric}");
    assert_eq!(numeric["chat_id"], "-1001234567890");
    assert_eq!(numeric["name"], Value::Null);
    assert_eq!(numeric["platforms"], json!([]));
    assert_eq!(numeric["tags"], json!([]));
    assert_eq!(numeric["enabled"], false);
    let numeric_id = numeric["id"].as_i64().unwrap();

    let (s, list) = app.get("/api/v1/push-targets").await;
    assert_eq!(s, 200);
    let ids: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["id"].as_i64())
        .collect();
    assert_eq!(ids, vec![id, numeric_id]);

    let (s, one) = app.get(&format!("/api/v1/push-targets/{id}")).await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(one, created);

    // PATCH changes only what it names.
    let path = format!("/api/v1/push-targets/{id}");
    let (s, patched) = patch(&app, &path, json!({"enabled": false})).await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["name"], "Main channel");
    assert_eq!(patched["chat_id"], "@vaultstream");
    assert_eq!(patched["platforms"], json!(["bilibili", "twitter"]));
    assert_eq!(patched["tags"], json!(["music", "中文"]));

    let (s, patched) = patch(
        &app,
        &path,
        json!({"name": null, "tags": [], "platforms": ["weibo"], "chat_id": "-100777"}),
    )
    .await;
    assert_eq!(s, 200, "{patched}");
    assert_eq!(patched["name"], Value::Null);
    assert_eq!(patched["tags"], json!([]));
    assert_eq!(patched["platforms"], json!(["weibo"]));
    assert_eq!(patched["chat_id"], "-100777");
    assert_eq!(patched["enabled"], false);
    let (_, again) = app.get(&path).await;
    assert_eq!(again, patched);

    // An empty patch changes nothing.
    let (s, same) = patch(&app, &path, json!({})).await;
    assert_eq!(s, 200, "{same}");
    assert_eq!(same["chat_id"], "-100777");

    assert_eq!(delete(&app, &path).await, 204);
    let (s, gone) = app.get(&path).await;
    assert_error(s, &gone, 404, "not_found", "push target");
    assert_eq!(delete(&app, &path).await, 404);
    let (s, body) = patch(&app, &path, json!({"enabled": true})).await;
    assert_error(s, &body, 404, "not_found", "push target");
    let (_, list) = app.get("/api/v1/push-targets").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    let (s, body) = app.get("/api/v1/push-targets/abc").await;
    assert_error(s, &body, 400, "invalid_parameter", "abc");
    let (s, body) = app.get("/api/v1/push-targets/0").await;
    assert_error(s, &body, 400, "invalid_parameter", "positive");
}

async fn target_validation_errors(b: Backend) {
    let app = TestApp::spawn(b).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"chat_id": "channel"}), "chat_id"),
        (json!({"chat_id": "@ab"}), "chat_id"),
        (json!({"chat_id": "@1abcdef"}), "chat_id"),
        (json!({"chat_id": "@abc-def"}), "chat_id"),
        (
            json!({"chat_id": format!("@{}", "a".repeat(33))}),
            "chat_id",
        ),
        (json!({"chat_id": 12.5}), "chat_id"),
        (json!({"chat_id": ""}), "chat_id"),
        (json!({"chat_id": "   "}), "chat_id"),
        (json!({"chat_id": "-100abc"}), "chat_id"),
        (json!({"chat_id": "0"}), "chat_id"),
        (json!({"chat_id": "99999999999999999999"}), "chat_id"),
        (json!({"chat_id": null}), "chat_id"),
        (json!({"chat_id": true}), "chat_id"),
        (json!({"chat_id": ["@vault"]}), "chat_id"),
        (json!({}), "chat_id"),
        (
            json!({"chat_id": "@vaultx", "platforms": ["myspace"]}),
            "myspace",
        ),
        (
            json!({"chat_id": "@vaultx", "platforms": "bilibili"}),
            "platforms",
        ),
        (json!({"chat_id": "@vaultx", "platforms": [1]}), "platforms"),
        (json!({"chat_id": "@vaultx", "tags": [""]}), "tags"),
        (json!({"chat_id": "@vaultx", "tags": ["a b"]}), "tags"),
        (json!({"chat_id": "@vaultx", "tags": "music"}), "tags"),
        (json!({"chat_id": "@vaultx", "enabled": "yes"}), "enabled"),
        (json!({"chat_id": "@vaultx", "name": 5}), "name"),
        (
            json!({"chat_id": "@vaultx", "name": "x".repeat(129)}),
            "name",
        ),
        (json!({"chat_id": "@vaultx", "colour": "red"}), "colour"),
        (json!(["@vaultx"]), "object"),
        (json!("@vaultx"), "object"),
    ];
    for (body, mentions) in &cases {
        let (s, resp) = post(&app, "/api/v1/push-targets", body.clone()).await;
        assert_error(s, &resp, 422, "invalid_body", mentions);
    }
    let (s, resp) = raw_post(&app, "/api/v1/push-targets", "{\"chat_id\": ").await;
    assert_error(s, &resp, 400, "invalid_json", "JSON");

    // Nothing was created.
    let (_, list) = app.get("/api/v1/push-targets").await;
    assert_eq!(list["items"], json!([]), "{list}");

    // The same rules on PATCH; a null is refused where it means nothing.
    let (s, t) = post(&app, "/api/v1/push-targets", json!({"chat_id": "@vaultx"})).await;
    assert_eq!(s, 201, "{t}");
    let path = format!("/api/v1/push-targets/{}", t["id"]);
    for (body, mentions) in [
        (json!({"chat_id": "@ab"}), "chat_id"),
        (json!({"chat_id": null}), "chat_id"),
        (json!({"platforms": ["myspace"]}), "myspace"),
        (json!({"platforms": null}), "platforms"),
        (json!({"tags": ["#"]}), "tags"),
        (json!({"enabled": null}), "enabled"),
        (json!({"colour": "red"}), "colour"),
        (json!([]), "object"),
    ] {
        let (s, resp) = patch(&app, &path, body).await;
        assert_error(s, &resp, 422, "invalid_body", mentions);
    }
    let (_, unchanged) = app.get(&path).await;
    assert_eq!(unchanged, t);
}

async fn duplicate_chat_id_conflicts(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, first) = post(
        &app,
        "/api/v1/push-targets",
        json!({"chat_id": "@vaultstream"}),
    )
    .await;
    assert_eq!(s, 201, "{first}");
    // Telegram usernames are case-insensitive: the same channel.
    let (s, body) = post(
        &app,
        "/api/v1/push-targets",
        json!({"chat_id": "@VaultStream"}),
    )
    .await;
    assert_error(s, &body, 409, "conflict", "@vaultstream");

    let (s, num) = post(&app, "/api/v1/push-targets", json!({"chat_id": -1001234})).await;
    assert_eq!(s, 201, "{num}");
    let (s, body) = post(&app, "/api/v1/push-targets", json!({"chat_id": "-1001234"})).await;
    assert_error(s, &body, 409, "conflict", "-1001234");

    // Moving a target onto a chat that has one.
    let (s, body) = patch(
        &app,
        &format!("/api/v1/push-targets/{}", num["id"]),
        json!({"chat_id": "@vaultstream"}),
    )
    .await;
    assert_error(s, &body, 409, "conflict", "@vaultstream");
    let (_, list) = app.get("/api/v1/push-targets").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

async fn pushed_records_list_and_resend(b: Backend) {
    let app = TestApp::spawn(b).await;
    let (s, body) = app.get("/api/v1/pushed-records").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body, json!({"items": [], "next_cursor": null}));

    let t1 = target(&app.db, "@channel_one", &[], &[], true).await;
    let t2 = target(&app.db, "-1009", &[], &[], true).await;
    let item = pulled_item(&app.db, Platform::Bilibili, "BV1xx411c7mD", &["music"]).await;
    let ids = push::schedule(&app.db, item).await.unwrap();
    assert_eq!(ids.len(), 2);

    let (s, body) = app.get("/api/v1/pushed-records").await;
    assert_eq!(s, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    // Newest first.
    assert!(items[0]["id"].as_i64() > items[1]["id"].as_i64());
    for r in items {
        assert_eq!(r["content_id"].as_i64(), Some(item));
        assert_eq!(r["status"], "pending");
        assert_eq!(r["attempts"], 0);
        assert_eq!(r["message_ids"], json!([]));
    }
    assert_eq!(body["next_cursor"], Value::Null);

    let (_, only) = app
        .get(&format!("/api/v1/pushed-records?target_id={t1}"))
        .await;
    let only = only["items"].as_array().unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0]["target_id"].as_i64(), Some(t1));
    let (_, by_item) = app
        .get(&format!(
            "/api/v1/pushed-records?content_id={item}&status=pending"
        ))
        .await;
    assert_eq!(by_item["items"].as_array().unwrap().len(), 2);
    let (_, sent) = app.get("/api/v1/pushed-records?status=sent").await;
    assert_eq!(sent["items"], json!([]));

    // Pages.
    let (_, page1) = app.get("/api/v1/pushed-records?limit=1").await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 1);
    let cursor = page1["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let (_, page2) = app
        .get(&format!("/api/v1/pushed-records?limit=1&cursor={cursor}"))
        .await;
    let page2_items = page2["items"].as_array().unwrap();
    assert_eq!(page2_items.len(), 1);
    assert!(page2_items[0]["id"].as_i64() < page1["items"][0]["id"].as_i64());

    for (query, code) in [
        ("status=bogus", "invalid_parameter"),
        ("target_id=x", "invalid_parameter"),
        ("content_id=-3", "invalid_parameter"),
        ("limit=0", "invalid_parameter"),
        ("limit=100000", "invalid_parameter"),
        ("cursor=nope", "invalid_cursor"),
    ] {
        let (s, body) = app.get(&format!("/api/v1/pushed-records?{query}")).await;
        assert_eq!(s, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], code, "{query}: {body}");
    }

    // Resend: only sent, failed or stuck records.
    let rid = ids[0];
    let resend = format!("/api/v1/pushed-records/{rid}/resend");
    let (s, body) = post(&app, &resend, json!({})).await;
    assert_error(s, &body, 409, "conflict", "pending");
    assert!(push::claim(&app.db, rid).await.unwrap().is_some());
    assert!(push::mark_sent(&app.db, rid, &[11, 12]).await.unwrap());
    let (_, sent) = app.get("/api/v1/pushed-records?status=sent").await;
    assert_eq!(sent["items"][0]["message_ids"], json!([11, 12]));
    assert!(sent["items"][0]["sent_at"].is_string());
    let (s, body) = post(&app, &resend, json!({})).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["record"]["attempts"], 0);
    let r = record(&app.db, rid).await;
    assert_eq!(r.status, RecordStatus::Pending);
    let (s, body) = post(&app, "/api/v1/pushed-records/999999/resend", json!({})).await;
    assert_error(s, &body, 404, "not_found", "999999");
    let (s, body) = post(&app, "/api/v1/pushed-records/abc/resend", json!({})).await;
    assert_error(s, &body, 400, "invalid_parameter", "abc");

    // Deleting a target takes its records with it.
    assert_eq!(
        delete(&app, &format!("/api/v1/push-targets/{t2}")).await,
        204
    );
    let (_, left) = app.get("/api/v1/pushed-records").await;
    let left = left["items"].as_array().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["target_id"].as_i64(), Some(t1));
}

// -- core::db::push ----------------------------------------------------------

async fn matching_rules(b: Backend) {
    let app = TestApp::spawn(b).await;
    let db = &app.db;
    let all = target(db, "@everything", &[], &[], true).await;
    let bili = target(db, "@bili_only", &[Platform::Bilibili], &[], true).await;
    let music = target(db, "@music_only", &[], &["#Music"], true).await;
    let tw_music = target(db, "@tw_music", &[Platform::Twitter], &["music"], true).await;
    let bili_or_tw_art = target(
        db,
        "-1001",
        &[Platform::Bilibili, Platform::Twitter],
        &["art", "games"],
        true,
    )
    .await;
    let _disabled = target(db, "@switched_off", &[], &[], false).await;

    let item = pulled_item(db, Platform::Bilibili, "BV1a", &["music", "games"]).await;
    let model = content::Entity::find_by_id(item)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let tags = vec!["music".to_owned(), "games".to_owned()];
    let ids = |v: Vec<vaultstream_core::db::entities::push_target::Model>| {
        v.into_iter().map(|t| t.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(push::matching_targets(db, &model, &tags).await.unwrap()),
        vec![all, bili, music, bili_or_tw_art]
    );
    // Untagged: only the targets without a tag filter.
    assert_eq!(
        ids(push::matching_targets(db, &model, &[]).await.unwrap()),
        vec![all, bili]
    );
    // Another platform with the music tag.
    let tweet = pulled_item(db, Platform::Twitter, "20", &["music"]).await;
    let tweet_model = content::Entity::find_by_id(tweet)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ids(
            push::matching_targets(db, &tweet_model, &["music".to_owned()])
                .await
                .unwrap()
        ),
        vec![all, music, tw_music]
    );

    // schedule uses the same rules, with the tags from content_tags.
    let created = push::schedule(db, item).await.unwrap();
    assert_eq!(created.len(), 4);
    let rows = push::list_records(
        db,
        &RecordFilter {
            content_id: Some(item),
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut targets: Vec<i64> = rows.iter().map(|r| r.target_id).collect();
    targets.sort_unstable();
    assert_eq!(targets, vec![all, bili, music, bili_or_tw_art]);

    // Disabling a target stops new matches; enabling the disabled one
    // makes it match.
    push::update_target(
        db,
        music,
        push::TargetPatch {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        ids(
            push::matching_targets(db, &tweet_model, &["music".to_owned()])
                .await
                .unwrap()
        ),
        vec![all, tw_music]
    );

    // Validation at the core level.
    let err = push::create_target(
        db,
        NewTarget {
            name: None,
            chat_id: "channel".into(),
            platforms: vec![],
            tags: vec![],
            enabled: true,
            notify_deleted: false,
            webhook: None,
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, push::TargetError::Invalid(ref u) if u.code == ErrorCode::InvalidBody),
        "{err:?}"
    );
    assert!(push::parse_platforms(&["myspace".into()]).is_err());
    assert_eq!(
        push::parse_platforms(&["X".into(), "twitter".into(), "generic".into()]).unwrap(),
        vec![Platform::Twitter, Platform::Web]
    );
    assert_eq!(
        push::validate_chat_id(" -1001234567890 ").unwrap(),
        "-1001234567890"
    );
    assert_eq!(
        push::validate_chat_id("@Vault_Stream1").unwrap(),
        "@vault_stream1"
    );
}

async fn schedule_twice_creates_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let db = &app.db;
    target(db, "@channel_a", &[], &[], true).await;
    target(db, "@channel_b", &[], &[], true).await;

    // Not pulled yet: nothing.
    let fresh = pulled_item(db, Platform::Weibo, "FfcTLg6AY", &[]).await;
    content::Entity::update_many()
        .col_expr(
            content::Column::Status,
            Expr::value(Status::Unprocessed.as_str()),
        )
        .filter(content::Column::Id.eq(fresh))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(push::schedule(db, fresh).await.unwrap(), Vec::<i64>::new());
    assert_eq!(push::schedule(db, 987654).await.unwrap(), Vec::<i64>::new());

    let item = pulled_item(db, Platform::Weibo, "Gabc", &[]).await;
    let first = push::schedule(db, item).await.unwrap();
    assert_eq!(first.len(), 2);
    for id in &first {
        let r = record(db, *id).await;
        assert_eq!(r.status, RecordStatus::Pending);
        assert!(r.enqueued_at.is_some());
        assert_eq!(r.attempts, 0);
    }
    let second = push::schedule(db, item).await.unwrap();
    assert!(second.is_empty(), "{second:?}");
    // Concurrent schedules still create each record once.
    let (a, b2) = tokio::join!(push::schedule(db, item), push::schedule(db, item));
    assert!(a.unwrap().is_empty() && b2.unwrap().is_empty());
    let all = push::list_records(
        db,
        &RecordFilter {
            limit: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 2);

    // A target added later gets the item on the next schedule, once.
    let late = target(db, "@channel_c", &[], &[], true).await;
    let third = push::schedule(db, item).await.unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(record(db, third[0]).await.target_id, late);

    // Freshly scheduled records count as queued; the reconciler waits.
    let due = push::due_pending(db, std::time::Duration::from_secs(60), 100)
        .await
        .unwrap();
    assert!(due.is_empty(), "{due:?}");
    let due = push::due_pending(db, std::time::Duration::ZERO, 100)
        .await
        .unwrap();
    assert_eq!(due.len(), 3);
}

async fn claim_is_exclusive_and_sent_is_final(b: Backend) {
    let app = TestApp::spawn(b).await;
    let db = &app.db;
    target(db, "@channel_a", &[], &[], true).await;
    let item = pulled_item(db, Platform::Zhihu, "answer:1", &[]).await;
    let rid = push::schedule(db, item).await.unwrap()[0];

    let claimed = push::claim(db, rid).await.unwrap().expect("first claim");
    assert_eq!(claimed.status, RecordStatus::Sending);
    assert_eq!(claimed.attempts, 1);
    assert!(claimed.claimed_at.is_some());
    assert!(
        push::claim(db, rid).await.unwrap().is_none(),
        "second claim"
    );

    // A record left `sending` (a crash) is never picked up on its own.
    let due = push::due_pending(db, std::time::Duration::ZERO, 100)
        .await
        .unwrap();
    assert!(due.is_empty(), "{due:?}");

    // Parallel claims: exactly one wins.
    let item2 = pulled_item(db, Platform::Zhihu, "answer:2", &[]).await;
    let rid2 = push::schedule(db, item2).await.unwrap()[0];
    let results = futures::future::join_all((0..8).map(|_| push::claim(db, rid2))).await;
    let wins = results
        .into_iter()
        .filter(|r| r.as_ref().unwrap().is_some())
        .count();
    assert_eq!(wins, 1);

    assert!(push::mark_sent(db, rid, &[42]).await.unwrap());
    let r = record(db, rid).await;
    assert_eq!(r.status, RecordStatus::Sent);
    assert_eq!(r.message_ids, Some(json!([42])));
    assert!(r.sent_at.is_some());
    // Sent is final: no claim, no second mark, no retry, no failure.
    assert!(push::claim(db, rid).await.unwrap().is_none());
    assert!(!push::mark_sent(db, rid, &[43]).await.unwrap());
    assert!(
        !push::release_for_retry(db, rid, Utc::now(), "late 429")
            .await
            .unwrap()
    );
    assert!(!push::mark_failed(db, rid, "late", None).await.unwrap());
    let r = record(db, rid).await;
    assert_eq!(r.status, RecordStatus::Sent);
    assert_eq!(r.message_ids, Some(json!([42])));
    // Scheduling again never makes a second record.
    assert!(push::schedule(db, item).await.unwrap().is_empty());
    assert!(push::claim(db, 987654).await.unwrap().is_none());
}

async fn release_for_retry_then_claim_again(b: Backend) {
    let app = TestApp::spawn(b).await;
    let db = &app.db;
    target(db, "@channel_a", &[], &[], true).await;
    target(db, "@channel_b", &[], &[], true).await;
    let item = pulled_item(db, Platform::Douyin, "7300000000000000001", &[]).await;
    let ids = push::schedule(db, item).await.unwrap();
    let (now_id, later_id) = (ids[0], ids[1]);

    // Due again already (retry_after elapsed): claimable at once.
    push::claim(db, now_id).await.unwrap().unwrap();
    assert!(
        push::release_for_retry(
            db,
            now_id,
            Utc::now() - Duration::seconds(1),
            "429: retry after 1"
        )
        .await
        .unwrap()
    );
    let r = record(db, now_id).await;
    assert_eq!(r.status, RecordStatus::Pending);
    assert_eq!(r.error_message.as_deref(), Some("429: retry after 1"));
    let again = push::claim(db, now_id)
        .await
        .unwrap()
        .expect("claim after release");
    assert_eq!(again.attempts, 2);
    assert!(push::mark_sent(db, now_id, &[1, 2, 3]).await.unwrap());

    // Due later: not claimable until then, not listed for the reconciler.
    push::claim(db, later_id).await.unwrap().unwrap();
    let at = Utc::now() + Duration::hours(1);
    assert!(
        push::release_for_retry(db, later_id, at, "429")
            .await
            .unwrap()
    );
    assert!(
        !push::release_for_retry(db, later_id, at, "429")
            .await
            .unwrap()
    );
    assert!(push::claim(db, later_id).await.unwrap().is_none());
    let due = push::due_pending(db, std::time::Duration::ZERO, 100)
        .await
        .unwrap();
    assert!(due.is_empty(), "{due:?}");
    let r = record(db, later_id).await;
    assert_eq!(r.status, RecordStatus::Pending);
    assert_eq!(r.attempts, 1);
}

async fn resend_makes_a_record_pending_again(b: Backend) {
    let app = TestApp::spawn(b).await;
    let db = &app.db;
    target(db, "@channel_a", &[], &[], true).await;
    let item = pulled_item(db, Platform::Xiaohongshu, "64f0000000000000000000aa", &[]).await;
    let rid = push::schedule(db, item).await.unwrap()[0];

    // Pending: nothing to resend.
    assert!(!push::resend(db, rid).await.unwrap());
    assert!(!push::resend(db, 987654).await.unwrap());

    push::claim(db, rid).await.unwrap().unwrap();
    assert!(
        push::mark_failed(
            db,
            rid,
            "chat not found",
            Some("400 Bad Request: chat not found")
        )
        .await
        .unwrap()
    );
    let r = record(db, rid).await;
    assert_eq!(r.status, RecordStatus::Failed);
    assert_eq!(r.error_message.as_deref(), Some("chat not found"));
    assert_eq!(
        r.error_detail.as_deref(),
        Some("400 Bad Request: chat not found")
    );
    assert!(push::claim(db, rid).await.unwrap().is_none());

    assert!(push::resend(db, rid).await.unwrap());
    let r = record(db, rid).await;
    assert_eq!(r.status, RecordStatus::Pending);
    assert_eq!(r.attempts, 0);
    assert!(r.enqueued_at.is_none());
    // Nobody queued it: the reconciler lists it at once, until it is marked.
    let due = push::due_pending(db, std::time::Duration::from_secs(600), 100)
        .await
        .unwrap();
    assert_eq!(due, vec![rid]);
    push::mark_enqueued(db, &due).await.unwrap();
    let due = push::due_pending(db, std::time::Duration::from_secs(600), 100)
        .await
        .unwrap();
    assert!(due.is_empty());

    let c = push::claim(db, rid)
        .await
        .unwrap()
        .expect("claim after resend");
    assert_eq!(c.attempts, 1);
    // A stuck `sending` record (crash mid-send) can be resent by an operator.
    assert!(push::resend(db, rid).await.unwrap());
    push::claim(db, rid).await.unwrap().unwrap();
    assert!(push::mark_sent(db, rid, &[7]).await.unwrap());
    // And a sent one, on purpose.
    assert!(push::resend(db, rid).await.unwrap());
    assert_eq!(record(db, rid).await.status, RecordStatus::Pending);
}
