//! `vaultstream bot` as operators run it: the real binary polls a fake Bot
//! API on 127.0.0.1, archives a link sent by an allowed user, answers it,
//! and stops cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::telegram::FakeTelegram;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_role_answers_over_long_polling() {
    let tg = FakeTelegram::start().await;
    let env = TestEnv::new(Stack::Embedded).await;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaultstream"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VAULTSTREAM_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .envs(env.env_vars())
        .env("VAULTSTREAM_TELEGRAM_BOT_TOKEN", &tg.token)
        .env("VAULTSTREAM_TELEGRAM_API_URL", &tg.base)
        .env("VAULTSTREAM_TELEGRAM_ALLOWED_USERS", "42")
        .env("VAULTSTREAM_LOG_LEVEL", "warn")
        .arg("bot")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn vaultstream bot");

    tg.user_message(
        42,
        42,
        "【标题】 https://www.bilibili.com/video/BV1GJ411x7h7 复制链接",
    );
    tg.user_message(7, 7, "/save https://www.bilibili.com/video/BV1GJ411x7h7");
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mine, theirs) = loop {
        let mine: Vec<String> = tg
            .sent_to("42")
            .into_iter()
            .filter_map(|m| m.text)
            .collect();
        let theirs: Vec<String> = tg.sent_to("7").into_iter().filter_map(|m| m.text).collect();
        if !mine.is_empty() && !theirs.is_empty() {
            break (mine, theirs);
        }
        assert!(Instant::now() < deadline, "no replies: {:?}", tg.sent());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        mine[0].contains("Saved as #1 (bilibili BV1GJ411x7h7)"),
        "{mine:?}"
    );
    assert!(theirs[0].contains("not on this archive"), "{theirs:?}");

    // The share is stored with the Telegram channel and the user as source.
    let db = vaultstream_core::db::connect(&env.settings())
        .await
        .unwrap();
    let item = vaultstream_core::db::contents::get(&db, 1)
        .await
        .unwrap()
        .expect("item 1");
    let sources = item.sources.unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].channel, "telegram");
    assert_eq!(sources[0].submitted_by.as_deref(), Some("42"));

    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit {status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "the bot did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
