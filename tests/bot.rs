//! `vaultstream bot` as operators run it: the real binary polls a fake Bot
//! API on 127.0.0.1, archives a link sent by an allowed user, answers it,
//! and stops cleanly on SIGTERM; and the bot's commands in-process against
//! the end-to-end world (the API and a worker, `worker/tests/support`).

#[path = "common/bot_ctx.rs"]
mod bot_ctx;
#[path = "../worker/tests/support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{ALLOWED, OPERATOR, STRANGER, World, tweet_routes, with_telegram};

use vaultstream_core::status::RecordStatus;
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::telegram::FakeTelegram;
use vaultstream_testkit::wait;

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
    let (mine, theirs) = wait::until(Duration::from_secs(30), "replies to both", || async {
        let mine: Vec<String> = tg
            .sent_to("42")
            .into_iter()
            .filter_map(|m| m.text)
            .collect();
        let theirs: Vec<String> = tg.sent_to("7").into_iter().filter_map(|m| m.text).collect();
        if !mine.is_empty() && !theirs.is_empty() {
            return Ok((mine, theirs));
        }
        Err(tg.sent())
    })
    .await;
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
    let status = wait::until(
        Duration::from_secs(15),
        "the bot stopped on SIGTERM",
        || {
            let exited = child.try_wait().unwrap();
            async move { exited.ok_or("running") }
        },
    )
    .await;
    assert!(status.success(), "exit {status:?}");
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
            notify_deleted: false,
            webhook: None,
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
    wait::until(
        Duration::from_secs(30),
        "the worker tried to post",
        || async {
            if tg.calls("sendMessage") == 0 {
                Err(tg.sent())
            } else {
                Ok(())
            }
        },
    )
    .await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_eq!(tg.sent().len(), 1, "Telegram got the post");

    let mut worker = spawn();
    let second = store("3000002").await;
    wait::until(
        Duration::from_secs(30),
        "the second item posted",
        || async {
            if tg.sent().len() < 2 {
                Err(tg.sent())
            } else {
                Ok(())
            }
        },
    )
    .await;
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
            .map(|r| r.status)
    };
    assert_eq!(status_of(first), Some(RecordStatus::Sending), "{records:?}");
    assert_eq!(status_of(second), Some(RecordStatus::Sent), "{records:?}");
}

/// A worker killed right after an item's last media file settled, before
/// its pushed records exist (the `before_push_schedule` failpoint): the
/// restarted worker's reconciler finds the pulled, settled, unscheduled
/// item and schedules it, so the channel gets the post exactly once. A
/// target created after the item settled gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_before_scheduling_pushes_loses_none() {
    use vaultstream_core::db::{contents, push};
    use vaultstream_testkit::proc::{Proc, store_tweet, vaultstream};
    use vaultstream_testkit::replay::{Replay, Reply};
    use vaultstream_testkit::upstream::{FX_PHOTO, FX_PHOTO_ID};

    let tg = FakeTelegram::start().await;
    let replay = Replay::start(&["api.fxtwitter.com", "pbs.twimg.com"]).await;
    let jpeg = std::fs::read(format!(
        "{}/../shared/fixtures/media/chelsea_small.jpg",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture photo");
    replay.route(
        &format!("api.fxtwitter.com/status/{FX_PHOTO_ID}"),
        Reply::json(FX_PHOTO),
    );
    replay.route("pbs.twimg.com/", Reply::bytes("image/jpeg", jpeg));
    let mut env = TestEnv::new(Stack::Embedded).await;
    env.set("ARCHIVE_MEDIA", "true")
        .set("UPSTREAM_OVERRIDES", replay.overrides())
        .set("TELEGRAM_BOT_TOKEN", tg.token.clone())
        .set("TELEGRAM_API_URL", tg.base.clone())
        .set("RECONCILE_INTERVAL_MS", "200")
        .set("REQUEUE_AFTER_MS", "500")
        .set("LOG_LEVEL", "warn");
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
            notify_deleted: false,
            webhook: None,
        },
    )
    .await
    .unwrap();
    let id = store_tweet(&db, FX_PHOTO_ID).await;
    let spawn = |failpoint: bool| {
        let mut cmd = vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env);
        if failpoint {
            cmd.env("VAULTSTREAM_TEST_FAILPOINTS", "before_push_schedule");
        }
        cmd.arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Proc(cmd.spawn().expect("spawn vaultstream worker"))
    };

    // The first worker archives the photo, then dies at the failpoint.
    let mut first = spawn(true);
    let status = wait::until(
        Duration::from_secs(60),
        "the worker hit the failpoint",
        || {
            let exited = first.0.try_wait().unwrap();
            async move { exited.ok_or("running") }
        },
    )
    .await;
    assert!(!status.success(), "aborted at the failpoint: {status:?}");
    let item = contents::get(&db, id).await.unwrap().expect("item");
    assert_eq!(item.status, "pulled");
    assert_eq!(item.media_status, "archived", "the media commit came first");
    let no_records = push::RecordFilter {
        limit: 10,
        ..Default::default()
    };
    assert!(
        push::list_records(&db, &no_records)
            .await
            .unwrap()
            .is_empty()
    );

    // A target created after the item settled must not receive it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    push::create_target(
        &db,
        push::NewTarget {
            name: None,
            chat_id: "@latecomer".into(),
            platforms: vec![],
            tags: vec![],
            enabled: true,
            notify_deleted: false,
            webhook: None,
        },
    )
    .await
    .unwrap();

    let _second = spawn(false);
    wait::until(Duration::from_secs(30), "the lost push sent", || async {
        if tg.sent_to("@vault").is_empty() {
            Err(tg.sent())
        } else {
            Ok(())
        }
    })
    .await;
    // Give the reconciler a few more passes to (not) act again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(tg.sent_to("@vault").len(), 1, "{:?}", tg.sent());
    assert!(tg.sent_to("@latecomer").is_empty(), "{:?}", tg.sent());
    let records = push::list_records(&db, &no_records).await.unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].status, RecordStatus::Sent);
}

/// An idle bot against a Bot API that holds `getUpdates` for the requested
/// timeout (as Telegram does): a minute of polling passes without a single
/// warning, in long polls (not a failed poll every 17 s and a 2 s gap, as
/// with teloxide's default client).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_bot_polls_for_a_minute_without_a_warning() {
    use vaultstream_testkit::proc::{Proc, vaultstream};

    let tg = FakeTelegram::start().await;
    let mut env = TestEnv::new(Stack::Embedded).await;
    env.set("TELEGRAM_BOT_TOKEN", tg.token.clone())
        .set("TELEGRAM_API_URL", tg.base.clone())
        .set("LOG_LEVEL", "warn")
        .set("LOG_FORMAT", "text");
    let log = env.dir.path().join("bot.log");
    let mut cmd = vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env);
    cmd.arg("bot")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut bot = Proc(cmd.spawn().expect("spawn vaultstream bot"));
    let started = Instant::now();
    while tg.calls("getUpdates") == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "no poll");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        bot.0.try_wait().unwrap().is_none(),
        "the bot is still running"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("WARN") && !text.contains("ERROR"),
        "an idle bot logged:\n{text}"
    );
    // Each poll is held 25 s: three polls in a minute, not a dozen.
    let polls = tg.calls("getUpdates");
    assert!((2..=4).contains(&polls), "{polls} polls in a minute");
}

/// `vaultstream bot` against a fresh fake Bot API, user 42 allowed.
async fn bot_for_user_42() -> (FakeTelegram, TestEnv, vaultstream_testkit::proc::Proc) {
    use vaultstream_testkit::proc::{Proc, vaultstream};

    let tg = FakeTelegram::start().await;
    let mut env = TestEnv::new(Stack::Embedded).await;
    env.set("TELEGRAM_BOT_TOKEN", tg.token.clone())
        .set("TELEGRAM_API_URL", tg.base.clone())
        .set("TELEGRAM_ALLOWED_USERS", "42")
        .set("LOG_LEVEL", "warn");
    let mut cmd = vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env);
    cmd.arg("bot")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let bot = Proc(cmd.spawn().expect("spawn vaultstream bot"));
    (tg, env, bot)
}

/// The text of the first message the bot sent to user 42.
async fn first_reply_to_42(tg: &FakeTelegram) -> String {
    wait::until(Duration::from_secs(30), "a reply to user 42", || async {
        let first = tg.sent_to("42").into_iter().find_map(|m| m.text);
        first.ok_or_else(|| tg.sent())
    })
    .await
}

/// A reply that meets `429 retry_after` is sent again after the wait, not
/// dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_reply_is_sent_after_the_wait() {
    use vaultstream_testkit::telegram::FakeFailure;

    let (tg, _env, _bot) = bot_for_user_42().await;

    tg.fail_next("sendMessage", 1, FakeFailure::RetryAfter(2));
    let asked = Instant::now();
    tg.user_message(42, 42, "/save https://www.bilibili.com/video/BV1GJ411x7h7");
    let reply = first_reply_to_42(&tg).await;
    assert!(reply.contains("Saved as #1"), "{reply}");
    assert_eq!(tg.calls("sendMessage"), 2, "one refused, one sent");
    assert!(
        asked.elapsed() >= Duration::from_secs(2),
        "the reply waited retry_after"
    );
}

/// A tag the API refuses is refused in chat with the same message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_refuses_tags_the_api_refuses() {
    let (tg, env, _bot) = bot_for_user_42().await;

    let long = "x".repeat(65);
    tg.user_message(
        42,
        42,
        &format!("/save https://www.bilibili.com/video/BV1GJ411x7h7 #{long}"),
    );
    let reply = first_reply_to_42(&tg).await;
    let expected = vaultstream_core::content::normalise_tags(&[long])
        .expect_err("the API refuses it")
        .message;
    assert!(reply.contains("invalid_tag"), "{reply}");
    assert!(reply.contains(&expected), "{reply} / {expected}");
    let db = vaultstream_core::db::connect(&env.settings())
        .await
        .unwrap();
    assert!(
        vaultstream_core::db::contents::get(&db, 1)
            .await
            .unwrap()
            .is_none(),
        "nothing was stored"
    );
}

/// `/search` answers with the top five hits, linked, and a bad query with
/// the API's code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_searches_the_archive() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    use vaultstream_core::content::{Channel, Status};
    use vaultstream_core::db::contents::{self, NewSource};
    use vaultstream_core::db::entities::content;
    use vaultstream_core::platform::{ContentKind, Identity, Platform};

    let (tg, env, _bot) = bot_for_user_42().await;
    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 1..=6 {
        let identity = Identity {
            platform: Platform::Twitter,
            platform_id: format!("{n}"),
            canonical_url: format!("https://x.com/i/status/{n}"),
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
        let id = contents::submit(&db, &identity, source)
            .await
            .unwrap()
            .content
            .id;
        let row = content::Entity::find_by_id(id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        let mut am: content::ActiveModel = row.into();
        am.status = Set(Status::Pulled);
        am.title = Set(Some(format!("街上的猫 <{n}>")));
        am.text = Set(Some("今天在里斯本街头遇见了很多猫".to_owned()));
        am.update(&db).await.unwrap();
        ids.push(id);
    }
    vaultstream_core::db::search::index_items(&db, &ids)
        .await
        .unwrap();

    tg.user_message(42, 42, "/search 里斯本");
    let reply = first_reply_to_42(&tg).await;
    let links = reply.matches("<a href=\"https://x.com/i/status/").count();
    assert_eq!(links, 5, "the top five, linked: {reply}");
    assert!(reply.contains("<b>里斯本</b>"), "{reply}");
    assert!(reply.contains("街上的猫 &lt;"), "{reply}");
    assert!(reply.contains("More in the API"), "{reply}");

    tg.user_message(42, 42, "/search platform:myspace");
    let second = wait::until(Duration::from_secs(30), "a second reply", || async {
        let texts: Vec<String> = tg
            .sent_to("42")
            .into_iter()
            .filter_map(|m| m.text)
            .collect();
        if texts.len() >= 2 {
            Ok(texts[1].clone())
        } else {
            Err(texts)
        }
    })
    .await;
    assert!(second.contains("invalid_query"), "{second}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bot_commands_through_get_updates() {
    let tg = FakeTelegram::start().await;
    let w = World::start(Stack::Embedded, with_telegram(&tg)).await;
    tweet_routes(&w);
    let ctx = bot_ctx::bot_ctx(&w).await;
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let bot = tokio::spawn(vaultstream_bot::commands::run(ctx, async move {
        let _ = rx.await;
    }));

    const CHAT: i64 = 5001;
    let replies = |n: usize| {
        let tg = tg.clone();
        async move {
            wait::until(Duration::from_secs(30), format!("{n} replies"), || async {
                let got: Vec<String> = tg
                    .sent_to(&CHAT.to_string())
                    .into_iter()
                    .filter_map(|m| m.text)
                    .collect();
                if got.len() >= n { Ok(got) } else { Err(got) }
            })
            .await
        }
    };

    tg.user_message(
        ALLOWED,
        CHAT,
        "/save 看这个 https://x.com/elonmusk/status/1580661436132757506?s=20 #music",
    );
    let r = replies(1).await;
    assert!(r[0].contains("Saved as #1"), "{r:?}");
    tg.user_message(
        STRANGER,
        CHAT,
        "https://x.com/elonmusk/status/1580661436132757506",
    );
    let r = replies(2).await;
    assert!(
        r[1].contains("not on this archive") && r[1].contains("666"),
        "{r:?}"
    );
    // A plain message with the same link: known, kept as a second source.
    tg.user_message(
        ALLOWED,
        CHAT,
        "again https://twitter.com/elonmusk/status/1580661436132757506",
    );
    let r = replies(3).await;
    assert!(r[2].contains("Already archived as #1"), "{r:?}");

    // Wait until the item and its media are archived, then /get it.
    wait::until(Duration::from_secs(30), "item 1 archived", || async {
        let (_, v) = w.get("/api/v1/contents/1").await;
        if v["status"] == "pulled" && v["media_status"] == "archived" {
            Ok(())
        } else {
            Err(v)
        }
    })
    .await;
    tg.user_message(ALLOWED, CHAT, "/status 1");
    let r = replies(4).await;
    assert!(
        r[3].contains("#1 · twitter · <b>pulled</b>") || r[3].contains("#1 · twitter"),
        "{r:?}"
    );
    tg.user_message(ALLOWED, CHAT, "/get music");
    let r = replies(5).await;
    assert!(r[4].starts_with("✅ Pushed #1 to @vault_default"), "{r:?}");
    assert_eq!(tg.sent_to("@vault_default").len(), 1);
    assert_eq!(tg.sent_to("@vault_default")[0].method, "sendPhoto");
    tg.user_message(ALLOWED, CHAT, "/get");
    let r = replies(6).await;
    assert!(r[5].contains("Nothing new"), "{r:?}");
    assert_eq!(tg.sent_to("@vault_default").len(), 1, "never twice");
    tg.user_message(ALLOWED, CHAT, "/retry 1");
    let r = replies(7).await;
    assert!(r[6].contains("Only operators"), "{r:?}");
    tg.user_message(OPERATOR, CHAT, "/retry 1");
    let r = replies(8).await;
    assert!(r[7].contains("nothing to retry"), "{r:?}");
    tg.user_message(OPERATOR, CHAT, "/targets");
    let r = replies(9).await;
    assert!(r[8].contains("@vault_default"), "{r:?}");
    tg.user_message(STRANGER, CHAT, "/help");
    let r = replies(10).await;
    assert!(r[9].contains("/save"), "{r:?}");

    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), bot).await;
    w.stop().await;
}

/// `/refresh` over the fake Bot API: refused to a user who is not an
/// operator; an operator's refresh of an unknown item and of one not yet
/// archived each get their answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_refreshes_for_operators_only() {
    use vaultstream_testkit::proc::{Proc, vaultstream};

    let tg = FakeTelegram::start().await;
    let mut env = TestEnv::new(Stack::Embedded).await;
    env.set("TELEGRAM_BOT_TOKEN", tg.token.clone())
        .set("TELEGRAM_API_URL", tg.base.clone())
        .set("TELEGRAM_ALLOWED_USERS", "42")
        .set("TELEGRAM_OPERATORS", "7")
        .set("LOG_LEVEL", "warn");
    let mut cmd = vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env);
    cmd.arg("bot")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let _bot = Proc(cmd.spawn().expect("spawn vaultstream bot"));

    tg.user_message(42, 42, "/refresh 1");
    let reply = first_reply_to_42(&tg).await;
    assert!(reply.contains("Only operators"), "{reply}");

    let replies_to_7 = |n: usize| {
        let tg = &tg;
        async move {
            vaultstream_testkit::wait::until(
                Duration::from_secs(30),
                "the operator's replies",
                || async {
                    let texts: Vec<String> =
                        tg.sent_to("7").into_iter().filter_map(|m| m.text).collect();
                    if texts.len() >= n {
                        Ok(texts)
                    } else {
                        Err(format!("{texts:?}"))
                    }
                },
            )
            .await
        }
    };
    tg.user_message(7, 7, "/refresh 99");
    assert!(replies_to_7(1).await[0].contains("No item #99"));
    tg.user_message(7, 7, "/save https://www.bilibili.com/video/BV1GJ411x7h7");
    let saved = replies_to_7(2).await;
    assert!(saved[1].contains("Saved as #1"), "{saved:?}");
    tg.user_message(7, 7, "/refresh 1");
    let texts = replies_to_7(3).await;
    assert!(
        texts[2].contains("only archived items can be refreshed"),
        "{texts:?}"
    );
}
