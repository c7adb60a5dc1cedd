//! Xiaohongshu: the note page's __INITIAL_STATE__.
//!
//! The page-shaped fixtures are ASSEMBLED (documented structure, values
//! from yt-dlp's test or placeholders; see tests/fixtures/PROVENANCE.md):
//! they pin the parser's paths, not real data. The real feed-API bodies are
//! parsed in the adapter's unit tests, and the real video note is also
//! served here inside a synthetic page (the note object itself is verbatim).

use serde_json::{Value, json};
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

/// A note page around a note object (the page's state, reduced to the one
/// path the adapter reads).
fn page_with(id: &str, note: &Value) -> String {
    let state = json!({"note": {"noteDetailMap": {id: {"note": note}}}});
    format!("<html><body><script>window.__INITIAL_STATE__={state}</script></body></html>")
}

fn note_req(id: &str) -> vaultstream_adapters::fetch::FetchRequest {
    let mut r = request(Platform::Xiaohongshu, id, ContentKind::Note);
    r.source_url = Some(format!(
        "https://www.xiaohongshu.com/explore/{id}?xsec_token=AB2&xsec_source=pc_share"
    ));
    r
}

const VIDEO_ID: &str = "68f4e9bf00000000070327cb";

/// The video note served in its page, fetched.
async fn fetch_video_note(note: &Value) -> vaultstream_core::parsed::ParsedItem {
    let server = Replay::start(HOSTS).await;
    server.route(
        &format!("www.xiaohongshu.com/explore/{VIDEO_ID}"),
        Reply::html(page_with(VIDEO_ID, note)),
    );
    server
        .fetcher()
        .fetch(&note_req(VIDEO_ID))
        .await
        .expect("fetches")
}

fn real_video_note() -> Value {
    let body: Value = serde_json::from_str(&fixture(
        "xiaohongshu/feed_68f4e9bf00000000070327cb_video.json",
    ))
    .expect("fixture is JSON");
    body.pointer("/data/items/0/note_card")
        .cloned()
        .expect("note_card")
}

#[tokio::test]
async fn video_note_archives_the_original_upload() {
    let item = fetch_video_note(&real_video_note()).await;
    assert_eq!(item.kind, Some(ContentKind::Note));
    // Title and text are empty in the real note: absent.
    assert_eq!((item.title.as_deref(), item.text.as_deref()), (None, None));
    let media: Vec<_> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str(), m.width, m.duration_secs))
        .collect();
    assert_eq!(
        media,
        vec![
            (
                MediaRole::Cover,
                "http://sns-webpic-qc.xhscdn.com/202510201140/82a36c28d2e97028eff1011393c2dc76/110/0/01e8f4e9be2543f500100000000199fcb11d03_0.jpg!nd_dft_wgth_webp_3",
                Some(1920),
                None
            ),
            // The original upload (no watermark), not a web stream.
            (
                MediaRole::Video,
                "https://sns-video-bd.xhscdn.com/pre_post/1040g0cg31nqrl9gm52q04a6a5db1guek79ia0so",
                None,
                Some(24.0)
            ),
        ]
    );
    assert_eq!(
        item.media[1].headers.get("Referer").map(String::as_str),
        Some("https://www.xiaohongshu.com/")
    );
    assert_eq!(
        item.author.as_ref().and_then(|a| a.name.as_deref()),
        Some("红薯蜀")
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp_millis()),
        Some(1_760_881_087_000)
    );
    assert_eq!(item.stats.get("comments"), Some(&2));
    assert!(item.fields.is_empty() && item.parts.is_empty());
}

#[tokio::test]
async fn video_note_without_the_original_takes_the_best_clean_stream() {
    // The real note with `origin_video_key` removed: of its three streams
    // (h264 720p watermarked `WM_X264_MP4`, h265 720p, h265 1080p) the
    // unwatermarked 1080p one wins.
    let mut note = real_video_note();
    if let Some(consumer) = note
        .pointer_mut("/video/consumer")
        .and_then(Value::as_object_mut)
    {
        consumer.remove("origin_video_key");
    }
    let item = fetch_video_note(&note).await;
    let v = item.media.last().expect("video");
    assert_eq!(v.role, MediaRole::Video);
    assert_eq!(
        v.url,
        "http://sns-video-ak.xhscdn.com/stream/1/110/115/01e8f4e9be2543f50103700199fcb37fea_115.mp4"
    );
    assert_eq!((v.width, v.height), (Some(1920), Some(1080)));
    assert_eq!(v.duration_secs, Some(24.386));

    // Only the watermarked stream: still better than no video.
    if let Some(stream) = note
        .pointer_mut("/video/media/stream")
        .and_then(Value::as_object_mut)
    {
        stream.insert("h265".to_owned(), json!([]));
    }
    let item = fetch_video_note(&note).await;
    assert!(
        item.media.last().is_some_and(|v| v
            .url
            .ends_with("01e8f4e9be2543f50103700399fcb1a6a8_259.mp4")),
        "{:?}",
        item.media
    );
}

#[tokio::test]
async fn multi_image_note_with_a_live_photo() {
    let id = "650000000000000000000003";
    let server = Replay::start(HOSTS).await;
    server.route(
        &format!("www.xiaohongshu.com/explore/{id}"),
        Reply::html(fixture(
            "xiaohongshu/explore_650000000000000000000003.multi_image.assembled.html",
        )),
    );
    let item = server
        .fetcher()
        .fetch(&note_req(id))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Note));
    assert_eq!(item.title.as_deref(), Some("三张图"));
    assert_eq!(item.text.as_deref(), Some("第二张是实况 #测试#"));
    let w = "http://sns-webpic-qc.xhscdn.com/202501010000/assembled/110/0/";
    let media: Vec<_> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.clone(), m.width, m.height))
        .collect();
    assert_eq!(
        media,
        vec![
            (
                MediaRole::Image,
                format!("{w}pic1.jpg!nd_dft_wlteh_webp_3"),
                Some(1080),
                Some(1440)
            ),
            (
                MediaRole::Image,
                format!("{w}pic2.jpg!nd_dft_wlteh_webp_3"),
                Some(1080),
                Some(1440)
            ),
            (
                MediaRole::Image,
                format!("{w}pic3.jpg!nd_dft_wlteh_webp_3"),
                Some(1440),
                Some(1080)
            ),
            (
                MediaRole::Video,
                "http://sns-video-bd.xhscdn.com/stream/1/10/19/assembled_live2.mp4".to_owned(),
                Some(1080),
                Some(1440)
            ),
        ]
    );
    assert_eq!(
        item.fields.get("live_photos"),
        Some(&json!([{
            "image": format!("{w}pic2.jpg!nd_dft_wlteh_webp_3"),
            "video": "http://sns-video-bd.xhscdn.com/stream/1/10/19/assembled_live2.mp4"
        }]))
    );
    assert_eq!(item.media[3].duration_secs, Some(2.5));
}
