//! The Telegram client against the fake Bot API (testkit::telegram).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vaultstream_telegram::client::{ChatTarget, SendError, Telegram, Upload};
use vaultstream_testkit::telegram::{FakeFailure, FakeTelegram};
use vaultstream_testkit::wait;

const CHANNEL: i64 = -1_001_234_567_890;

async fn setup() -> (FakeTelegram, Telegram) {
    let fake = FakeTelegram::start().await;
    let tg = Telegram::new(&fake.token, Some(&fake.url()));
    (fake, tg)
}

fn jpeg(n: usize) -> Upload {
    Upload::new(format!("photo-{n}.jpg"), vec![0xFFu8; 1000 + n])
}

#[tokio::test]
async fn send_text_is_html_to_the_chat() {
    let (fake, tg) = setup().await;
    let chat = ChatTarget::Id(CHANNEL);
    let ids = tg
        .send_text(&chat, "<b>Title</b> &amp; more", true)
        .await
        .unwrap();
    let ids2 = tg.send_text(&chat, "second", false).await.unwrap();
    assert_eq!(ids, vec![1]);
    assert_eq!(ids2, vec![2], "message ids increase per chat");

    let sent = fake.sent_to(&CHANNEL.to_string());
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].method, "sendMessage");
    assert_eq!(sent[0].text.as_deref(), Some("<b>Title</b> &amp; more"));
    assert_eq!(sent[0].parse_mode.as_deref(), Some("HTML"));
    assert_eq!(sent[0].media_count, 0);
    assert_eq!(
        sent[0].raw["link_preview_options"]["is_disabled"],
        json!(true)
    );
    assert!(sent[1].raw.get("link_preview_options").is_none());
    assert_eq!(fake.calls("sendMessage"), 2);
}

#[tokio::test]
async fn send_text_to_a_channel_username() {
    let (fake, tg) = setup().await;
    let chat: ChatTarget = "@vault".parse().unwrap();
    tg.send_text(&chat, "hi", false).await.unwrap();
    assert_eq!(fake.sent_to("@vault").len(), 1);
}

#[tokio::test]
async fn send_photo_uploads_the_file_with_caption() {
    let (fake, tg) = setup().await;
    let chat = ChatTarget::Id(CHANNEL);
    let ids = tg
        .send_photo(&chat, jpeg(5), Some("<i>caption</i>"))
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    let m = &sent[0];
    assert_eq!(m.method, "sendPhoto");
    assert_eq!(m.chat_id, CHANNEL.to_string());
    assert_eq!(m.caption.as_deref(), Some("<i>caption</i>"));
    assert_eq!(m.parse_mode.as_deref(), Some("HTML"));
    assert_eq!(m.media_count, 1);
    assert_eq!(m.files.len(), 1);
    assert_eq!(m.files[0].1, 1005);
    assert_eq!(m.raw["_files"][0]["filename"], json!("photo-5.jpg"));
}

#[tokio::test]
async fn send_album_of_three() {
    let (fake, tg) = setup().await;
    let chat = ChatTarget::Id(CHANNEL);
    let ids = tg
        .send_album(&chat, vec![jpeg(1), jpeg(2), jpeg(3)], Some("<b>album</b>"))
        .await
        .unwrap();
    assert_eq!(ids, vec![1, 2, 3]);
    let sent = fake.sent_to(&CHANNEL.to_string());
    assert_eq!(sent.len(), 1);
    let m = &sent[0];
    assert_eq!(m.method, "sendMediaGroup");
    assert_eq!(m.media_count, 3);
    assert_eq!(m.caption.as_deref(), Some("<b>album</b>"));
    assert_eq!(m.parse_mode.as_deref(), Some("HTML"));
    let mut sizes: Vec<usize> = m.files.iter().map(|f| f.1).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![1001, 1002, 1003]);
    let media = m.raw["media"].as_array().unwrap();
    assert!(
        media[1].get("caption").is_none(),
        "caption only on the first"
    );
    assert_eq!(m.message_ids, ids);
}

#[tokio::test]
async fn album_needs_two_to_ten() {
    let (fake, tg) = setup().await;
    let chat = ChatTarget::Id(CHANNEL);
    let err = tg.send_album(&chat, vec![jpeg(1)], None).await.unwrap_err();
    assert!(matches!(err, SendError::Rejected(_)), "{err:?}");
    let eleven = (0..11).map(jpeg).collect();
    assert!(tg.send_album(&chat, eleven, None).await.is_err());
    assert_eq!(fake.calls("sendMediaGroup"), 0);
}

#[tokio::test]
async fn send_video_uploads_the_file() {
    let (fake, tg) = setup().await;
    let chat = ChatTarget::Id(CHANNEL);
    let video = Upload::new("clip.mp4", vec![1u8; 4321]);
    tg.send_video(&chat, video, Some("clip")).await.unwrap();
    let m = &fake.sent()[0];
    assert_eq!(m.method, "sendVideo");
    assert_eq!(m.media_count, 1);
    assert_eq!(m.caption.as_deref(), Some("clip"));
    assert_eq!(m.parse_mode.as_deref(), Some("HTML"));
    assert_eq!(m.files, vec![(m.files[0].0.clone(), 4321)]);
}

#[tokio::test]
async fn rate_limit_is_retry_after_and_not_sent() {
    let (fake, tg) = setup().await;
    fake.fail_next("sendMessage", 1, FakeFailure::RetryAfter(1));
    let chat = ChatTarget::Id(CHANNEL);
    let started = Instant::now();
    let err = tg.send_text(&chat, "x", false).await.unwrap_err();
    assert_eq!(err, SendError::RetryAfter(Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(1), "no auto-retry");
    assert_eq!(fake.calls("sendMessage"), 1);
    assert!(fake.sent().is_empty());
    // The next attempt goes through.
    tg.send_text(&chat, "x", false).await.unwrap();
    assert_eq!(fake.calls("SendMessage"), 2);
    assert_eq!(fake.sent().len(), 1);
}

#[tokio::test]
async fn rate_limit_on_uploads_too() {
    let (fake, tg) = setup().await;
    fake.fail_next("sendMediaGroup", 1, FakeFailure::RetryAfter(7));
    let err = tg
        .send_album(&ChatTarget::Id(CHANNEL), vec![jpeg(1), jpeg(2)], None)
        .await
        .unwrap_err();
    assert_eq!(err, SendError::RetryAfter(Duration::from_secs(7)));
    assert_eq!(fake.calls("sendmediagroup"), 1);
}

#[tokio::test]
async fn chat_not_found_is_rejected() {
    let (fake, tg) = setup().await;
    fake.fail_next(
        "sendPhoto",
        1,
        FakeFailure::Error(400, "Bad Request: chat not found".into()),
    );
    let err = tg
        .send_photo(&ChatTarget::Id(CHANNEL), jpeg(1), None)
        .await
        .unwrap_err();
    match &err {
        SendError::Rejected(msg) => assert!(msg.contains("chat not found"), "{msg}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(fake.sent().is_empty());
}

#[tokio::test]
async fn blocked_and_bad_html_are_rejected() {
    let (fake, tg) = setup().await;
    fake.fail_next(
        "sendMessage",
        1,
        FakeFailure::Error(403, "Forbidden: bot was blocked by the user".into()),
    );
    let chat = ChatTarget::Id(42);
    let err = tg.send_text(&chat, "x", false).await.unwrap_err();
    assert!(matches!(err, SendError::Rejected(_)), "{err:?}");
    // The fake checks HTML like Telegram does: an unescaped `<` is refused.
    let err = tg.send_text(&chat, "1 < 2", false).await.unwrap_err();
    match err {
        SendError::Rejected(msg) => assert!(msg.contains("can't parse entities"), "{msg}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    let long = "a".repeat(4097);
    let err = tg.send_text(&chat, &long, false).await.unwrap_err();
    assert!(matches!(err, SendError::Rejected(_)), "{err:?}");
}

#[tokio::test]
async fn closed_port_is_not_sent() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let tg = Telegram::new("1:x", Some(&url));
    let err = tg
        .send_text(&ChatTarget::Id(CHANNEL), "x", false)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::NotSent(_)), "{err:?}");
    assert!(err.certainly_not_sent() && err.is_retryable());
}

#[tokio::test]
async fn broken_answer_is_unknown() {
    let (fake, tg) = setup().await;
    fake.fail_next("sendMessage", 1, FakeFailure::Disconnect);
    let err = tg
        .send_text(&ChatTarget::Id(CHANNEL), "x", false)
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Unknown(_)), "{err:?}");
    assert!(!err.certainly_not_sent());
    // The fake delivered it: exactly the case the pusher must not repeat.
    assert_eq!(fake.sent().len(), 1);
}

#[test]
fn chat_target_parsing() {
    assert_eq!(
        "-100123".parse::<ChatTarget>().unwrap(),
        ChatTarget::Id(-100_123)
    );
    assert_eq!("42".parse::<ChatTarget>().unwrap(), ChatTarget::Id(42));
    assert_eq!(
        "@vault_stream".parse::<ChatTarget>().unwrap(),
        ChatTarget::Username("@vault_stream".into())
    );
    for bad in [
        "",
        "@",
        "vault",
        "@1abc",
        "@has space",
        "12a",
        "0",
        "+5",
        "@a-b",
    ] {
        assert!(
            bad.parse::<ChatTarget>().is_err(),
            "{bad:?} should not parse"
        );
    }
    assert_eq!(ChatTarget::Id(-100_123).to_string(), "-100123");
    assert_eq!(ChatTarget::Username("@vault".into()).to_string(), "@vault");
}

#[tokio::test]
async fn from_settings_needs_a_token() {
    use vaultstream_core::Settings;
    use vaultstream_core::settings::SettingsSources;
    let none =
        Settings::load(&SettingsSources::new().with_env(Vec::<(String, String)>::new())).unwrap();
    assert!(Telegram::from_settings(&none).is_none());

    let fake = FakeTelegram::start().await;
    let s = Settings::load(&SettingsSources::new().with_env([
        (
            "VAULTSTREAM_TELEGRAM_BOT_TOKEN".to_owned(),
            fake.token.clone(),
        ),
        ("VAULTSTREAM_TELEGRAM_API_URL".to_owned(), fake.base.clone()),
    ]))
    .unwrap();
    let tg = Telegram::from_settings(&s).expect("token set");
    assert!(
        !format!("{tg:?}").contains(&fake.token),
        "token never printed"
    );
    tg.send_text(&ChatTarget::Id(5), "via settings", false)
        .await
        .unwrap();
    assert_eq!(fake.sent_to("5").len(), 1);
}

#[tokio::test]
async fn get_updates_long_polls_and_respects_offset() {
    let fake = FakeTelegram::start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/bot{}/getUpdates", fake.base, fake.token);

    // Nothing queued: a short poll returns [] after the timeout.
    let started = Instant::now();
    let v: Value = client
        .post(&url)
        .json(&json!({"timeout": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"ok": true, "result": []}));
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A poll blocks until a message arrives.
    let poll = tokio::spawn({
        let client = client.clone();
        let url = url.clone();
        async move {
            let started = Instant::now();
            let v: Value = client
                .post(&url)
                .json(&json!({"timeout": 20}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (v, started.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    fake.user_message(7, 7, "/save https://b23.tv/abc");
    let (v, waited) = poll.await.unwrap();
    assert!(waited < Duration::from_secs(5), "woke on push: {waited:?}");
    let updates = v["result"].as_array().unwrap();
    assert_eq!(updates.len(), 1);
    let u = &updates[0];
    let id = u["update_id"].as_i64().unwrap();
    assert_eq!(u["message"]["text"], "/save https://b23.tv/abc");
    assert_eq!(u["message"]["from"]["id"], 7);
    assert_eq!(u["message"]["chat"]["type"], "private");
    assert_eq!(
        u["message"]["entities"],
        json!([{"type": "bot_command", "offset": 0, "length": 5},
               {"type": "url", "offset": 6, "length": 18}])
    );

    // Without a new offset the update is delivered again…
    fake.user_message(7, 7, "second");
    let v: Value = client
        .get(format!("{url}?timeout=0"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["result"].as_array().unwrap().len(), 2);
    // …and offset = last + 1 confirms it.
    let v: Value = client
        .post(&url)
        .json(&json!({"offset": id + 1, "timeout": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let result = v["result"].as_array().unwrap();
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["update_id"].as_i64(), Some(id + 1));
    assert_eq!(result[0]["message"]["text"], "second");
    assert_eq!(fake.calls("getupdates"), 4);
    assert_eq!(fake.pending_updates(), 1);
}

#[tokio::test]
async fn teloxide_polls_the_fake() {
    use teloxide::prelude::*;
    let (fake, tg) = setup().await;
    let me = tg.bot().get_me().await.unwrap();
    assert_eq!(me.username(), vaultstream_testkit::telegram::BOT_USERNAME);
    fake.user_message(9, 9, "hello https://example.com/x");
    let updates = tg.bot().get_updates().timeout(5).await.unwrap();
    assert_eq!(updates.len(), 1);
    let msg = match &updates[0].kind {
        teloxide::types::UpdateKind::Message(m) => m.clone(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(msg.text(), Some("hello https://example.com/x"));
    assert_eq!(msg.from.as_ref().map(|u| u.id.0), Some(9));
    // Unknown methods answer 404 "method not found" → Rejected.
    let v: Value = reqwest::Client::new()
        .post(format!("{}/bot{}/noSuchMethod", fake.base, fake.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["error_code"], 404);
    assert_eq!(v["description"], "Not Found: method not found");
}

#[tokio::test]
async fn teloxide_dispatcher_runs_against_the_fake() {
    use teloxide::prelude::*;
    let (fake, tg) = setup().await;
    let handler = Update::filter_message().endpoint(|bot: Bot, msg: Message| async move {
        let text = format!("echo: {}", msg.text().unwrap_or_default());
        bot.send_message(msg.chat.id, text).await?;
        respond(())
    });
    let mut dispatcher = Dispatcher::builder(tg.bot().clone(), handler).build();
    let task = tokio::spawn(async move { dispatcher.dispatch().await });
    fake.user_message(11, 11, "/save https://example.com/a");
    wait::at_most(Duration::from_secs(10), || async {
        !fake.sent_to("11").is_empty()
    })
    .await;
    task.abort();
    let sent = fake.sent_to("11");
    assert_eq!(sent.len(), 1, "the dispatcher answered once");
    assert_eq!(
        sent[0].text.as_deref(),
        Some("echo: /save https://example.com/a")
    );
    assert!(fake.calls("getWebhookInfo") >= 1);
    assert!(fake.calls("getMe") >= 1);
}
