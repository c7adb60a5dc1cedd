//! Zhihu: answers, questions, articles, pins, zvideos.
//!
//! The pin fixtures are DERIVED (real values from a TypeScript literal type
//! in a public project) and the zvideo fixture is ASSEMBLED (documented
//! fields, yt-dlp's test values, placeholder URLs and counts): see
//! tests/fixtures/PROVENANCE.md. No recorded answer of either API was found.

use serde_json::json;
use vaultstream_core::parsed::{ErrorClass, MediaRole};
use vaultstream_core::{ContentKind, Platform};

use crate::support::{Replay, ReplayExt, Reply, fixture, request};
use crate::{assert_error_matrix, fetch_err};

const HOSTS: &[&str] = &["www.zhihu.com", "zhuanlan.zhihu.com"];

#[tokio::test]
async fn answer_happy_path() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.zhihu.com/api/v4/answers/2076341989990319717?include=",
        Reply::json(fixture("zhihu/answer_2076341989990319717.json")),
    );
    let req = request(
        Platform::Zhihu,
        "answer:2076341989990319717",
        ContentKind::Answer,
    );
    let item = server.fetcher().fetch(&req).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Answer));
    assert_eq!(item.title.as_deref(), Some("《子不语》有哪些猎奇的故事？"));
    // The capture's content is its source's shortened placeholder.
    assert_eq!(item.text.as_deref(), Some("正文第一段"));
    let html = item.html.as_deref().expect("html");
    assert!(
        html.contains("<p>正文第一段</p>")
            && html.contains(r#"<img src="https://pic1.zhimg.com/x.jpg">"#),
        "{html}"
    );
    let a = item.author.as_ref().expect("author");
    assert_eq!(a.name.as_deref(), Some("蓝桥岁月"));
    assert_eq!(a.id.as_deref(), Some("lan-qiao-sui-yue"));
    assert_eq!(
        a.url.as_deref(),
        Some("https://www.zhihu.com/people/lan-qiao-sui-yue")
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_787_818_506)
    );
    let stats: Vec<(&str, i64)> = item.stats.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(stats, vec![("comments", 34), ("voteups", 73)]);
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.zhihu.com/question/268511767/answer/2076341989990319717")
    );
    assert_eq!(item.media.len(), 1);
    assert_eq!(
        (item.media[0].role, item.media[0].url.as_str()),
        (MediaRole::Image, "https://pic1.zhimg.com/x.jpg")
    );
    let hit = &server.hits()[0];
    assert!(
        hit.target.contains("include=content,excerpt,voteup_count"),
        "{}",
        hit.target
    );
}

#[tokio::test]
async fn answer_without_content_or_counts() {
    // Real body without include= (integer ids, no content/counters).
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.zhihu.com/api/v4/answers/100000803",
        Reply::json(fixture("zhihu/answer_100000803.no_include.json")),
    );
    let req = request(Platform::Zhihu, "answer:100000803", ContentKind::Answer);
    let item = server.fetcher().fetch(&req).await.expect("fetches");
    assert_eq!(item.title.as_deref(), Some("《美国队长3》的三观特别歪吗？"));
    assert_eq!(item.text, None);
    assert_eq!(item.html, None);
    assert!(item.stats.is_empty() && item.media.is_empty());
    assert_eq!(
        item.author.as_ref().and_then(|a| a.name.as_deref()),
        Some("刘雨辰")
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_462_849_478)
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.zhihu.com/question/45570670/answer/100000803")
    );
}

#[tokio::test]
async fn question_bare_form() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.zhihu.com/api/v4/questions/58570383",
        Reply::json(fixture("zhihu/question_58570383.json")),
    );
    let req = request(Platform::Zhihu, "question:58570383", ContentKind::Question);
    let item = server.fetcher().fetch(&req).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Question));
    assert_eq!(item.title.as_deref(), Some("讲真，应届生一般工资多少啊？"));
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_492_330_476)
    );
    assert_eq!(item.text, None);
    assert_eq!(item.author, None);
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.zhihu.com/question/58570383")
    );
}

#[tokio::test]
async fn article_from_column_item() {
    // The fixture is one element of the column list API, served in place of
    // the single-article endpoint (same article object; see PROVENANCE).
    let server = Replay::start(HOSTS).await;
    server.route(
        "zhuanlan.zhihu.com/api/articles/37931567",
        Reply::json(fixture("zhihu/article_37931567.from_column_items.json")),
    );
    let req = request(Platform::Zhihu, "article:37931567", ContentKind::Article);
    let item = server.fetcher().fetch(&req).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Article));
    assert_eq!(
        item.title.as_deref(),
        Some("Blog 迁移 | 从零开始设置 Jekyll")
    );
    let text = item.text.as_deref().expect("text");
    assert!(
        text.starts_with("本文草稿写于 2018 年，不知为何，一直没有发布。"),
        "{text}"
    );
    let a = item.author.as_ref().expect("author");
    assert_eq!(
        (a.name.as_deref(), a.id.as_deref()),
        (Some("李书航"), Some("lishuhang"))
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_672_137_241)
    );
    assert_eq!(item.stats.get("voteups"), Some(&4));
    assert_eq!(item.stats.get("comments"), Some(&0));
    assert_eq!(item.media[0].role, MediaRole::Cover);
    assert_eq!(
        item.media[0].url,
        "https://picx.zhimg.com/v2-1325746a919d226e2db513dc6082c5be_720w.jpg?source=d16d100b"
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://zhuanlan.zhihu.com/p/37931567")
    );
}

#[tokio::test]
async fn errors() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.zhihu.com/api/v4/answers/1",
        Reply::status(404, r#"{"error":{"code":4041,"message":"回答不存在"}}"#),
    );
    let err = fetch_err(
        &server,
        &request(Platform::Zhihu, "answer:1", ContentKind::Answer),
    )
    .await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_eq!(err.detail.as_deref(), Some("Zhihu: 回答不存在"));

    // Pins were "not supported yet"; the issue makes them parse, so a
    // missing pin is now a plain not-found.
    server.route(
        "www.zhihu.com/api/v4/pins/5",
        Reply::status(404, r#"{"error":{"code":4041,"message":"想法不存在"}}"#),
    );
    let err = fetch_err(
        &server,
        &request(Platform::Zhihu, "pin:5", ContentKind::Post),
    )
    .await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert_eq!(err.detail.as_deref(), Some("Zhihu: 想法不存在"));

    // 403 is Zhihu's anti-crawler wall: cookies get past it.
    assert_error_matrix(
        HOSTS,
        "www.zhihu.com/api/v4/answers/",
        &request(Platform::Zhihu, "answer:9", ContentKind::Answer),
        ErrorClass::AuthRequired,
        Reply::json("not json"),
    )
    .await;
}

fn pin_req(id: &str) -> vaultstream_adapters::fetch::FetchRequest {
    request(Platform::Zhihu, &format!("pin:{id}"), ContentKind::Post)
}

#[tokio::test]
async fn pin_with_a_picture() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.zhihu.com/api/v4/pins/1097830077735231488",
        Reply::json(fixture("zhihu/pin_1097830077735231488.from_ts_type.json")),
    );
    let item = server
        .fetcher()
        .fetch(&pin_req("1097830077735231488"))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Pin));
    assert_eq!(
        item.text.as_deref(),
        Some("哈尔滨沙赞基本没人看……这可是假期啊")
    );
    assert_eq!(
        item.title, item.text,
        "Zhihu's excerpt title is the whole short text"
    );
    let html = item.html.as_deref().expect("html");
    assert!(
        html.starts_with("<div>哈尔滨沙赞基本没人看……这可是假期啊</div><img"),
        "{html}"
    );
    let media: Vec<_> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str(), m.width, m.height))
        .collect();
    assert_eq!(
        media,
        vec![(
            MediaRole::Image,
            "https://pic2.zhimg.com/50/v2-e42ce349576557e5a739d2621d518679_qhd.jpg",
            Some(4096),
            Some(3072)
        )]
    );
    let a = item.author.as_ref().expect("author");
    assert_eq!(
        (a.name.as_deref(), a.id.as_deref()),
        (Some("丧心病狂刘老湿"), Some("bingo-liu-66"))
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_554_523_087)
    );
    let stats: Vec<(&str, i64)> = item.stats.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(stats, vec![("comments", 22), ("likes", 61), ("reposts", 2)]);
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.zhihu.com/pin/1097830077735231488")
    );
    assert!(item.quoted.is_none() && item.fields.is_empty() && item.parts.is_empty());
}

#[tokio::test]
async fn repost_pin_quotes_its_original() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.zhihu.com/api/v4/pins/1141627123784638464",
        Reply::json(fixture(
            "zhihu/pin_1141627123784638464_repin.from_ts_type.json",
        )),
    );
    let item = server
        .fetcher()
        .fetch(&pin_req("1141627123784638464"))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Pin));
    assert_eq!(
        item.text.as_deref(),
        Some("转一记，假如我中奖了的话，我会在转发我这条想法的朋友里抽一个把奖品转给他……")
    );
    assert!(item.media.is_empty());
    let origin = item.quoted.as_deref().expect("the reposted pin");
    assert_eq!(origin.kind, Some(ContentKind::Pin));
    let text = origin.text.as_deref().expect("origin text");
    assert!(
        text.starts_with("#我和机构号锁了# 官宣：机构号在知乎已经陪伴大家三年啦！"),
        "{text}"
    );
    assert!(text.contains("大礼来啦～\n\n转发这条想法"), "{text}");
    assert_eq!(origin.tags, vec!["我和机构号锁了"]);
    assert_eq!(
        origin.author.as_ref().and_then(|a| a.id.as_deref()),
        Some("St.Pancras")
    );
    assert_eq!(
        origin
            .media
            .iter()
            .map(|m| m.url.as_str())
            .collect::<Vec<_>>(),
        vec!["https://pic1.zhimg.com/50/v2-6f5fc80a21c7f9642da166ea21a69146_qhd.jpg"]
    );
    assert_eq!(
        origin.canonical_url.as_deref(),
        Some("https://www.zhihu.com/pin/1141499842592423936")
    );
    assert_eq!(origin.stats.get("reposts"), Some(&1558));
}

#[tokio::test]
async fn pin_with_a_link_or_only_rendered_html() {
    // Synthetic, on documented shapes: a pinned link item, and a pin whose
    // `content[]` is missing (only `content_html`).
    let link = json!({"type": "link", "url": "https://example.com/a", "title": "A", "image_url": "https://pic1.zhimg.com/l.jpg"});
    let server = Replay::start(HOSTS).await;
    server
        .route(
            "www.zhihu.com/api/v4/pins/5",
            Reply::json(json!({"id": "5", "content": [link.clone()]}).to_string()),
        )
        .route(
            "www.zhihu.com/api/v4/pins/6",
            Reply::json(r#"{"id":6,"content_html":"<div>only html</div><img src=\"https://pic1.zhimg.com/x.jpg\">"}"#),
        );
    let item = server
        .fetcher()
        .fetch(&pin_req("5"))
        .await
        .expect("fetches");
    assert_eq!(item.text, None);
    assert_eq!(item.html, None);
    assert_eq!(item.author, None);
    assert_eq!(item.fields.get("card"), Some(&link));
    assert!(item.media.is_empty() && item.stats.is_empty());

    let item = server
        .fetcher()
        .fetch(&pin_req("6"))
        .await
        .expect("fetches");
    assert_eq!(item.text.as_deref(), Some("only html"));
    assert_eq!(
        item.media
            .iter()
            .map(|m| m.url.as_str())
            .collect::<Vec<_>>(),
        vec!["https://pic1.zhimg.com/x.jpg"]
    );
}

#[tokio::test]
async fn deleted_pin_and_http_errors() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.zhihu.com/api/v4/pins/7",
        Reply::json(r#"{"id":"7","is_deleted":true,"content":[]}"#),
    );
    let err = fetch_err(&server, &pin_req("7")).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("deleted"), "{err:?}");
    // 403 is the anti-crawler wall (cookies get past it).
    assert_error_matrix(
        HOSTS,
        "www.zhihu.com/api/v4/pins/",
        &pin_req("8"),
        ErrorClass::AuthRequired,
        Reply::json("<html>"),
    )
    .await;
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.zhihu.com/api/v4/pins/9",
        Reply::json(r#"{"content":[]}"#),
    );
    let err = fetch_err(&server, &pin_req("9")).await;
    assert!(err.message.contains("malformed"), "{err:?}");
}

fn zvideo_req() -> vaultstream_adapters::fetch::FetchRequest {
    request(
        Platform::Zhihu,
        "zvideo:1342930761977176064",
        ContentKind::Video,
    )
}

#[tokio::test]
async fn zvideo_best_quality_first() {
    // ASSEMBLED fixture: the real title, author, time and duration of
    // yt-dlp's test video; URLs and counts are placeholders.
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.zhihu.com/api/v4/zvideos/1342930761977176064",
        Reply::json(fixture("zhihu/zvideo_1342930761977176064.assembled.json")),
    );
    let item = server
        .fetcher()
        .fetch(&zvideo_req())
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Video));
    assert_eq!(item.title.as_deref(), Some("写春联也太难了吧！"));
    let media: Vec<_> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str(), m.width, m.height, m.duration_secs))
        .collect();
    assert_eq!(
        media,
        vec![
            (
                MediaRole::Cover,
                "https://pic1.zhimg.com/v2-assembled-placeholder-thumbnail.jpg",
                None,
                None,
                None
            ),
            (
                MediaRole::Video,
                "https://vdn.vzuu.com/FHD/assembled-placeholder.mp4",
                Some(1920),
                Some(1080),
                Some(146.333)
            ),
        ]
    );
    let a = item.author.as_ref().expect("author");
    assert_eq!(
        (a.name.as_deref(), a.id.as_deref(), a.url.as_deref()),
        (
            Some("桥半舫"),
            Some("244ecb13b0fd7daf92235288c8ca3365"),
            None
        )
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_612_959_715)
    );
    assert_eq!(item.stats.get("views"), Some(&1000));
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.zhihu.com/zvideo/1342930761977176064")
    );
}

#[tokio::test]
async fn zvideo_without_playlist_and_errors() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "www.zhihu.com/api/v4/zvideos/1342930761977176064",
        Reply::json(
            r#"{"id":"1342930761977176064","title":"t","video":{"playlist":{"odd":{"width":1}}}}"#,
        ),
    );
    let item = server
        .fetcher()
        .fetch(&zvideo_req())
        .await
        .expect("fetches");
    assert_eq!(item.title.as_deref(), Some("t"));
    assert!(item.media.is_empty() && item.author.is_none() && item.stats.is_empty());
    assert_eq!(item.published_at, None);
    assert_error_matrix(
        HOSTS,
        "www.zhihu.com/api/v4/zvideos/",
        &zvideo_req(),
        ErrorClass::AuthRequired,
        Reply::json("nope"),
    )
    .await;
}
