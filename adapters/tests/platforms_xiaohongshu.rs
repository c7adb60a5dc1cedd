//! Xiaohongshu: the note page's __INITIAL_STATE__.
//!
//! The only page-shaped fixture is ASSEMBLED (documented structure, values
//! from yt-dlp's test; see tests/fixtures/PROVENANCE.md): it pins the parser's
//! paths, not real data. The real feed-API body is parsed in the adapter's
//! unit tests.

use vaultstream_core::parsed::{ErrorClass, MediaRole};
use vaultstream_core::{ContentKind, Platform};

use crate::support::{Replay, ReplayExt, Reply, fixture, request};
use crate::{assert_error_matrix, fetch_err};

const HOSTS: &[&str] = &["www.xiaohongshu.com"];
const ID: &str = "6411cf99000000001300b6d9";

fn req() -> vaultstream_adapters::fetch::FetchRequest {
    let mut r = request(Platform::Xiaohongshu, ID, ContentKind::Note);
    r.source_url = Some(format!(
        "https://www.xiaohongshu.com/discovery/item/{ID}?xsec_token=AB1%2Bx&xsec_source=app_share"
    ));
    r
}

#[tokio::test]
async fn video_note_from_assembled_page() {
    let server = Replay::start(HOSTS).await;
    server.route(
        &format!("www.xiaohongshu.com/explore/{ID}"),
        Reply::html(fixture(
            "xiaohongshu/explore_6411cf99000000001300b6d9.assembled.html",
        )),
    );
    let item = server.fetcher().fetch(&req()).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Note));
    assert_eq!(
        item.title.as_deref(),
        Some("香妃蛋糕也太香了吧🔥不需要卷❗️绝对的友好")
    );
    assert_eq!(
        item.text.as_deref(),
        Some("#今日快乐今日发# #吃货薯看这里# #香妃蛋糕# #小五卷蛋糕# #新手蛋糕卷#")
    );
    assert_eq!(
        item.tags,
        vec![
            "今日快乐今日发",
            "吃货薯看这里",
            "香妃蛋糕",
            "小五卷蛋糕",
            "新手蛋糕卷"
        ]
    );
    let a = item.author.as_ref().expect("author");
    assert_eq!(a.id.as_deref(), Some("5c31698d0000000007018a31"));
    assert_eq!(a.name, None, "nickname is `undefined` in the page");
    // `undefined` counters and time: absent, not zero.
    assert!(item.stats.is_empty());
    assert_eq!(item.published_at, None);
    let roles: Vec<MediaRole> = item.media.iter().map(|m| m.role).collect();
    assert_eq!(roles, vec![MediaRole::Cover, MediaRole::Video]);
    let v = &item.media[1];
    assert!(
        v.url
            .starts_with("http://sns-video-qc.xhscdn.com/stream/1/110/259/"),
        "{}",
        v.url
    );
    assert_eq!((v.width, v.height), (Some(720), Some(1280)));
    assert_eq!(v.duration_secs, Some(101.726));
    assert_eq!(
        item.raw.pointer("/note/noteId").and_then(|v| v.as_str()),
        Some(ID)
    );
    // The share link's xsec_token is passed on.
    let hit = &server.hits()[0];
    assert!(hit.target.contains("xsec_token=AB1%2Bx"), "{}", hit.target);
}

#[tokio::test]
async fn image_note_with_missing_fields() {
    // Synthetic page on the documented camelCase paths; empty title.
    let page = r#"<script>window.__INITIAL_STATE__={"note":{"noteDetailMap":{"6411cf99000000001300b6d9":{"note":{"noteId":"6411cf99000000001300b6d9","type":"normal","title":"","desc":"只有正文","time":1700000000000,"interactInfo":{"likedCount":"1.2万","collectedCount":"10+"},"imageList":[{"urlDefault":"https://sns-webpic-qc.xhscdn.com/a!nd_dft","width":800,"height":600},{"urlDefault":"https://sns-webpic-qc.xhscdn.com/b!nd_dft"}],"user":{"userId":"u1","nickname":"n"}}}}}}</script>"#;
    let server = Replay::start(HOSTS).await;
    server.route("www.xiaohongshu.com/explore/", Reply::html(page));
    let item = server.fetcher().fetch(&req()).await.expect("fetches");
    assert_eq!(item.title, None);
    assert_eq!(item.text.as_deref(), Some("只有正文"));
    assert_eq!(item.stats.get("likes"), Some(&12_000));
    assert_eq!(item.stats.get("collects"), Some(&10));
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_700_000_000)
    );
    let urls: Vec<(MediaRole, &str)> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str()))
        .collect();
    assert_eq!(
        urls,
        vec![
            (
                MediaRole::Image,
                "https://sns-webpic-qc.xhscdn.com/a!nd_dft"
            ),
            (
                MediaRole::Image,
                "https://sns-webpic-qc.xhscdn.com/b!nd_dft"
            ),
        ]
    );
}

#[tokio::test]
async fn inaccessible_note_and_login_redirect() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.xiaohongshu.com/explore/",
        Reply::html(r#"<script>window.__INITIAL_STATE__={"note":{"noteDetailMap":{}}}</script>"#),
    );
    let err = fetch_err(&server, &req()).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("not accessible"), "{err:?}");

    let server = Replay::start(HOSTS).await;
    server
        .route(
            "www.xiaohongshu.com/explore/",
            Reply::redirect("/website-login/captcha?redirectPath=x"),
        )
        .route(
            "www.xiaohongshu.com/website-login/",
            Reply::html("<html></html>"),
        );
    assert_eq!(
        fetch_err(&server, &req()).await.class,
        ErrorClass::AuthRequired
    );

    let server = Replay::start(HOSTS).await;
    server
        .route(
            "www.xiaohongshu.com/explore/",
            Reply::redirect("/404?source=note"),
        )
        .route("www.xiaohongshu.com/404", Reply::html("<html></html>"));
    assert_eq!(
        fetch_err(&server, &req()).await.class,
        ErrorClass::Permanent
    );
}

#[tokio::test]
async fn http_errors() {
    assert_error_matrix(
        HOSTS,
        "www.xiaohongshu.com/explore/",
        &req(),
        ErrorClass::AuthRequired,
        Reply::html("<html><script>window.__INITIAL_STATE__={\"note\":</script>"),
    )
    .await;
}
