//! Bilibili: view API (+ playurl) with multi-page videos, dynamic detail
//! API (pictures, live pictures, article dynamics), articles (article view
//! API: HTML and Quill ops; opus detail API), bangumi seasons and episodes
//! (PGC season API), error codes.

use serde_json::json;
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
    // One page: no parts.
    assert!(item.parts.is_empty());
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

/// av7777 (a 2019 capture without `bvid`) in its BV spelling.
const AV7777: &str = "BV14x411c75m";

fn pages_req(source: Option<&str>) -> vaultstream_adapters::fetch::FetchRequest {
    let mut r = request(Platform::Bilibili, AV7777, ContentKind::Video);
    r.source_url = source.map(str::to_owned);
    r
}

async fn pages_server() -> Replay {
    let server = Replay::start(HOSTS).await;
    server
        .route(
            &format!("api.bilibili.com/x/web-interface/view?bvid={AV7777}"),
            Reply::json(fixture("bilibili/view_av7777_two_pages.json")),
        )
        // Another video's playurl answer; only `durl[0]` is read from it.
        .route(
            "api.bilibili.com/x/player/playurl?",
            Reply::json(fixture("bilibili/playurl_BV1y7411Q7Eq_cid171776208.json")),
        );
    server
}

#[tokio::test]
async fn multi_page_video_lists_every_page_and_marks_the_shared_one() {
    let server = pages_server().await;
    let item = server
        .fetcher()
        .fetch(&pages_req(Some(
            "https://www.bilibili.com/video/av7777/?p=2&share_source=copy_web",
        )))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Video));
    assert_eq!(item.title.as_deref(), Some("[7777的怨念]リア充爆発しろ"));
    let parts: Vec<_> = item
        .parts
        .iter()
        .map(|p| {
            (
                p.id.as_deref(),
                p.title.as_deref(),
                p.url.as_deref(),
                p.duration_secs,
                p.shared,
            )
        })
        .collect();
    assert_eq!(
        parts,
        vec![
            (
                Some("11638"),
                Some("sm8630148 手绘版"),
                Some("https://www.bilibili.com/video/av7777?p=1"),
                Some(93.0),
                false
            ),
            (
                Some("11639"),
                Some("sm8613443 原曲"),
                Some("https://www.bilibili.com/video/av7777?p=2"),
                Some(90.0),
                true
            ),
        ]
    );
    // The cover belongs to the whole video; the stream is the shared page's.
    let roles: Vec<_> = item.media.iter().map(|m| (m.role, m.part)).collect();
    assert_eq!(
        roles,
        vec![(MediaRole::Cover, None), (MediaRole::Video, Some(1))]
    );
    assert!(
        server
            .targets()
            .iter()
            .any(|t| t.contains(&format!("playurl?bvid={AV7777}&cid=11639"))),
        "{:?}",
        server.targets()
    );
}

#[tokio::test]
async fn multi_page_video_without_a_page_in_the_link() {
    let server = pages_server().await;
    let item = server
        .fetcher()
        .fetch(&pages_req(Some("https://b23.tv/av7777")))
        .await
        .expect("fetches");
    assert_eq!(item.parts.len(), 2);
    assert!(item.parts.iter().all(|p| !p.shared));
    assert_eq!(item.media[1].part, Some(0));
    assert!(
        server.targets().iter().any(|t| t.contains("&cid=11638&")),
        "{:?}",
        server.targets()
    );
}

#[tokio::test]
async fn dynamic_with_opus_pictures_and_a_live_picture() {
    // Synthetic item on the documented `major.opus` shape (research field
    // map: `pics[].{url,width,height,size,live_url}`); no recorded
    // picture-opus detail answer was found.
    let body = json!({"code": 0, "message": "0", "data": {"item": {
        "id_str": "1", "type": "DYNAMIC_TYPE_DRAW",
        "basic": {"comment_type": 11, "rid_str": "5"},
        "modules": {
            "module_author": {"mid": 2, "name": "n", "pub_ts": 1_700_000_000},
            "module_dynamic": {"desc": null, "major": {"type": "MAJOR_TYPE_OPUS", "opus": {
                "title": null,
                "summary": {"text": "three pictures", "rich_text_nodes": []},
                "pics": [
                    {"url": "http://i0.hdslb.com/bfs/new_dyn/a.jpg", "width": 1080, "height": 1440, "size": 1.5, "live_url": null},
                    {"url": "//i0.hdslb.com/bfs/new_dyn/b.jpg", "width": 800, "height": 600, "live_url": "https://i0.hdslb.com/bfs/new_dyn/b.mov"},
                    {"url": "http://i0.hdslb.com/bfs/new_dyn/c.jpg"}
                ]
            }}}
        }
    }}});
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.bilibili.com/x/polymer/web-dynamic/v1/detail?id=1",
        Reply::json(body.to_string()),
    );
    let item = server
        .fetcher()
        .fetch(&request(Platform::Bilibili, "dynamic:1", ContentKind::Post))
        .await
        .expect("fetches");
    assert_eq!(item.text.as_deref(), Some("three pictures"));
    let media: Vec<_> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str(), m.width))
        .collect();
    assert_eq!(
        media,
        vec![
            (
                MediaRole::Image,
                "http://i0.hdslb.com/bfs/new_dyn/a.jpg",
                Some(1080)
            ),
            (
                MediaRole::Image,
                "https://i0.hdslb.com/bfs/new_dyn/b.jpg",
                Some(800)
            ),
            (
                MediaRole::Image,
                "http://i0.hdslb.com/bfs/new_dyn/c.jpg",
                None
            ),
            (
                MediaRole::Video,
                "https://i0.hdslb.com/bfs/new_dyn/b.mov",
                None
            ),
        ]
    );
    assert_eq!(
        item.fields.get("live_photos"),
        Some(&json!([{
            "image": "https://i0.hdslb.com/bfs/new_dyn/b.jpg",
            "video": "https://i0.hdslb.com/bfs/new_dyn/b.mov"
        }]))
    );
    assert!(item.parts.is_empty());
}

fn cv_req(id: &str) -> vaultstream_adapters::fetch::FetchRequest {
    request(Platform::Bilibili, &format!("cv{id}"), ContentKind::Article)
}

#[tokio::test]
async fn html_article_cv1() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.bilibili.com/x/article/view?id=1",
        Reply::json(fixture("bilibili/article_view_cv1_type0_html.json")),
    );
    let item = server.fetcher().fetch(&cv_req("1")).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Article));
    assert_eq!(item.title.as_deref(), Some("未知的光"));
    let text = item.text.as_deref().expect("text");
    assert!(
        text.starts_with(
            "天空像是倾倒出的墨水，黑得静谧而深邃。黎明还远，光亮全无。\n\n夜不能寐。"
        ),
        "{text}"
    );
    assert!(text.ends_with("越来越近，越来越亮……"), "{text}");
    let html = item.html.as_deref().expect("html");
    assert!(
        html.starts_with("<p>天空像是倾倒出的墨水") && html.matches("<p>").count() == 11,
        "{html}"
    );
    // No picture in the body: the banner is the cover.
    let media: Vec<_> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str()))
        .collect();
    assert_eq!(
        media,
        vec![(
            MediaRole::Cover,
            "https://i0.hdslb.com/bfs/article/b1e1029c08d8ad1bb06460d736839a7741dd7925.jpg"
        )]
    );
    let a = item.author.as_ref().expect("author");
    assert_eq!(
        (a.name.as_deref(), a.id.as_deref()),
        (Some("健行见远渐忘"), Some("91221505"))
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_519_913_233)
    );
    assert_eq!(item.stats.get("views"), Some(&1_631_212));
    assert_eq!(item.stats.get("comments"), Some(&14_399));
    assert_eq!(item.tags, vec!["静夜思"]);
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.bilibili.com/read/cv1")
    );
    assert_eq!(
        item.fields
            .get("collection")
            .and_then(|c| c.get("name"))
            .and_then(|n| n.as_str()),
        Some("静夜思")
    );
    assert!(item.parts.is_empty());
}

#[tokio::test]
async fn quill_article_cv41358718() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "api.bilibili.com/x/article/view?id=41358718",
        Reply::json(fixture(
            "bilibili/article_view_cv41358718_type3_ops.trimmed.json",
        )),
    );
    let item = server
        .fetcher()
        .fetch(&cv_req("41358718"))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Article));
    assert_eq!(
        item.title.as_deref(),
        Some("通过 DevTools 绕过 SSR 抓包某站专栏正文接口")
    );
    let html = item.html.as_deref().expect("html");
    assert!(
        html.starts_with("<h2>背景</h2><ul><li>最近没什么事做"),
        "{html}"
    );
    // Text from the ops is escaped, not markup.
    assert!(html.contains("通过 &lt;script&gt; 标签"), "{html}");
    assert!(
        html.ends_with(
            "<blockquote>有改动, 原文地址: https://sess.xhustudio.eu.org/posts/2025/devtools-vs-ssr-bac/</blockquote>"
        ),
        "{html}"
    );
    let text = item.text.as_deref().expect("text");
    assert!(text.starts_with("背景\n\n最近没什么事做"), "{text}");
    assert!(text.contains("通过 <script> 标签"), "{text}");
    let media: Vec<_> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str(), m.width, m.height))
        .collect();
    assert_eq!(
        media,
        vec![
            (
                MediaRole::Cover,
                "https://i0.hdslb.com/bfs/article/9071997152b6fec0ae465fe2a86b580e645769214.jpg",
                None,
                None
            ),
            (
                MediaRole::Image,
                "https://i0.hdslb.com/bfs/new_dyn/7bb121008990850bbd333fe504eebc90645769214.png",
                Some(748),
                Some(494)
            ),
            (
                MediaRole::Image,
                "https://i0.hdslb.com/bfs/new_dyn/1a20d186e8c8cddc043b5295d481c719645769214.png",
                Some(625),
                Some(563)
            ),
            (
                MediaRole::Image,
                "https://i0.hdslb.com/bfs/new_dyn/87c88df1e15195996e34835456493d55645769214.png",
                Some(892),
                Some(831)
            ),
        ]
    );
    assert!(
        item.media
            .iter()
            .all(|m| m.headers.get("Referer").map(String::as_str)
                == Some("https://www.bilibili.com/"))
    );
    assert_eq!(item.tags.len(), 9);
    assert_eq!(
        item.author.and_then(|a| a.name).as_deref(),
        Some("Session小胡")
    );
}

#[tokio::test]
async fn article_with_missing_fields_and_an_unreadable_body() {
    // Synthetic envelopes on the documented fields.
    let server = Replay::start(HOSTS).await;
    server
        .route(
            "api.bilibili.com/x/article/view?id=2",
            Reply::json(
                r#"{"code":0,"message":"0","data":{"title":"t","content":"<p>x</p>","type":0}}"#,
            ),
        )
        .route(
            "api.bilibili.com/x/article/view?id=3",
            Reply::json(
                r#"{"code":0,"message":"0","data":{"title":"t","content":"{not ops","type":3}}"#,
            ),
        )
        .route(
            "api.bilibili.com/x/article/view?id=4",
            Reply::json(r#"{"code":0,"message":"0","data":{}}"#),
        );
    let item = server.fetcher().fetch(&cv_req("2")).await.expect("fetches");
    assert_eq!(
        (item.title.as_deref(), item.text.as_deref()),
        (Some("t"), Some("x"))
    );
    assert!(item.media.is_empty() && item.author.is_none() && item.fields.is_empty());
    assert_eq!(item.published_at, None);
    for id in ["3", "4"] {
        let err = fetch_err(&server, &cv_req(id)).await;
        assert_eq!(err.class, ErrorClass::Permanent, "{id}");
        assert!(err.message.contains("malformed"), "{id}: {err:?}");
    }
}

/// A dynamic that is an article, as the detail API names one (the shape of
/// a real space-feed item: `type`, `basic.comment_type` 12, `rid_str`); the
/// body comes from the opus detail API.
fn article_dynamic(id: &str) -> String {
    json!({"code": 0, "message": "0", "data": {"item": {
        "id_str": id, "type": "DYNAMIC_TYPE_ARTICLE",
        "basic": {"comment_type": 12, "rid_str": "34646640"},
        "modules": {"module_dynamic": {"major": {"type": "MAJOR_TYPE_OPUS", "opus": {
            "title": "summary only", "summary": {"text": "…"}, "pics": []
        }}}}
    }}})
    .to_string()
}

#[tokio::test]
async fn opus_page_that_is_an_article() {
    let id = "933099353259638816";
    let server = Replay::start(HOSTS).await;
    server
        .route(
            &format!("api.bilibili.com/x/polymer/web-dynamic/v1/detail?id={id}"),
            Reply::json(article_dynamic(id)),
        )
        .route(
            &format!("api.bilibili.com/x/polymer/web-dynamic/v1/opus/detail?id={id}"),
            Reply::json(fixture(
                "bilibili/opus_detail_933099353259638816.trimmed.json",
            )),
        );
    let req = request(
        Platform::Bilibili,
        &format!("dynamic:{id}"),
        ContentKind::Post,
    );
    let item = server.fetcher().fetch(&req).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Article));
    assert_eq!(
        item.title.as_deref(),
        Some("【服务搭建】零开销在线运行代码！glot.io服务私有化部署")
    );
    let text = item.text.as_deref().expect("text");
    assert!(
        text.starts_with("感谢 来笙云 Laysense.cn 提供算力\n\n作为一个全栈工程师"),
        "{text}"
    );
    assert!(
        text.ends_with("原文链接：https://shakaianee.top/archives/1002/"),
        "{text}"
    );
    let html = item.html.as_deref().expect("html");
    for piece in [
        "<blockquote>an open source pastebin with runnable snippets and API.</blockquote>",
        "<ul><li>glot-www：提供 B/S 前端应用</li>",
        "<pre><code>{\n  \"stdout\": \"42\\n\",",
        "<strong>Glot是什么</strong>",
        "<a href=\"https://search.bilibili.com/all?keyword=%20%E5%92%8C%20F\" rel=\"noopener noreferrer\"># 和 F#</a>",
    ] {
        assert!(html.contains(piece), "{piece} in {html}");
    }
    let pictures: Vec<_> = item
        .media
        .iter()
        .map(|m| {
            (
                m.role,
                m.url.rsplit('/').next().unwrap_or_default(),
                m.width,
            )
        })
        .collect();
    assert_eq!(
        pictures,
        vec![
            (
                MediaRole::Image,
                "06582181a80a3f367ae0486aec34759f293793435.png",
                Some(1776)
            ),
            (
                MediaRole::Image,
                "bb4e8fc35a33ba0b771478f4bc5aaca7293793435.png",
                None
            ),
            (
                MediaRole::Image,
                "808dd5fa58016f392b15a36a0df27a29293793435.png",
                None
            ),
            (
                MediaRole::Image,
                "21e396261fb607d4823f7ec4327908b1293793435.png",
                None
            ),
        ]
    );
    let a = item.author.as_ref().expect("author");
    assert_eq!(
        (a.name.as_deref(), a.id.as_deref()),
        (Some("社会易姐QwQ"), Some("293793435"))
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_716_092_523)
    );
    assert_eq!(item.tags, vec!["运维", "服务搭建", "glot.io"]);
    let stats: Vec<(&str, i64)> = item.stats.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        stats,
        vec![
            ("coins", 1),
            ("comments", 3),
            ("favorites", 4),
            ("likes", 17),
            ("shares", 0)
        ]
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.bilibili.com/opus/933099353259638816")
    );
    // The opus API was asked with the features that render articles, and a
    // buvid3 cookie.
    let hit = server
        .hits()
        .into_iter()
        .find(|h| h.target.contains("/opus/detail?"))
        .expect("opus detail requested");
    assert!(hit.target.contains("htmlNewStyle"), "{}", hit.target);
    assert!(
        hit.headers
            .get("cookie")
            .is_some_and(|c| c.starts_with("buvid3=")),
        "{:?}",
        hit.headers
    );
}

#[tokio::test]
async fn opus_fallback_reads_the_article_view() {
    // The documented fallback answer for old articles (`type` 2 = article).
    let server = Replay::start(HOSTS).await;
    server
        .route(
            "api.bilibili.com/x/polymer/web-dynamic/v1/detail?id=7",
            Reply::json(article_dynamic("7")),
        )
        .route(
            "api.bilibili.com/x/polymer/web-dynamic/v1/opus/detail?id=7",
            Reply::json(
                r#"{"code":0,"message":"0","ttl":1,"data":{"fallback":{"id":1,"type":2}}}"#,
            ),
        )
        .route(
            "api.bilibili.com/x/article/view?id=1",
            Reply::json(fixture("bilibili/article_view_cv1_type0_html.json")),
        );
    let item = server
        .fetcher()
        .fetch(&request(Platform::Bilibili, "dynamic:7", ContentKind::Post))
        .await
        .expect("fetches");
    assert_eq!(item.title.as_deref(), Some("未知的光"));
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.bilibili.com/read/cv1")
    );
}

const SEASON: &str = "api.bilibili.com/pgc/view/web/season?";

#[tokio::test]
async fn bangumi_season_ss43771() {
    let server = Replay::start(HOSTS).await;
    server.route(
        &format!("{SEASON}season_id=43771"),
        Reply::json(fixture("bilibili/pgc_view_web_season_ss43771.trimmed.json")),
    );
    let item = server
        .fetcher()
        .fetch(&request(Platform::Bilibili, "ss43771", ContentKind::Video))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Season));
    assert_eq!(item.title.as_deref(), Some("新·奥特曼"));
    assert!(
        item.text
            .as_deref()
            .is_some_and(|t| t.starts_with("《新·奥特曼》是由圆谷制作株式会社")),
        "{:?}",
        item.text
    );
    let parts: Vec<_> = item
        .parts
        .iter()
        .map(|p| {
            (
                p.id.as_deref(),
                p.title.as_deref(),
                p.url.as_deref(),
                p.duration_secs,
                p.published_at.map(|t| t.timestamp()),
                p.shared,
            )
        })
        .collect();
    assert_eq!(
        parts,
        vec![
            (
                Some("702596"),
                Some("原版"),
                Some("https://www.bilibili.com/bangumi/play/ep702596"),
                Some(6709.0),
                Some(1_668_700_801),
                false
            ),
            (
                Some("737341"),
                Some("中文"),
                Some("https://www.bilibili.com/bangumi/play/ep737341"),
                Some(6717.752),
                Some(1_677_837_600),
                false
            ),
        ]
    );
    // The season's cover, then each episode's; no video for a whole season.
    let media: Vec<_> = item
        .media
        .iter()
        .map(|m| (m.role, m.part, m.url.as_str()))
        .collect();
    assert_eq!(
        media,
        vec![
            (
                MediaRole::Cover,
                None,
                "http://i0.hdslb.com/bfs/bangumi/image/d6759b1c538cf8d23fabcb8ca36be787b8346ef4.png"
            ),
            (
                MediaRole::Image,
                Some(0),
                "http://i0.hdslb.com/bfs/archive/3980fb3c59594ef3980da2a58569dc4e3636932f.jpg"
            ),
            (
                MediaRole::Image,
                Some(1),
                "https://i0.hdslb.com/bfs/bangumi/image/00ce6f16ac63803ce029e8c37b904d679fb711d7.png"
            ),
        ]
    );
    assert_eq!(item.fields.get("episodes_total"), Some(&json!(1)));
    assert_eq!(
        item.fields.get("rating"),
        Some(&json!({"count": 17465, "score": 9.6}))
    );
    assert_eq!(item.fields.get("season_type"), Some(&json!(2)));
    let a = item.author.as_ref().expect("author");
    assert_eq!(
        (a.name.as_deref(), a.id.as_deref()),
        (Some("哔哩哔哩电影"), Some("15773384"))
    );
    // publish.pub_time "2023-03-03 18:00:00" is Beijing time.
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_677_837_600)
    );
    assert_eq!(item.stats.get("views"), Some(&28_481_871));
    assert_eq!(item.stats.get("danmaku"), Some(&82_620));
    assert_eq!(item.tags, vec!["科幻"]);
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.bilibili.com/bangumi/play/ss43771")
    );
}

#[tokio::test]
async fn bangumi_episode_marks_the_shared_episode() {
    let server = Replay::start(HOSTS).await;
    server.route(
        &format!("{SEASON}ep_id=737341"),
        Reply::json(fixture("bilibili/pgc_view_web_season_ss43771.trimmed.json")),
    );
    let item = server
        .fetcher()
        .fetch(&request(Platform::Bilibili, "ep737341", ContentKind::Video))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Season));
    let shared: Vec<bool> = item.parts.iter().map(|p| p.shared).collect();
    assert_eq!(shared, vec![false, true]);
    // The shared episode's page is its video (downloaded through yt-dlp).
    let video = item.media.last().expect("media");
    assert_eq!(
        (
            video.role,
            video.part,
            video.url.as_str(),
            video.duration_secs
        ),
        (
            MediaRole::Video,
            Some(1),
            "https://www.bilibili.com/bangumi/play/ep737341",
            Some(6717.752)
        )
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.bilibili.com/bangumi/play/ep737341")
    );
}

#[tokio::test]
async fn bangumi_extra_episode_and_missing_fields() {
    // Synthetic: a season with nothing optional, the shared episode among
    // the extras (`section[]`, documented in bilibili-API-collect).
    let server = Replay::start(HOSTS).await;
    server.route(
        &format!("{SEASON}ep_id=5"),
        Reply::json(
            json!({"code": 0, "message": "success", "result": {
                "season_id": 9, "episodes": [{"id": 4}],
                "section": [{"episodes": [{"id": 5, "title": "PV"}]}]
            }})
            .to_string(),
        ),
    );
    let item = server
        .fetcher()
        .fetch(&request(Platform::Bilibili, "ep5", ContentKind::Video))
        .await
        .expect("fetches");
    assert_eq!((item.title.as_deref(), item.text.as_deref()), (None, None));
    let parts: Vec<_> = item
        .parts
        .iter()
        .map(|p| {
            (
                p.id.as_deref(),
                p.title.as_deref(),
                p.shared,
                p.duration_secs,
            )
        })
        .collect();
    assert_eq!(
        parts,
        vec![
            (Some("4"), None, false, None),
            (Some("5"), Some("PV"), true, None)
        ]
    );
    assert!(item.fields.is_empty() && item.author.is_none() && item.published_at.is_none());
    assert_eq!(item.media.len(), 1, "only the shared episode's page");
}

/// Every new path classifies failures like the rest: deleted, login wall,
/// risk control, HTTP 5xx/429/404/403, a body that is not JSON.
#[tokio::test]
async fn new_paths_classify_failures() {
    let paths: [(&str, &str, ContentKind); 4] = [
        (
            "cv5",
            "api.bilibili.com/x/article/view?id=5",
            ContentKind::Article,
        ),
        (
            "ss6",
            "api.bilibili.com/pgc/view/web/season?season_id=6",
            ContentKind::Video,
        ),
        (
            "ep7",
            "api.bilibili.com/pgc/view/web/season?ep_id=7",
            ContentKind::Video,
        ),
        ("BV117411r7R1", VIEW, ContentKind::Video),
    ];
    for (id, route, kind) in paths {
        let req = request(Platform::Bilibili, id, kind);
        for (body, class) in [
            (
                r#"{"code":-404,"message":"啥都木有","ttl":1}"#,
                ErrorClass::Permanent,
            ),
            (
                r#"{"code":-101,"message":"账号未登录","ttl":1}"#,
                ErrorClass::AuthRequired,
            ),
            (
                r#"{"code":-10403,"message":"抱歉您所在地区不可观看！"}"#,
                ErrorClass::AuthRequired,
            ),
            (
                r#"{"code":-352,"message":"风控校验失败","ttl":1}"#,
                ErrorClass::RateLimited,
            ),
        ] {
            let server = Replay::start(HOSTS).await;
            server.route(route, Reply::json(body));
            assert_eq!(fetch_err(&server, &req).await.class, class, "{id}: {body}");
        }
        assert_error_matrix(
            HOSTS,
            route,
            &req,
            ErrorClass::AuthRequired,
            Reply::json("<html>oops"),
        )
        .await;
    }
    // The opus detail call of an article dynamic fails the same way.
    let server = Replay::start(HOSTS).await;
    server
        .route(
            "api.bilibili.com/x/polymer/web-dynamic/v1/detail?id=8",
            Reply::json(article_dynamic("8")),
        )
        .route(
            "api.bilibili.com/x/polymer/web-dynamic/v1/opus/detail?id=8",
            Reply::status(503, "{}"),
        );
    let req = request(Platform::Bilibili, "dynamic:8", ContentKind::Post);
    assert_eq!(fetch_err(&server, &req).await.class, ErrorClass::Retryable);
}

#[tokio::test]
async fn ids_we_cannot_ask_for_are_permanent() {
    // Every recognised kind parses now (cv, ep, ss were "not supported yet");
    // only ids no link produces are refused, without asking Bilibili.
    let server = Replay::start(HOSTS).await;
    for id in ["cvabc", "ep", "ss12x", "dynamic:", "xx123"] {
        let err = fetch_err(
            &server,
            &request(Platform::Bilibili, id, ContentKind::Article),
        )
        .await;
        assert_eq!(err.class, ErrorClass::Permanent, "{id}");
        assert!(err.message.contains("not a Bilibili id"), "{id}: {err:?}");
    }
    assert!(server.hits().is_empty());
}
