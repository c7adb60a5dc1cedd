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

/// A worker killed with SIGKILL while Telegram is answering its send (the
/// post is made; the worker never learns it): the record stays `sending`,
/// a restarted worker never posts it again, and new items still flow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_push_never_posts_twice() {
    use vaultstream_core::content::Channel;
    use vaultstream_core::db::contents::{self, NewSource};
    use vaultstream_core::db::push;
    use vaultstream_core::platform::{ContentKind, Identity, Platform};
    use vaultstream_testkit::telegram::FakeFailure;

    let tg = FakeTelegram::start().await;
    let upstream = vaultstream_testkit::upstream::Upstream::start().await;
    let env = TestEnv::new(Stack::Embedded).await;
    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();
    push::create_target(
        &db,
        push::NewTarget {
            name: None,
            chat_id: "@vault".into(),
            platforms: vec![],
            tags: vec![],
            enabled: true,
        },
    )
    .await
    .unwrap();
    let store = |tweet: &'static str| {
        let db = db.clone();
        async move {
            let identity = Identity {
                platform: Platform::Twitter,
                platform_id: tweet.to_owned(),
                canonical_url: format!("https://x.com/i/status/{tweet}"),
                kind: ContentKind::Post,
            };
            let source = NewSource {
                raw_text: identity.canonical_url.clone(),
                submitted_url: identity.canonical_url.clone(),
                resolved_url: None,
                channel: Channel::Api,
                tags: vec![],
                note: None,
                submitted_by: None,
                request_id: None,
            };
            contents::submit(&db, &identity, source)
                .await
                .unwrap()
                .content
                .id
        }
    };
    let spawn = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaultstream"));
        for (k, _) in std::env::vars() {
            if k.starts_with("VAULTSTREAM_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.env_vars())
            .env("VAULTSTREAM_TELEGRAM_BOT_TOKEN", &tg.token)
            .env("VAULTSTREAM_TELEGRAM_API_URL", &tg.base)
            .env("VAULTSTREAM_UPSTREAM_OVERRIDES", upstream.overrides())
            .env("VAULTSTREAM_RECONCILE_INTERVAL_MS", "200")
            .env("VAULTSTREAM_REQUEUE_AFTER_MS", "500")
            .env("VAULTSTREAM_LOG_LEVEL", "warn")
            .arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn vaultstream worker")
    };

    // Telegram takes 20 s to answer the first post.
    tg.fail_next("sendMessage", 1, FakeFailure::Slow(Duration::from_secs(20)));
    let first = store("3000001").await;
    let mut worker = spawn();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tg.calls("sendMessage") == 0 {
        assert!(Instant::now() < deadline, "the worker never tried to post");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_eq!(tg.sent().len(), 1, "Telegram got the post");

    let mut worker = spawn();
    let second = store("3000002").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while tg.sent().len() < 2 {
        assert!(Instant::now() < deadline, "the second item was not posted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give the restarted worker's reconciler time to (not) act on the first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = worker.kill();
    let _ = worker.wait();
    assert_eq!(tg.sent().len(), 2, "{:?}", tg.sent());
    let records = push::list_records(
        &db,
        &push::RecordFilter {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let status_of = |id: i64| {
        records
            .iter()
            .find(|r| r.content_id == id)
            .map(|r| r.status.clone())
    };
    assert_eq!(status_of(first).as_deref(), Some("sending"), "{records:?}");
    assert_eq!(status_of(second).as_deref(), Some("sent"), "{records:?}");
}
