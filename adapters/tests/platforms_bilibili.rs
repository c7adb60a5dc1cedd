//! Bilibili: view API (+ playurl), dynamic detail API, error codes.

use vaultstream_core::parsed::{ErrorClass, MediaRole};
use vaultstream_core::{ContentKind, Platform};

use crate::support::{Replay, ReplayExt, Reply, fixture, request};
use crate::{assert_error_matrix, fetch_err};

const HOSTS: &[&str] = &["api.bilibili.com"];
const VIEW: &str = "api.bilibili.com/x/web-interface/view?bvid=BV117411r7R1";

fn video_req() -> vaultstream_adapters::fetch::FetchRequest {
    request(Platform::Bilibili, "BV117411r7R1", ContentKind::Video)
}

#[tokio::test]
async fn video_happy_path() {
    let server = Replay::start(HOSTS).await;
    server
        .route(
            VIEW,
            Reply::json(fixture("bilibili/view_BV117411r7R1.json")),
        )
        // The playurl fixture is for another video (BV1y7411Q7Eq); the
        // adapter only reads `durl[0]` and `timelength` from it.
        .route(
            "api.bilibili.com/x/player/playurl?",
            Reply::json(fixture("bilibili/playurl_BV1y7411Q7Eq_cid171776208.json")),
        );
    let item = server.fetcher().fetch(&video_req()).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Video));
    assert_eq!(
        item.title.as_deref(),
        Some("当我给拜年祭的快板加了电音配乐…")
    );
    let text = item.text.as_deref().expect("text");
    assert!(
        text.starts_with("【CB想说的】看完拜年祭之后最爱的一个节目！"),
        "{text}"
    );
    assert!(text.ends_with("包装：破晓天"));
    assert!(
        item.html
            .as_deref()
            .is_some_and(|h| h.starts_with("<p>【CB想说的】") && h.contains("<br>"))
    );
    let author = item.author.as_ref().expect("author");
    assert_eq!(author.name.as_deref(), Some("陈楒潼桶桶桶"));
    assert_eq!(author.id.as_deref(), Some("66606350"));
    assert_eq!(
        author.url.as_deref(),
        Some("https://space.bilibili.com/66606350")
    );
    assert_eq!(
        author.avatar_url.as_deref(),
        Some("https://i2.hdslb.com/bfs/face/c9af3b32cf74baec5a4b65af8ca18ae5ff571f77.jpg")
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_580_377_255)
    );
    let stats: Vec<(&str, i64)> = item.stats.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        stats,
        vec![
            ("coins", 72793),
            ("comments", 2676),
            ("danmaku", 12348),
            ("favorites", 58329),
            ("likes", 161270),
            ("shares", 9620),
            ("views", 2404179),
        ]
    );
    assert_eq!(
        item.tags,
        vec![
            "全民音乐UP主",
            "CB",
            "warma",
            "电音",
            "快板",
            "拜年祭",
            "诸神的奥运",
            "编曲",
            "Remix"
        ]
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.bilibili.com/video/BV117411r7R1")
    );
    assert_eq!(item.media.len(), 2);
    let cover = &item.media[0];
    assert_eq!(cover.role, MediaRole::Cover);
    assert_eq!(
        cover.url,
        "http://i1.hdslb.com/bfs/archive/ea0dd34bf41e23a68175680a00e3358cd249105f.jpg"
    );
    assert_eq!((cover.width, cover.height), (Some(1920), Some(1080)));
    assert_eq!(
        cover.headers.get("Referer").map(String::as_str),
        Some("https://www.bilibili.com/")
    );
    let video = &item.media[1];
    assert_eq!(video.role, MediaRole::Video);
    assert!(video.url.starts_with("https://"), "{}", video.url);
    assert_eq!(
        video.headers.get("Referer").map(String::as_str),
        Some("https://www.bilibili.com/")
    );
    assert_eq!(
        item.raw.pointer("/data/bvid").and_then(|v| v.as_str()),
        Some("BV117411r7R1")
    );

    // Requests carried the Referer and asked for the first part's cid.
    let hits = server.hits();
    assert!(
        hits[0]
            .headers
            .get("referer")
            .is_some_and(|r| r == "https://www.bilibili.com/")
    );
    assert!(
        hits.iter()
            .any(|h| h.target.contains("playurl?bvid=BV117411r7R1&cid=146044693")),
        "{hits:?}"
    );
}

#[tokio::test]
async fn video_without_playurl_or_optional_fields() {
    // Synthetic: a view body reduced to the two fields we require.
    let server = Replay::start(HOSTS).await;
    server
        .route(
            VIEW,
            Reply::json(r#"{"code":0,"message":"0","data":{"bvid":"BV117411r7R1","title":"t"}}"#),
        )
        .route(
            "api.bilibili.com/x/player/playurl?",
            Reply::status(500, "{}"),
        );
    let item = server.fetcher().fetch(&video_req()).await.expect("fetches");
    assert_eq!(item.title.as_deref(), Some("t"));
    assert_eq!(item.text, None);
    assert_eq!(item.author, None);
    assert_eq!(item.published_at, None);
    assert!(item.stats.is_empty() && item.tags.is_empty() && item.media.is_empty());
}

#[tokio::test]
async fn deleted_video_is_permanent() {
    let server = Replay::start(HOSTS).await;
    server.route(VIEW, Reply::json(fixture("bilibili/view_error_-404.json")));
    let err = fetch_err(&server, &video_req()).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.detail
            .as_deref()
            .is_some_and(|d| d.contains("-404") && d.contains("啥都木有")),
        "{err:?}"
    );
}

#[tokio::test]
async fn login_and_risk_control_codes() {
    // Synthetic envelopes with documented codes.
    for (body, class) in [
        (
            r#"{"code":-101,"message":"账号未登录","ttl":1}"#,
            ErrorClass::AuthRequired,
        ),
        (
            r#"{"code":-403,"message":"访问权限不足","ttl":1}"#,
            ErrorClass::AuthRequired,
        ),
        (
            r#"{"code":-352,"message":"风控校验失败","ttl":1}"#,
            ErrorClass::RateLimited,
        ),
        (
            r#"{"code":62002,"message":"稿件不可见","ttl":1}"#,
            ErrorClass::Permanent,
        ),
        (r#"{"message":"no code"}"#, ErrorClass::Permanent),
    ] {
        let server = Replay::start(HOSTS).await;
        server.route(VIEW, Reply::json(body));
        assert_eq!(
            fetch_err(&server, &video_req()).await.class,
            class,
            "{body}"
        );
    }
    let server = Replay::start(HOSTS).await;
    server.route(VIEW, Reply::status(412, "blocked"));
    assert_eq!(
        fetch_err(&server, &video_req()).await.class,
        ErrorClass::RateLimited
    );
}

#[tokio::test]
async fn video_http_errors() {
    assert_error_matrix(
        HOSTS,
        VIEW,
        &video_req(),
        ErrorClass::AuthRequired,
        Reply::json("<html>oops"),
    )
    .await;
}

#[tokio::test]
async fn dynamic_happy_path() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.bilibili.com/x/polymer/web-dynamic/v1/detail?id=967717348014293017",
        Reply::json(fixture("bilibili/dynamic_detail_967717348014293017.json")),
    );
    let req = request(
        Platform::Bilibili,
        "dynamic:967717348014293017",
        ContentKind::Post,
    );
    let item = server.fetcher().fetch(&req).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Post));
    assert_eq!(item.title, None);
    assert_eq!(
        item.text.as_deref(),
        Some(
            "今天因为Linux被骂, 决定放弃支持 Windows. 而且明天要开始军训了, 将停更若干时间, 遂发此动态, 望不知."
        )
    );
    let author = item.author.as_ref().expect("author");
    assert_eq!(author.name.as_deref(), Some("Session小胡"));
    assert_eq!(author.id.as_deref(), Some("645769214"));
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_724_152_653)
    );
    assert_eq!(item.stats.get("likes"), Some(&65));
    assert_eq!(item.stats.get("comments"), Some(&34));
    assert_eq!(item.stats.get("shares"), Some(&2));
    assert_eq!(item.media.len(), 1);
    assert_eq!(item.media[0].role, MediaRole::Image);
    assert_eq!(
        item.media[0].url,
        "http://i0.hdslb.com/bfs/new_dyn/0f6f939334104ddc347566514fa4bfa7645769214.jpg"
    );
    assert_eq!(
        (item.media[0].width, item.media[0].height),
        (Some(1440), Some(1080))
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.bilibili.com/opus/967717348014293017")
    );
    assert!(item.raw.pointer("/data/item/id_str").is_some());
}

#[tokio::test]
async fn unsupported_kinds_are_permanent() {
    let server = Replay::start(HOSTS).await;
    for id in ["cv123", "ep456", "ss789"] {
        let err = fetch_err(
            &server,
            &request(Platform::Bilibili, id, ContentKind::Article),
        )
        .await;
        assert_eq!(err.class, ErrorClass::Permanent);
        assert!(err.message.contains("not supported yet"), "{err:?}");
    }
    assert!(server.hits().is_empty());
}
