//! Douyin: the iesdouyin share page's _ROUTER_DATA.

use vaultstream_core::parsed::{ErrorClass, MediaRole};
use vaultstream_core::{ContentKind, Platform};

use crate::support::{Replay, ReplayExt, Reply, fixture, request};
use crate::{assert_error_matrix, fetch_err};

const HOSTS: &[&str] = &["www.iesdouyin.com"];
const PAGE: &str = "www.iesdouyin.com/share/video/7535852404919586100/";

fn req() -> vaultstream_adapters::fetch::FetchRequest {
    request(Platform::Douyin, "7535852404919586100", ContentKind::Video)
}

#[tokio::test]
async fn video_happy_path() {
    let server = Replay::start(HOSTS).await;
    server.route(
        PAGE,
        Reply::html(fixture("douyin/share_video_7535852404919586100.html")),
    );
    let item = server.fetcher().fetch(&req()).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Video));
    assert_eq!(
        item.text.as_deref(),
        Some("恐怖小狗《The Puppy》一命速通 #恐怖游戏 #steam")
    );
    assert_eq!(item.title, item.text);
    assert_eq!(item.tags, vec!["恐怖游戏", "steam"]);
    let a = item.author.as_ref().expect("author");
    assert_eq!(a.name.as_deref(), Some("式子大王"));
    assert_eq!(
        a.id.as_deref(),
        Some("MS4wLjABAAAAwJYnMkU3OD9tFsyxKQDJmIGfgYZ2lgi10ta9BsejXOA-m2pDSN0v9XVg2dJaeVvP")
    );
    assert!(
        a.avatar_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://p3.douyinpic.com/aweme/100x100/"))
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_754_577_401)
    );
    let stats: Vec<(&str, i64)> = item.stats.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    // play_count is 0 on share pages: left out.
    assert_eq!(
        stats,
        vec![
            ("collects", 2804),
            ("comments", 178),
            ("likes", 7007),
            ("shares", 474)
        ]
    );
    assert_eq!(item.media.len(), 2);
    let cover = &item.media[0];
    assert_eq!(cover.role, MediaRole::Cover);
    assert!(
        cover.url.starts_with(
            "https://p3-sign.douyinpic.com/tos-cn-i-dy/dd954010955847ea8f5493d60d984341"
        )
    );
    assert_eq!((cover.width, cover.height), (Some(540), Some(720)));
    let v = &item.media[1];
    assert_eq!(v.role, MediaRole::Video);
    assert_eq!(
        v.url,
        "https://aweme.snssdk.com/aweme/v1/playwm/?video_id=v0200fg10000d2abjffog65h5b4rsmng&ratio=720p&line=0"
    );
    assert_eq!((v.width, v.height), (Some(1920), Some(1080)));
    assert_eq!(v.duration_secs, Some(352.596));
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.douyin.com/video/7535852404919586100")
    );
    assert!(item.raw.pointer("/loaderData").is_some());
    let hit = &server.hits()[0];
    assert!(
        hit.headers
            .get("user-agent")
            .is_some_and(|u| u.contains("iPhone"))
    );
}

#[tokio::test]
async fn photo_post_and_deleted_item() {
    // Synthetic router data on the documented keys (no real photo-post capture exists).
    let photo = r#"<script>window._ROUTER_DATA = {"loaderData":{"note_(id)/page":{"videoInfoRes":{"status_code":0,"filter_list":[],"item_list":[{"aweme_id":"1","desc":"","images":[{"url_list":["https://p3.douyinpic.com/a.webp"],"width":1080,"height":1440},{"url_list":["https://p3.douyinpic.com/b.webp"]}],"video":{"play_addr":{"url_list":["https://aweme.snssdk.com/music.mp3"]}}}]}}}};</script>"#;
    let server = Replay::start(HOSTS).await;
    server.route("www.iesdouyin.com/share/video/1/", Reply::html(photo));
    let item = server
        .fetcher()
        .fetch(&request(Platform::Douyin, "1", ContentKind::Video))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Note));
    assert_eq!(item.text, None);
    let urls: Vec<(MediaRole, &str)> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str()))
        .collect();
    assert_eq!(
        urls,
        vec![
            (MediaRole::Image, "https://p3.douyinpic.com/a.webp"),
            (MediaRole::Image, "https://p3.douyinpic.com/b.webp"),
        ]
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.douyin.com/note/1")
    );

    let gone = r#"<script>window._ROUTER_DATA = {"loaderData":{"video_(id)/page":{"videoInfoRes":{"status_code":0,"item_list":[],"filter_list":[{"filter_reason":"status_deleted","detail_msg":"作品已删除"}]}}}}</script>"#;
    let server = Replay::start(HOSTS).await;
    server.route(PAGE, Reply::html(gone));
    let err = fetch_err(&server, &req()).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_eq!(err.detail.as_deref(), Some("作品已删除"));
}

#[tokio::test]
async fn shell_page_without_data_wants_cookies() {
    let shell = r#"<script>window._ROUTER_DATA = {"loaderData":{"video_(id)/page":{"ua":"x"}},"errors":null}</script>"#;
    let server = Replay::start(HOSTS).await;
    server.route(PAGE, Reply::html(shell));
    assert_eq!(
        fetch_err(&server, &req()).await.class,
        ErrorClass::AuthRequired
    );
}

#[tokio::test]
async fn http_errors() {
    assert_error_matrix(
        HOSTS,
        PAGE,
        &req(),
        ErrorClass::AuthRequired,
        Reply::html("<html><body>no router data</body></html>"),
    )
    .await;
}
