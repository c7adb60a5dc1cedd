//! Douyin: the iesdouyin share page's _ROUTER_DATA.
//!
//! The image-note page is ASSEMBLED (documented shape, placeholder values;
//! see tests/fixtures/PROVENANCE.md): no recorded image-note answer was
//! found.

use serde_json::json;
use vaultstream_core::parsed::{ErrorClass, MediaRole};
use vaultstream_core::{ContentKind, Platform};

use crate::support::{Replay, ReplayExt, Reply, fixture, request};
use crate::{assert_error_matrix, fetch_err};

const HOSTS: &[&str] = &["www.iesdouyin.com"];
const PAGE: &str = "www.iesdouyin.com/share/video/7535852404919586100/";

/// Only a phone UA gets the server-rendered share page.
fn asked_as_a_phone(server: &Replay) {
    let hit = &server.hits()[0];
    assert!(
        hit.headers
            .get("user-agent")
            .is_some_and(|u| u.contains("iPhone"))
    );
}

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
    asked_as_a_phone(&server);
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

const NOTE_ID: &str = "7000000000000000068";

fn note_req() -> vaultstream_adapters::fetch::FetchRequest {
    request(Platform::Douyin, NOTE_ID, ContentKind::Note)
}

#[tokio::test]
async fn image_note_with_a_live_photo() {
    let server = Replay::start(HOSTS).await;
    server.route(
        &format!("www.iesdouyin.com/share/note/{NOTE_ID}/"),
        Reply::html(fixture(
            "douyin/share_note_7000000000000000068.assembled.html",
        )),
    );
    let item = server.fetcher().fetch(&note_req()).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Note));
    assert_eq!(
        item.text.as_deref(),
        Some("三张图，第三张是实况 #assembled")
    );
    let p = "https://p3-pc-sign.douyinpic.com/tos-cn-i-0813/";
    let media: Vec<_> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.clone(), m.width, m.height, m.duration_secs))
        .collect();
    assert_eq!(
        media,
        vec![
            (
                MediaRole::Cover,
                format!("{p}a1~tplv-dy-resize-walign-adapt-aq:540:q75.webp?c=1"),
                Some(540),
                Some(720),
                None
            ),
            // Not the `water` rendition listed first.
            (
                MediaRole::Image,
                format!("{p}a1~tplv-dy-aweme-images:q75.webp?x=1"),
                Some(1080),
                Some(1440),
                None
            ),
            // The note's own watermark-free download.
            (
                MediaRole::Image,
                format!("{p}a2~tplv-dy-aweme-images:q75.jpeg?wf=2"),
                Some(1080),
                Some(1920),
                None
            ),
            (
                MediaRole::Image,
                format!("{p}a3~tplv-dy-aweme-images:q75.webp?x=3"),
                Some(1080),
                Some(1440),
                None
            ),
            // The live photo's clip, after the pictures.
            (
                MediaRole::Video,
                "https://v26-web.douyinvod.com/assembled/live-a3.mp4".to_owned(),
                Some(1080),
                Some(1440),
                Some(2.967)
            ),
        ]
    );
    assert_eq!(
        item.fields.get("live_photos"),
        Some(&json!([{
            "image": format!("{p}a3~tplv-dy-aweme-images:q75.webp?x=3"),
            "video": "https://v26-web.douyinvod.com/assembled/live-a3.mp4"
        }]))
    );
    // The top-level play_addr of a note is its background music.
    assert_eq!(
        item.fields.get("music"),
        Some(&json!({
            "url": "https://sf3-cdn-tos.douyinstatic.com/obj/ies-music/assembled.mp3",
            "title": "@assembled author创作的原声",
            "author": "assembled author"
        }))
    );
    assert!(item.media.iter().all(|m| !m.url.ends_with(".mp3")));
    assert_eq!(item.tags, vec!["assembled"]);
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.douyin.com/note/7000000000000000068")
    );
    asked_as_a_phone(&server);
}

#[tokio::test]
async fn image_note_errors() {
    let page = format!("www.iesdouyin.com/share/note/{NOTE_ID}/");
    let hidden = r#"<script>window._ROUTER_DATA = {"loaderData":{"note_(id)/page":{"videoInfoRes":{"status_code":0,"item_list":[],"filter_list":[{"filter_reason":"status_self_see","detail_msg":"作者设置了仅自己可见"}]}}}}</script>"#;
    let server = Replay::start(HOSTS).await;
    server.route(&page, Reply::html(hidden));
    let err = fetch_err(&server, &note_req()).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_eq!(err.detail.as_deref(), Some("作者设置了仅自己可见"));

    let shell = r#"<script>window._ROUTER_DATA = {"loaderData":{"note_(id)/page":{}}}</script>"#;
    let server = Replay::start(HOSTS).await;
    server.route(&page, Reply::html(shell));
    assert_eq!(
        fetch_err(&server, &note_req()).await.class,
        ErrorClass::AuthRequired
    );

    assert_error_matrix(
        HOSTS,
        &page,
        &note_req(),
        ErrorClass::AuthRequired,
        Reply::html("<script>window._ROUTER_DATA = {not json</script>"),
    )
    .await;
}
