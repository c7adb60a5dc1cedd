//! Webhooks end to end: items submitted over REST are parsed and archived
//! by the real worker, then POSTed by the real webhook sender to receivers
//! on 127.0.0.1 (`testkit::webhook`) that answer like real ones in time
//! and failure: 503s, 429 with `Retry-After`, dropped connections, answers
//! that come too late, refusals and redirects. No Telegram token is set:
//! webhooks need none.
//!
//! Every request is checked the way a Standard Webhooks receiver checks it
//! (id, timestamp, `v1,` HMAC-SHA256 over `id.timestamp.body`), every
//! (target, item) reaches its receiver's success at most once, and a
//! receiver that keeps failing leaves a failed record an operator can
//! re-send.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{World, tweet_routes};
use vaultstream_core::db::push::webhooks::secret_bytes;
use vaultstream_core::db::push::{self, NewTarget, NewWebhook};
use vaultstream_core::status::WebhookFormat;
use vaultstream_testkit::env::Stack;
use vaultstream_testkit::wait;
use vaultstream_testkit::webhook::{Answer, Received, WebhookReceiver};
use vaultstream_webhooks::sign;

const PHOTO_TWEET: &str = "https://x.com/elonmusk/status/1580661436132757506";

async fn post(w: &World, path: &str, body: Value) -> (u16, Value) {
    w.post(path, body).await
}

async fn webhook(w: &World, body: Value) -> Value {
    let (status, t) = post(w, "/api/v1/push-targets", body).await;
    assert_eq!(status, 201, "{t}");
    t
}

async fn share(w: &World, url: &str) -> i64 {
    let (status, body) = post(w, "/api/v1/shares", json!({"url": url})).await;
    assert_eq!(status, 201, "{body}");
    body["content_id"].as_i64().unwrap()
}

/// The record of a target, once `done` holds for it.
async fn record_until(w: &World, target: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    wait::until(Duration::from_secs(60), what, || async {
        let (status, body) = w
            .get(&format!("/api/v1/pushed-records?target_id={target}"))
            .await;
        assert_eq!(status, 200, "{body}");
        match body["items"].as_array().and_then(|a| a.first()) {
            Some(r) if done(r) => Ok(r.clone()),
            other => Err(other.cloned()),
        }
    })
    .await
}

/// As a Standard Webhooks receiver verifies a request.
fn verify(r: &Received, secret: &str) {
    let id = r.header("webhook-id").expect("webhook-id");
    let ts: i64 = r
        .header("webhook-timestamp")
        .expect("webhook-timestamp")
        .parse()
        .expect("unix seconds");
    let now = chrono::Utc::now().timestamp();
    assert!((now - ts).abs() < 300, "timestamp {ts} is not now ({now})");
    let key = secret_bytes(secret).expect("secret");
    let expected = sign::signature(&key, id, ts, &r.body);
    let given = r.header("webhook-signature").expect("webhook-signature");
    assert!(
        given.split(' ').any(|s| s == expected),
        "signature {given} does not verify (expected {expected})"
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhooks_get_the_item_signed_once_through_every_kind_of_failure() {
    let standard = WebhookReceiver::start().await;
    let discord = WebhookReceiver::start().await;
    let slack = WebhookReceiver::start().await;
    // 503, then 429 asking for 1 s, then a dropped connection, then an
    // answer after the sender's time limit, then 200.
    standard.script([
        Answer::Status(503, "busy"),
        Answer::RetryAfter(1),
        Answer::Drop,
        Answer::Late(Duration::from_millis(2500)),
    ]);
    discord.always(Answer::Status(204, ""));
    let w = World::start(Stack::Embedded, |env| {
        env.set("ALLOW_PRIVATE_TARGETS", "true")
            .set("ARCHIVE_MEDIA", "true")
            .set("MAX_ATTEMPTS", "6")
            .set("WEBHOOK_TIMEOUT_MS", "1000");
    })
    .await;
    tweet_routes(&w);
    let t = webhook(
        &w,
        json!({"kind": "webhook", "url": standard.url("/hooks/vault")}),
    )
    .await;
    let secret = t["secret"].as_str().expect("secret").to_owned();
    let d = webhook(
        &w,
        json!({"kind": "webhook", "format": "discord", "url": discord.url("/api/webhooks/1/tok")}),
    )
    .await;
    let s = webhook(
        &w,
        json!({"kind": "webhook", "format": "slack", "url": slack.url("/services/T1/B1/x"), "platforms": ["twitter"]}),
    )
    .await;
    let _other = webhook(
        &w,
        json!({"kind": "webhook", "url": slack.url("/bilibili-only"), "platforms": ["bilibili"]}),
    )
    .await;

    let item = share(&w, PHOTO_TWEET).await;
    let record = record_until(
        &w,
        t["id"].as_i64().unwrap(),
        "the standard webhook took it",
        |r| r["status"] == "sent",
    )
    .await;
    assert_eq!(record["attempts"], 5, "{record}");
    assert_eq!(record["http_status"], 200, "{record}");
    assert_eq!(record["content_id"], item);
    assert_eq!(record["message_ids"], json!([]));

    let got = standard.received();
    assert_eq!(got.len(), 5, "{got:?}");
    let id = got[0].header("webhook-id").unwrap().to_owned();
    for r in &got {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/hooks/vault");
        assert_eq!(
            r.header("webhook-id"),
            Some(id.as_str()),
            "one id for every attempt"
        );
        assert_eq!(r.header("x-vaultstream-event"), Some("item.archived"));
        verify(r, &secret);
    }
    // The 429's wait was kept.
    assert!(
        got[2].at - got[1].at >= Duration::from_millis(950),
        "{:?}",
        got[2].at - got[1].at
    );
    // The body is the item as GET /contents/{id} shows it.
    let (_, shown) = w.get(&format!("/api/v1/contents/{item}")).await;
    let body = got[4].json();
    for field in [
        "id",
        "platform",
        "platform_id",
        "canonical_url",
        "display_title",
        "text",
        "tags",
        "author",
    ] {
        assert_eq!(body[field], shown[field], "{field}");
    }
    let hashes = |v: &Value| -> Vec<Value> {
        v["media"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["sha256"].clone())
            .collect()
    };
    assert_eq!(hashes(&body), hashes(&shown));
    assert!(
        hashes(&body).iter().all(Value::is_string),
        "the media were archived first"
    );

    let dr = record_until(&w, d["id"].as_i64().unwrap(), "discord took it", |r| {
        r["status"] == "sent"
    })
    .await;
    assert_eq!(dr["http_status"], 204);
    let dm = discord.received();
    assert_eq!(dm.len(), 1);
    assert!(
        dm[0].header("webhook-signature").is_none(),
        "Discord is not signed"
    );
    let msg = dm[0].json();
    assert_eq!(msg["embeds"][0]["url"], shown["canonical_url"]);
    assert_eq!(msg["allowed_mentions"], json!({"parse": []}));
    assert!(msg["content"].as_str().unwrap().len() <= 2000);

    record_until(&w, s["id"].as_i64().unwrap(), "slack took it", |r| {
        r["status"] == "sent"
    })
    .await;
    let sm = slack.received();
    assert_eq!(sm.len(), 1, "the bilibili-only webhook got nothing: {sm:?}");
    let blocks = &sm[0].json()["blocks"];
    assert_eq!(blocks[0]["type"], "section");
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("x.com"),
        "{blocks}"
    );

    // Never twice, whatever reschedules happen.
    assert!(push::schedule(&w.db, item).await.unwrap().is_empty());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(standard.received().len(), 5);
    assert_eq!(discord.received().len(), 1);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_webhook_is_dead_lettered_and_an_operator_can_resend() {
    let down = WebhookReceiver::start().await;
    let gone = WebhookReceiver::start().await;
    let moved = WebhookReceiver::start().await;
    down.always(Answer::Status(500, "database is down"));
    gone.always(Answer::Status(404, "no such hook"));
    moved.always(Answer::Redirect("http://127.0.0.1:9/elsewhere"));
    let w = World::start(Stack::Embedded, |env| {
        env.set("ALLOW_PRIVATE_TARGETS", "true")
            .set("MAX_ATTEMPTS", "3");
    })
    .await;
    tweet_routes(&w);
    let t_down = webhook(&w, json!({"kind": "webhook", "url": down.url("/h")})).await["id"]
        .as_i64()
        .unwrap();
    let t_gone = webhook(&w, json!({"kind": "webhook", "url": gone.url("/h")})).await["id"]
        .as_i64()
        .unwrap();
    let t_moved = webhook(&w, json!({"kind": "webhook", "url": moved.url("/h")})).await["id"]
        .as_i64()
        .unwrap();
    share(&w, PHOTO_TWEET).await;

    let failed = record_until(&w, t_down, "out of attempts", |r| r["status"] == "failed").await;
    assert_eq!(failed["attempts"], 3, "{failed}");
    assert_eq!(failed["http_status"], 500);
    let msg = failed["error_message"].as_str().unwrap();
    assert!(
        msg.contains("500") && msg.contains("after 3 attempts"),
        "{msg}"
    );
    assert_eq!(failed["error_detail"], "database is down");
    assert_eq!(down.received().len(), 3);

    // A refusal and a redirect fail at once: no retries, nothing followed.
    let refused = record_until(&w, t_gone, "refused", |r| r["status"] == "failed").await;
    assert_eq!(
        (
            refused["attempts"].as_i64(),
            refused["http_status"].as_i64()
        ),
        (Some(1), Some(404))
    );
    let redirected = record_until(&w, t_moved, "redirected", |r| r["status"] == "failed").await;
    assert_eq!(redirected["http_status"], 307);
    assert!(
        redirected["error_message"]
            .as_str()
            .unwrap()
            .contains("redirect"),
        "{redirected}"
    );
    assert_eq!((gone.received().len(), moved.received().len()), (1, 1));

    // The receiver is back: the operator re-sends, the same message id.
    down.always(Answer::Status(200, "ok"));
    let rid = failed["id"].as_i64().unwrap();
    let (s, body) = post(
        &w,
        &format!("/api/v1/pushed-records/{rid}/resend"),
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "{body}");
    let sent = record_until(&w, t_down, "re-sent", |r| r["status"] == "sent").await;
    assert_eq!(sent["http_status"], 200);
    let got = down.received();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].header("webhook-id"), got[0].header("webhook-id"));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_private_address_is_refused_at_delivery_too() {
    // A target stored while private addresses were allowed (or written
    // around the API) is still refused when the guard is on.
    let inside = WebhookReceiver::start().await;
    let w = World::start(Stack::Embedded, |_| {}).await;
    tweet_routes(&w);
    let target = push::create_target(
        &w.db,
        NewTarget {
            name: None,
            chat_id: String::new(),
            platforms: Vec::new(),
            tags: Vec::new(),
            enabled: true,
            notify_deleted: false,
            webhook: Some(NewWebhook {
                url: inside.url("/h"),
                format: WebhookFormat::Standard,
                secret: None,
            }),
        },
    )
    .await
    .expect("stored");
    share(&w, PHOTO_TWEET).await;
    let r = record_until(&w, target.id, "refused", |r| r["status"] == "failed").await;
    let msg = r["error_message"].as_str().unwrap();
    assert!(
        msg.contains("127.0.0.1") && msg.contains("not allowed"),
        "{msg}"
    );
    assert_eq!(r["http_status"], Value::Null);
    assert!(
        inside.received().is_empty(),
        "nothing reached the private address"
    );
    w.stop().await;
}
