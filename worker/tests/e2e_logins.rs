//! A login's life end to end, on the API and a worker with its login task,
//! against a fake of Bilibili (`vaultstream_testkit::bilibili`) and the
//! fake Bot API: the login expires → an item fails for lack of it → within
//! one check interval the health check says `expired` (API, metrics) and
//! the bot's operator is told → the operator stores a new login → the
//! dead letter is retried automatically, the item is pulled, and the
//! operator is told how many were retried. No message, answer or metric
//! holds a cookie.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{OPERATOR, World, with_telegram};
use vaultstream_testkit::bilibili::FakeBilibili;
use vaultstream_testkit::env::Stack;
use vaultstream_testkit::replay::fixture;
use vaultstream_testkit::telegram::FakeTelegram;
use vaultstream_testkit::wait;

const KEY: &str = "e2e-login-key-0123456789";

async fn put_login(w: &World, cookie: &str) -> (u16, String) {
    let resp = w
        .client
        .put(format!("{}/api/v1/logins/bilibili", w.base))
        .json(&json!({ "cookie": cookie }))
        .send()
        .await
        .expect("request");
    (
        resp.status().as_u16(),
        resp.text().await.unwrap_or_default(),
    )
}

fn operator_texts(tg: &FakeTelegram) -> Vec<String> {
    tg.sent_to(&OPERATOR.to_string())
        .into_iter()
        .filter_map(|m| m.text)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_login_is_seen_told_and_what_waited_for_it_is_retried() {
    let tg = FakeTelegram::start().await;
    let fake = FakeBilibili::start(Duration::from_secs(180)).await;
    fake.add_session("sess-one-aaa", "alice");
    fake.video(
        "BV117411r7R1",
        true,
        fixture("bilibili/view_BV117411r7R1.json"),
    );
    // VERBATIM play URL answer of another video: the adapter reads only
    // `durl[0].url` and `timelength` from it.
    fake.route(
        "api.bilibili.com/x/player/playurl",
        fixture("bilibili/playurl_BV1y7411Q7Eq_cid171776208.json"),
    );
    let overrides = fake.overrides();
    let w = World::start(Stack::Embedded, |env| {
        with_telegram(&tg)(env);
        env.set("ARCHIVE_MEDIA", "false")
            .set("UPSTREAM_OVERRIDES", overrides)
            .set("SECRET_KEY", KEY)
            .set("LOGIN_CHECK_INTERVAL_SECS", "1");
    })
    .await;

    let (status, body) = put_login(&w, "SESSDATA=sess-one-aaa; bili_jct=jct-one").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains("sess-one") && !body.contains("jct-one"),
        "{body}"
    );
    let stored: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stored["login"]["account"], "alice", "{body}");
    assert_eq!(stored["check"]["state"], "valid", "{body}");

    // The session ends upstream; an item that needs it fails.
    fake.expire_session("sess-one-aaa");
    let id = w
        .submit("https://www.bilibili.com/video/BV117411r7R1")
        .await;
    let view = w.settle(id).await;
    assert_eq!(view["status"], "failed", "{view}");
    let letter = w.dead_letter(id).await;
    assert_eq!(letter["error_type"], "auth_required", "{letter}");

    // Within one check interval: the API, the metrics and the operator.
    wait::until(
        Duration::from_secs(15),
        "the login shows expired",
        || async {
            let (_, body) = w.get("/api/v1/logins").await;
            match body["items"][0]["state"].as_str() {
                Some("expired") => Ok(()),
                _ => Err(body),
            }
        },
    )
    .await;
    let metrics = w
        .client
        .get(format!("{}/metrics", w.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"vaultstream_login_state{platform="bilibili",state="expired"} 1"#),
        "{metrics}"
    );
    assert!(!metrics.contains("sess-one"));
    wait::until(Duration::from_secs(15), "the operator is told", || async {
        let texts = operator_texts(&tg);
        if texts.iter().any(|t| t.contains("bilibili login expired")) {
            Ok(())
        } else {
            Err(texts)
        }
    })
    .await;

    // A new login: the dead letter is retried on its own and the item pulled.
    fake.add_session("sess-two-bbb", "alice");
    let (status, body) = put_login(&w, "SESSDATA=sess-two-bbb; bili_jct=jct-two").await;
    assert_eq!(status, 200, "{body}");
    let view = w.settle(id).await;
    assert_eq!(view["status"], "pulled", "{view}");
    let (_, open) = w.get("/api/v1/dead-letters?state=open").await;
    assert_eq!(open["items"].as_array().map(Vec::len), Some(0), "{open}");
    // The retried fetch carried the new login.
    let last_view = fake
        .hits()
        .into_iter()
        .rev()
        .find(|(t, _)| t.starts_with("api.bilibili.com/x/web-interface/view"))
        .expect("view requests");
    assert!(
        last_view.1.contains("SESSDATA=sess-two-bbb"),
        "{last_view:?}"
    );
    wait::until(
        Duration::from_secs(15),
        "the operator is told of the retry",
        || async {
            let texts = operator_texts(&tg);
            if texts.iter().any(|t| t.contains("valid again: 1 item(s)")) {
                Ok(())
            } else {
                Err(texts)
            }
        },
    )
    .await;
    for t in operator_texts(&tg) {
        assert!(!t.contains("sess-") && !t.contains("jct-"), "{t}");
    }
    w.stop().await;
}
