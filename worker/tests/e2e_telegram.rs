//! Telegram end to end: items submitted over REST (or `/save` in a chat)
//! are parsed and archived by the real worker, then pushed by the real
//! publisher to a fake Bot API server on 127.0.0.1 (`testkit::telegram`,
//! which speaks the real JSON, checks HTML and length limits like Telegram,
//! and answers 429 or drops connections on demand). Every (target, item)
//! must be posted at most once, with its archived images.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{World, fake_mp4, photo, tweet_routes, with_telegram};
use vaultstream_testkit::env::Stack;
use vaultstream_testkit::replay::{Reply, fixture};
use vaultstream_testkit::telegram::{FakeFailure, FakeTelegram};
use vaultstream_testkit::wait;

async fn post(w: &World, path: &str, body: Value) -> (u16, Value) {
    w.post(path, body).await
}

async fn target(w: &World, body: Value) -> i64 {
    let (status, t) = post(w, "/api/v1/push-targets", body).await;
    assert_eq!(status, 201, "{t}");
    t["id"].as_i64().expect("id")
}

async fn share(w: &World, url: &str, tags: &[&str]) -> i64 {
    let (status, body) = post(w, "/api/v1/shares", json!({"url": url, "tags": tags})).await;
    assert_eq!(status, 201, "{body}");
    body["content_id"].as_i64().unwrap()
}

/// Pushed records (over the API) until `done` holds.
async fn records_until(w: &World, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    wait::until(Duration::from_secs(60), what, || async {
        let (status, body) = w.get("/api/v1/pushed-records?limit=200").await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().cloned().unwrap_or_default();
        if done(&items) { Ok(items) } else { Err(items) }
    })
    .await
}

fn with_status<'a>(items: &'a [Value], s: &str) -> Vec<&'a Value> {
    items.iter().filter(|r| r["status"] == s).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn items_reach_every_matching_target_once_with_their_media() {
    let tg = FakeTelegram::start().await;
    let w = World::start(Stack::Embedded, with_telegram(&tg)).await;
    tweet_routes(&w);
    let all = target(&w, json!({"chat_id": "@vault"})).await;
    let music = target(
        &w,
        json!({"chat_id": -1001234, "tags": ["music"], "platforms": ["twitter"]}),
    )
    .await;
    let _off = target(&w, json!({"chat_id": "@muted", "enabled": false})).await;

    let photo_item = share(
        &w,
        "https://x.com/elonmusk/status/1580661436132757506",
        &["music"],
    )
    .await;
    let video_item = share(&w, "https://twitter.com/i/status/1548602399862013953", &[]).await;

    let records = records_until(&w, "three pushes sent", |r| {
        with_status(r, "sent").len() == 3
    })
    .await;
    assert_eq!(records.len(), 3, "{records:?}");
    let pairs: std::collections::HashSet<(i64, i64)> = records
        .iter()
        .map(|r| {
            (
                r["target_id"].as_i64().unwrap(),
                r["content_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [(all, photo_item), (all, video_item), (music, photo_item)]
            .into_iter()
            .collect()
    );

    let vault = tg.sent_to("@vault");
    assert_eq!(vault.len(), 2, "{vault:?}");
    let photo_msg = vault
        .iter()
        .find(|m| m.method == "sendPhoto")
        .expect("a photo");
    assert_eq!(photo_msg.parse_mode.as_deref(), Some("HTML"));
    let caption = photo_msg.caption.as_deref().unwrap();
    assert!(caption.contains("#music"), "{caption}");
    assert!(
        caption.contains("x.com/i/status/1580661436132757506"),
        "{caption}"
    );
    assert!(
        photo_msg.files.iter().any(|(_, n)| *n > 1000),
        "the archived image is uploaded"
    );
    let video_msg = vault
        .iter()
        .find(|m| m.method == "sendVideo")
        .expect("a video");
    assert!(
        video_msg.files.iter().any(|(_, n)| *n == 512 * 1024),
        "{video_msg:?}"
    );
    assert_eq!(tg.sent_to("-1001234").len(), 1);
    assert!(tg.sent_to("@muted").is_empty());

    // Nothing is posted twice, whatever reschedules happen.
    for id in [photo_item, video_item] {
        let again = vaultstream_core::db::push::schedule(&w.db, id)
            .await
            .unwrap();
        assert!(again.is_empty());
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(tg.sent().len(), 3, "{:?}", tg.sent());
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn albums_long_texts_and_html_specials() {
    let tg = FakeTelegram::start().await;
    let w = World::start(Stack::Embedded, with_telegram(&tg)).await;
    target(&w, json!({"chat_id": "@vault"})).await;
    let body = "Fish & chips <b>not bold</b> \"quoted\" 漢字😀 ".repeat(400);
    let page = format!(
        r#"<!doctype html><html><head><title>Three &lt;pictures&gt; &amp; a long story</title>
<meta property="og:title" content="Three <pictures> & a long story">
<meta property="og:image" content="https://img.example.net/cover.jpg"></head>
<body><article><h1>Three pictures</h1><p>{}</p>
<img src="https://img.example.net/a.jpg"><img src="https://img.example.net/b.jpg"><img src="https://img.example.net/c.jpg">
</article></body></html>"#,
        body.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    );
    w.replay
        .route("example.com/album", Reply::html(page))
        .route(
            "img.example.net/cover.jpg",
            Reply::bytes("image/jpeg", photo("coffee_small.jpg")),
        )
        .route(
            "img.example.net/a.jpg",
            Reply::bytes("image/jpeg", photo("astronaut_small.jpg")),
        )
        .route(
            "img.example.net/b.jpg",
            Reply::bytes("image/jpeg", photo("camera_small.jpg")),
        )
        .route(
            "img.example.net/c.jpg",
            Reply::bytes("image/jpeg", photo("rocket_small.jpg")),
        );
    share(&w, "https://example.com/album", &["c++", "long-read"]).await;
    records_until(&w, "the album is sent", |r| {
        with_status(r, "sent").len() == 1
    })
    .await;
    let sent = tg.sent_to("@vault");
    assert_eq!(sent.len(), 1, "{sent:?}");
    let album = &sent[0];
    assert_eq!(album.method, "sendMediaGroup");
    assert_eq!(album.media_count, 3, "the three article images, in order");
    assert_eq!(album.message_ids.len(), 3);
    let caption = album.caption.as_deref().unwrap();
    assert!(
        caption.starts_with("<b>Three &lt;pictures&gt; &amp; a long story</b>"),
        "{caption}"
    );
    assert!(caption.contains("Fish &amp; chips &lt;b&gt;not bold&lt;/b&gt; &quot;quoted&quot;"));
    assert!(caption.contains('…'), "the long text is shortened");
    assert!(
        caption.contains("#c #long_read") || caption.contains("#long_read"),
        "{caption}"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_429_storm_is_waited_out_and_posts_once() {
    let tg = FakeTelegram::start().await;
    let w = World::start(Stack::Embedded, with_telegram(&tg)).await;
    tweet_routes(&w);
    target(&w, json!({"chat_id": "@vault"})).await;
    tg.fail_next("sendPhoto", 3, FakeFailure::RetryAfter(1));
    let started = Instant::now();
    share(&w, "https://x.com/elonmusk/status/1580661436132757506", &[]).await;
    let records = records_until(&w, "sent after the storm", |r| {
        with_status(r, "sent").len() == 1
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "retry_after was honoured"
    );
    assert_eq!(tg.calls("sendPhoto"), 4, "three 429s, then the post");
    assert_eq!(tg.sent().len(), 1);
    assert_eq!(records[0]["attempts"].as_i64(), Some(4), "{:?}", records[0]);
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_uncertain_send_or_a_crash_after_claim_is_never_reposted() {
    let tg = FakeTelegram::start().await;
    let w = World::start(Stack::PostgresRedis, with_telegram(&tg)).await;
    tweet_routes(&w);
    let vault = target(&w, json!({"chat_id": "@vault"})).await;

    // The connection drops after Telegram got the post: the record stays
    // `sending`, visible, and is not sent again.
    tg.fail_next("sendPhoto", 1, FakeFailure::Disconnect);
    let first = share(&w, "https://x.com/elonmusk/status/1580661436132757506", &[]).await;
    let records = records_until(&w, "the uncertain send is noted", |r| {
        r.iter().any(|x| {
            x["status"] == "sending"
                && x["error_message"]
                    .as_str()
                    .is_some_and(|m| m.contains("unknown"))
        })
    })
    .await;
    let uncertain = records
        .iter()
        .find(|r| r["content_id"] == first)
        .unwrap()
        .clone();
    assert_eq!(tg.sent_to("@vault").len(), 1, "Telegram has it once");

    // A worker that died between claim and send: a `sending` record the
    // worker never saw finish.
    let second = share(&w, "https://twitter.com/i/status/1548602399862013953", &[]).await;
    let _ = second;
    // (the second item is pushed normally)
    records_until(&w, "the second item is sent", |r| {
        with_status(r, "sent").len() == 1
    })
    .await;
    let pulled_id = {
        // A third, crafted item whose record is claimed by "a worker that
        // then died": created pulled, scheduled and claimed directly.
        use sea_orm::{ActiveModelTrait, ActiveValue::Set};
        let identity = vaultstream_core::platform::Identity {
            platform: vaultstream_core::platform::Platform::Web,
            platform_id: "https://example.com/crashed".into(),
            canonical_url: "https://example.com/crashed".into(),
            kind: vaultstream_core::platform::ContentKind::Page,
        };
        let source = vaultstream_core::db::contents::NewSource {
            raw_text: "https://example.com/crashed".into(),
            submitted_url: "https://example.com/crashed".into(),
            resolved_url: None,
            channel: vaultstream_core::content::Channel::Api,
            tags: vec![],
            note: None,
            submitted_by: None,
            request_id: None,
        };
        let s = vaultstream_core::db::contents::submit(&w.db, &identity, source)
            .await
            .unwrap();
        let mut row: vaultstream_core::db::entities::content::ActiveModel =
            s.content.clone().into();
        row.status = Set(vaultstream_core::content::Status::Pulled);
        row.update(&w.db).await.unwrap();
        let ids = vaultstream_core::db::push::schedule(&w.db, s.content.id)
            .await
            .unwrap();
        assert_eq!(ids.len(), 1);
        let claimed = vaultstream_core::db::push::claim(&w.db, ids[0])
            .await
            .unwrap();
        assert!(claimed.is_some());
        s.content.id
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, body) = w.get("/api/v1/pushed-records?status=sending").await;
    let stuck: Vec<i64> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["content_id"].as_i64().unwrap())
        .collect();
    assert!(
        stuck.contains(&first) && stuck.contains(&pulled_id),
        "{body}"
    );
    assert_eq!(
        tg.sent_to("@vault").len(),
        2,
        "no automatic re-post: {:?}",
        tg.sent()
    );

    // The operator re-sends the uncertain one on purpose.
    let id = uncertain["id"].as_i64().unwrap();
    let (status, body) = post(
        &w,
        &format!("/api/v1/pushed-records/{id}/resend"),
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    records_until(&w, "the resend is sent", |r| {
        r.iter().any(|x| x["id"] == id && x["status"] == "sent")
    })
    .await;
    assert_eq!(tg.sent_to("@vault").len(), 3);
    let _ = vault;
    w.stop().await;
}

/// A self-thread goes out as its video with the thread's posts in order as
/// the caption, cut with "…" before the link when they do not all fit; an
/// article as its cover with its title and a summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thread_and_an_article_as_messages() {
    let tg = FakeTelegram::start().await;
    let w = World::start(Stack::Embedded, with_telegram(&tg)).await;
    target(&w, json!({"chat_id": "@vault"})).await;
    // VERBATIM FxTwitter v2 thread (5 posts, a video on the first), asked
    // for by its third post; TRIMMED real Bilibili article view.
    let mut thread: Value = serde_json::from_str(&fixture(
        "twitter/fxtwitter_v2_thread_2072439205213421694.json",
    ))
    .expect("json");
    thread["status"] = thread["thread"][2].clone();
    w.replay
        .route(
            "api.fxtwitter.com/2/thread/2072439209437380841",
            Reply::json(thread.to_string()),
        )
        .route(
            "pbs.twimg.com/",
            Reply::bytes("image/jpeg", photo("chelsea_small.jpg")),
        )
        .route(
            "video.twimg.com/",
            Reply::bytes("video/mp4", fake_mp4(256 * 1024, 9)),
        )
        .route(
            "api.bilibili.com/x/article/view?id=41358718",
            Reply::json(fixture(
                "bilibili/article_view_cv41358718_type3_ops.trimmed.json",
            )),
        )
        .route(
            "i0.hdslb.com/bfs/article/",
            Reply::bytes("image/jpeg", photo("coffee_small.jpg")),
        )
        .route(
            "i0.hdslb.com/bfs/new_dyn/",
            Reply::bytes("image/jpeg", photo("rocket_small.jpg")),
        );
    share(
        &w,
        "https://x.com/XCreators/status/2072439209437380841",
        &[],
    )
    .await;
    records_until(&w, "the thread is sent", |r| {
        with_status(r, "sent").len() == 1
    })
    .await;
    share(&w, "https://www.bilibili.com/read/cv41358718", &[]).await;
    records_until(&w, "the article is sent", |r| {
        with_status(r, "sent").len() == 2
    })
    .await;
    let sent = tg.sent_to("@vault");
    assert_eq!(sent.len(), 2, "{sent:?}");

    let video = &sent[0];
    assert_eq!(video.method, "sendVideo");
    let caption = video.caption.as_deref().expect("caption");
    assert!(
        caption.starts_with("<b>Thread by @XCreators</b>\n"),
        "{caption}"
    );
    assert!(caption.contains("1/5 Introducing Live Studio"), "{caption}");
    assert!(
        caption.contains("\n\n3/5 ▸ Everything you need"),
        "the shared post: {caption}"
    );
    assert!(
        !caption.contains("5/5"),
        "cut before the last post: {caption}"
    );
    // "…" where the thread was cut, then the stats and the link.
    assert!(caption.contains("\n\n…\n\n👁 "), "{caption}");
    assert!(
        caption.ends_with("/status/2072439209437380841\">X (Twitter)</a>"),
        "{caption}"
    );

    let photo_msg = &sent[1];
    assert_eq!(photo_msg.method, "sendPhoto", "the cover alone");
    assert_eq!(photo_msg.media_count, 1);
    let caption = photo_msg.caption.as_deref().expect("caption");
    assert!(
        caption.starts_with("<b>通过 DevTools 绕过 SSR 抓包某站专栏正文接口</b>\n"),
        "{caption}"
    );
    let summary = caption.split("\n\n").nth(1).expect("summary");
    assert!(summary.starts_with("背景 最近没什么事做"), "{summary}");
    // About 300 characters as Telegram counts them (entities as one).
    let visible = summary
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    assert!(
        summary.ends_with('…') && visible.encode_utf16().count() <= 300,
        "{summary}"
    );
    assert!(summary.contains("&lt;script&gt;"), "escaped: {summary}");
    assert!(
        caption.contains("/read/cv41358718\">Bilibili</a>"),
        "{caption}"
    );
    w.stop().await;
}

/// Refresh an item now and wait until that refresh is stored.
async fn refresh_round(w: &World, id: i64) {
    use sea_orm::EntityTrait;
    let rounds = || async {
        vaultstream_core::db::entities::refresh::Entity::find_by_id(id)
            .one(&w.db)
            .await
            .unwrap()
            .map_or(0, |r| r.rounds)
    };
    let before = rounds().await;
    let (status, body) = post(w, &format!("/api/v1/contents/{id}/refresh"), json!({})).await;
    assert_eq!(status, 202, "{body}");
    wait::until(Duration::from_secs(30), "the refresh stored", || async {
        let now = rounds().await;
        if now > before { Ok(()) } else { Err(now) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chats_that_asked_hear_once_that_an_original_is_gone() {
    let tg = FakeTelegram::start().await;
    let w = World::start(Stack::Embedded, |env| {
        with_telegram(&tg)(env);
        env.set("REFRESH_CONFIRM_AFTER_MS", "300");
    })
    .await;
    tweet_routes(&w);
    let told = target(&w, json!({"chat_id": "@toldchat", "notify_deleted": true})).await;
    let quiet = target(&w, json!({"chat_id": "@quietchat"})).await;
    // A target that asked but never received the item hears nothing.
    let (status, late) = post(
        &w,
        "/api/v1/push-targets",
        json!({"chat_id": "@otherchat", "notify_deleted": true, "tags": ["never"]}),
    )
    .await;
    assert_eq!(status, 201, "{late}");
    assert_eq!(late["notify_deleted"], true);
    let id = share(&w, "https://x.com/elonmusk/status/1580661436132757506", &[]).await;
    records_until(&w, "the item sent to both chats", |r| {
        with_status(r, "sent").len() == 2
    })
    .await;
    let item_msg = tg.sent_to("@toldchat")[0].message_ids[0];

    // Gone upstream: the first 404 is only suspected — no notice yet.
    w.replay.route(
        "api.fxtwitter.com/status/1580661436132757506",
        Reply::status(404, fixture("twitter/fxtwitter_status_not_found.json")),
    );
    refresh_round(&w, id).await;
    let (_, item) = w.get(&format!("/api/v1/contents/{id}")).await;
    assert_eq!(item["upstream_state"], "live", "{item}");
    assert_eq!(tg.sent_to("@toldchat").len(), 1, "no notice on one 404");
    // The confirming refetch runs by itself; then one notice, in reply to
    // the item's message, to the chat that asked.
    let records = records_until(&w, "the deletion notice sent", |r| {
        r.iter()
            .any(|x| x["event"] == "deleted_upstream" && x["status"] == "sent")
    })
    .await;
    let notices: Vec<&Value> = records
        .iter()
        .filter(|r| r["event"] == "deleted_upstream")
        .collect();
    assert_eq!(notices.len(), 1, "{records:?}");
    assert_eq!(notices[0]["target_id"], told);
    let told_msgs = tg.sent_to("@toldchat");
    assert_eq!(told_msgs.len(), 2, "{told_msgs:?}");
    let notice = &told_msgs[1];
    assert_eq!(notice.method, "sendMessage");
    let text = notice.text.as_deref().unwrap();
    assert!(text.contains("Deleted upstream on "), "{text}");
    assert!(text.contains("archived copy stays"), "{text}");
    assert_eq!(
        notice.raw["reply_parameters"]["message_id"], item_msg,
        "a reply to the item's message: {:?}",
        notice.raw
    );
    assert_eq!(
        tg.sent_to("@quietchat").len(),
        1,
        "quiet chats hear nothing"
    );
    assert!(tg.sent_to("@otherchat").is_empty());
    let _ = quiet;

    // Still gone, then back, then gone again: never a second notice.
    refresh_round(&w, id).await;
    w.replay.route(
        "api.fxtwitter.com/status/1580661436132757506",
        Reply::json(fixture("twitter/fxtwitter_status_1580661436132757506.json")),
    );
    refresh_round(&w, id).await;
    let (_, item) = w.get(&format!("/api/v1/contents/{id}")).await;
    assert_eq!(item["upstream_state"], "live", "{item}");
    w.replay.route(
        "api.fxtwitter.com/status/1580661436132757506",
        Reply::status(404, fixture("twitter/fxtwitter_status_not_found.json")),
    );
    refresh_round(&w, id).await;
    wait::until(Duration::from_secs(30), "deleted again", || async {
        let (_, item) = w.get(&format!("/api/v1/contents/{id}")).await;
        if item["upstream_state"] == "deleted" {
            Ok(())
        } else {
            Err(item)
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(tg.sent_to("@toldchat").len(), 2, "one notice, ever");
    w.stop().await;
}
