//! `/login` in the bot, in-process on the end-to-end world
//! (`worker/tests/support`) with the fake Bot API and a fake of Bilibili
//! (`vaultstream_testkit::bilibili`): only operators may use it, the QR
//! code arrives as an image in the operator's private chat, the confirmed
//! login is stored and reported, and no message holds a cookie.

#[path = "common/bot_ctx.rs"]
mod bot_ctx;
#[path = "../worker/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use support::{ALLOWED, OPERATOR, World, with_telegram};
use vaultstream_testkit::bilibili::FakeBilibili;
use vaultstream_testkit::env::Stack;
use vaultstream_testkit::telegram::FakeTelegram;
use vaultstream_testkit::wait;

const KEY: &str = "bot-login-key-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operators_log_in_by_qr_code_from_the_bot() {
    let tg = FakeTelegram::start().await;
    let fake = FakeBilibili::start(Duration::from_secs(60)).await;
    let overrides = fake.overrides();
    let w = World::start(Stack::Embedded, |env| {
        with_telegram(&tg)(env);
        env.set("ARCHIVE_MEDIA", "false")
            .set("UPSTREAM_OVERRIDES", overrides)
            .set("SECRET_KEY", KEY);
    })
    .await;
    let settings = w.env.settings();
    let ctx = bot_ctx::bot_ctx(&w).await;

    let r = ctx.reply_to(ALLOWED, "/login").await.unwrap();
    assert!(r.contains("Only operators"), "{r}");
    let r = ctx.reply_to(OPERATOR, "/login").await.unwrap();
    assert!(r.contains("No logins yet"), "{r}");
    let r = ctx.reply_to(OPERATOR, "/login qr weibo").await.unwrap();
    assert!(r.contains("no QR login"), "{r}");

    let r = ctx.reply_to(OPERATOR, "/login qr bilibili").await.unwrap();
    assert!(r.contains("Waiting for the scan"), "{r}");
    let chat = OPERATOR.to_string();
    let photo = tg
        .sent_to(&chat)
        .into_iter()
        .find(|m| m.method.eq_ignore_ascii_case("sendPhoto"))
        .expect("the QR code as a photo in the operator's chat");
    assert!(
        photo.files.iter().any(|(_, size)| *size > 100),
        "{:?}",
        photo.files
    );
    let key = fake.qr_keys().pop().expect("a code was generated");
    fake.scan(&key);
    fake.confirm(&key);
    let done = wait::until(Duration::from_secs(20), "the QR login's result", || async {
        let texts: Vec<String> = tg
            .sent_to(&chat)
            .into_iter()
            .filter_map(|m| m.text)
            .collect();
        match texts.iter().find(|t| t.contains("Logged in")) {
            Some(t) => Ok(t.clone()),
            None => Err(texts),
        }
    })
    .await;
    assert!(done.contains("valid") && done.contains("qr_user"), "{done}");

    let r = ctx.reply_to(OPERATOR, "/login").await.unwrap();
    assert!(
        r.contains("bilibili (qr_user): <b>valid</b> [vault]"),
        "{r}"
    );
    let r = ctx
        .reply_to(OPERATOR, "/login check bilibili")
        .await
        .unwrap();
    assert!(r.contains("<b>valid</b>"), "{r}");

    // Nothing the bot sent holds the login.
    let stored = vaultstream_core::db::logins::Vault::from_settings(&settings, w.db.clone())
        .unwrap()
        .cookie(vaultstream_core::Platform::Bilibili)
        .await
        .unwrap()
        .expect("stored");
    let session = stored.expose().split(';').next().unwrap().to_owned();
    for m in tg.sent() {
        let all = format!("{:?} {:?} {}", m.text, m.caption, m.raw);
        assert!(!all.contains(&session) && !all.contains(&key), "{all}");
    }
    w.stop().await;
}
