//! Weibo: m.weibo.cn statuses/show, long text, login wall.

use vaultstream_core::parsed::{ErrorClass, MediaRole};
use vaultstream_core::{ContentKind, Platform};

use crate::support::{Replay, ReplayExt, Reply, fixture, request};
use crate::{assert_error_matrix_with, fetch_err};

pub const HOSTS: &[&str] = &[
    "m.weibo.cn",
    "passport.weibo.cn",
    "visitor.passport.weibo.cn",
    "passport.weibo.com",
];
const SHOW: &str = "m.weibo.cn/statuses/show?id=4136245053838604";
pub const GENVISITOR2: &str = "visitor.passport.weibo.cn/visitor/genvisitor2";

/// VERBATIM: the passport's visitor cookies (genvisitor2 answer).
pub fn visitor_answer() -> Reply {
    Reply::with_type(
        200,
        "application/javascript",
        fixture("weibo/passport_genvisitor2_answer.jsonp"),
    )
}

/// A replay server whose passport hands out visitor cookies.
pub async fn weibo() -> Replay {
    let server = Replay::start(HOSTS).await;
    server.route(GENVISITOR2, visitor_answer());
    server
}

fn req() -> vaultstream_adapters::fetch::FetchRequest {
    request(Platform::Weibo, "4136245053838604", ContentKind::Post)
}

#[tokio::test]
async fn status_happy_path() {
    let server = weibo().await;
    server.route(
        SHOW,
        Reply::json(fixture("weibo/statuses_show_4136245053838604.json")),
    );
    let item = server.fetcher().fetch(&req()).await.expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Post));
    assert_eq!(
        item.text.as_deref(),
        Some(
            "今天早上五點 我做夢夢到笑醒 醒了還在笑 覺得沒有比這個更開心的起床方式了 我以後每天都要這樣起床"
        )
    );
    let a = item.author.as_ref().expect("author");
    assert_eq!(a.name.as_deref(), Some("陳意涵"));
    assert_eq!(a.id.as_deref(), Some("1307651590"));
    assert_eq!(a.url.as_deref(), Some("https://weibo.com/u/1307651590"));
    // The fixture's `created_at` is the relative list form "08-02": no year,
    // so no time rather than a guessed one.
    assert_eq!(item.published_at, None);
    let stats: Vec<(&str, i64)> = item.stats.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        stats,
        vec![("comments", 2532), ("likes", 94018), ("shares", 1163)]
    );
    assert_eq!(item.media.len(), 1);
    let m = &item.media[0];
    assert_eq!(m.role, MediaRole::Image);
    assert_eq!(
        m.url,
        "https://wx4.sinaimg.cn/large/4df12e06ly1fi56acrcpjj22lc1q8qv5.jpg"
    );
    assert_eq!((m.width, m.height), (Some(2048), Some(1365)));
    assert_eq!(
        m.headers.get("Referer").map(String::as_str),
        Some("https://weibo.com/")
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://weibo.com/1307651590/FfcTLg6AY")
    );
    assert_eq!(item.quoted, None);
    // The mobile API wants a phone and its XHR headers.
    let hits = server.hits();
    let hit = hits
        .iter()
        .find(|h| h.target.starts_with("m.weibo.cn"))
        .expect("status request");
    assert!(
        hit.headers
            .get("user-agent")
            .is_some_and(|u| u.contains("iPhone"))
    );
    assert_eq!(hit.headers.get("mweibo-pwa").map(String::as_str), Some("1"));
}

#[tokio::test]
async fn long_text_repost_and_video() {
    // Synthetic body on the documented fields (RSSHub): a cut long post with
    // a video and a reposted original; the long text comes from statusesextend.
    let show = r##"{"ok":1,"data":{"mid":"5","bid":"Q","created_at":"Thu Nov 13 21:18:29 +0800 2025",
        "text":"cut…<a href=\"/status/5\">全文</a>","isLongText":true,
        "user":{"id":7,"screen_name":"u"},
        "page_info":{"type":"video","page_pic":{"url":"https://wx1.sinaimg.cn/c.jpg"},
          "urls":{"mp4_720p_mp4":"https://f.video.weibocdn.com/720.mp4","mp4_ld_mp4":"https://f.video.weibocdn.com/ld.mp4"},
          "media_info":{"duration":12.5}},
        "retweeted_status":{"mid":"4","text":"original <br />second line","user":{"id":8,"screen_name":"o"}}}}"##;
    let extend = r##"{"ok":1,"data":{"longTextContent":"full text #话题# here<br />line two"}}"##;
    let server = weibo().await;
    server
        .route("m.weibo.cn/statuses/show?id=5", Reply::json(show))
        .route("m.weibo.cn/statusesextend?id=5", Reply::json(extend));
    let item = server
        .fetcher()
        .fetch(&request(Platform::Weibo, "5", ContentKind::Post))
        .await
        .expect("fetches");
    assert_eq!(
        item.text.as_deref(),
        Some("full text #话题# here\nline two")
    );
    assert_eq!(item.tags, vec!["话题"]);
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_763_039_909)
    );
    let roles: Vec<(MediaRole, &str)> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str()))
        .collect();
    assert_eq!(
        roles,
        vec![
            (MediaRole::Cover, "https://wx1.sinaimg.cn/c.jpg"),
            (MediaRole::Video, "https://f.video.weibocdn.com/720.mp4"),
        ]
    );
    assert_eq!(item.media[1].duration_secs, Some(12.5));
    let q = item.quoted.as_ref().expect("repost");
    assert_eq!(q.text.as_deref(), Some("original\nsecond line"));
    assert_eq!(q.author.as_ref().and_then(|a| a.name.as_deref()), Some("o"));
    // The long text is kept in raw for re-parsing.
    assert!(item.raw.pointer("/data/longText/longTextContent").is_some());
}

#[tokio::test]
async fn login_walls() {
    let server = weibo().await;
    server.route(
        SHOW,
        Reply::json(r#"{"ok":-100,"url":"https://passport.weibo.cn/signin/welcome"}"#),
    );
    assert_eq!(
        fetch_err(&server, &req()).await.class,
        ErrorClass::AuthRequired
    );

    let server = weibo().await;
    server
        .route(
            SHOW,
            Reply::redirect("https://passport.weibo.cn/signin/login?r=x"),
        )
        .route("passport.weibo.cn/", Reply::html("<html>login</html>"));
    assert_eq!(
        fetch_err(&server, &req()).await.class,
        ErrorClass::AuthRequired
    );
}

#[tokio::test]
async fn deleted_is_permanent() {
    let server = weibo().await;
    server.route(
        SHOW,
        Reply::json(r#"{"ok":0,"msg":"微博不存在或暂无查看权限!"}"#),
    );
    let err = fetch_err(&server, &req()).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(
        err.detail
            .as_deref()
            .is_some_and(|d| d.contains("微博不存在"))
    );
}

#[tokio::test]
async fn http_errors() {
    assert_error_matrix_with(
        HOSTS,
        &[(GENVISITOR2, visitor_answer())],
        SHOW,
        &req(),
        ErrorClass::AuthRequired,
        Reply::json("{\"ok\":1,\"data\""),
    )
    .await;
}
