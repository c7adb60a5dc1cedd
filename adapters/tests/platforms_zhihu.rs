//! Zhihu: answers, questions, articles.

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
async fn errors_and_unsupported() {
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

    let err = fetch_err(
        &server,
        &request(Platform::Zhihu, "pin:5", ContentKind::Post),
    )
    .await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("not supported yet"));

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
