//! Web pages in other charsets than UTF-8 (from the header, the `<meta>`,
//! or sniffed), and the main article block with its pictures.

use vaultstream_core::parsed::{ErrorClass, MediaRole};

use crate::fetch_err;
use crate::support::{Replay, ReplayExt, Reply};
use crate::web::page;

const HOSTS: &[&str] = &["example.cn", "example.jp", "example.ru", "example.com.tw"];

/// A fixture's bytes (these files are not UTF-8).
fn bytes(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/tests/fixtures/generic/charset/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

async fn fetch_page(
    host: &str,
    file: &str,
    content_type: &str,
) -> vaultstream_core::parsed::ParsedItem {
    let server = Replay::start(HOSTS).await;
    server.route(
        &format!("{host}/p"),
        Reply::bytes(content_type, bytes(file)),
    );
    server
        .fetcher()
        .fetch(&page(&format!("https://{host}/p")))
        .await
        .expect("fetches")
}

fn charset(item: &vaultstream_core::parsed::ParsedItem) -> (&str, &str) {
    (
        item.raw["charset"].as_str().unwrap_or_default(),
        item.raw["charset_source"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn gb2312_from_the_meta_tags() {
    // Rebuilt bytes of unfurl's real qq.com heads (http-equiv, then meta charset).
    for file in [
        "gb2312_unfurl_html_4_http_equiv.html",
        "gb2312_unfurl_html_5_meta_charset.html",
    ] {
        let item = fetch_page("example.cn", file, "text/html").await;
        assert_eq!(item.title.as_deref(), Some("腾讯首页"), "{file}");
        assert!(
            item.text
                .as_deref()
                .is_some_and(|t| t.starts_with("腾讯网从2003年创立至今")),
            "{file}: {:?}",
            item.text
        );
        assert_eq!(charset(&item), ("GBK", "meta"), "{file}");
    }
}

#[tokio::test]
async fn the_header_wins_over_the_meta() {
    let item = fetch_page(
        "example.cn",
        "gb2312_unfurl_html_5_meta_charset.html",
        "text/html; charset=GB18030",
    )
    .await;
    assert_eq!(item.title.as_deref(), Some("腾讯首页"));
    assert_eq!(charset(&item), ("gb18030", "header"));
}

#[tokio::test]
async fn euc_jp_page() {
    let item = fetch_page("example.jp", "euc_jp_unfurl_rakuten.html", "text/html").await;
    assert!(
        item.title
            .as_deref()
            .is_some_and(|t| t.starts_with("【楽天市場】Shopping is Entertainment! ：")),
        "{:?}",
        item.title
    );
    assert_eq!(charset(&item), ("EUC-JP", "meta"));
}

#[tokio::test]
async fn undeclared_charsets_are_sniffed() {
    // wpull's samples say their charset in a comment only.
    let item = fetch_page("example.jp", "shift_jis_wpull_mojibake.html", "text/html").await;
    assert_eq!(item.text.as_deref(), Some("文字化け"));
    assert_eq!(charset(&item), ("Shift_JIS", "sniffed"));

    let item = fetch_page("example.ru", "koi8_r_wpull_krokozyabry.html", "text/html").await;
    assert_eq!(item.text.as_deref(), Some("Кракозябры"));
    // chardetng names KOI8-U, which reads every KOI8-R letter the same.
    assert_eq!(charset(&item), ("KOI8-U", "sniffed"));
}

#[tokio::test]
async fn big5_article_without_any_declaration() {
    // ASSEMBLED: a Big5 news page we wrote (no small real one exists), no
    // meta and no charset in the header; no <article> either, so the
    // densest block of paragraphs is the text.
    let item = fetch_page(
        "example.com.tw",
        "big5_news_no_meta.assembled.html",
        "text/html",
    )
    .await;
    assert_eq!(charset(&item), ("Big5", "sniffed"));
    assert_eq!(item.title.as_deref(), Some("臺北市立圖書館新館開幕"));
    let text = item.text.as_deref().expect("text");
    assert!(
        text.starts_with("臺北市立圖書館新館開幕\n\n臺北市立圖書館的新館今天正式開幕"),
        "{text}"
    );
    assert!(text.ends_with("志工也協助引導動線。"), "{text}");
    assert!(
        !text.contains("首頁") && !text.contains("更多新聞"),
        "{text}"
    );
    let media: Vec<(MediaRole, &str, Option<u32>)> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str(), m.width))
        .collect();
    assert_eq!(
        media,
        vec![(
            MediaRole::Image,
            "https://example.com.tw/images/library-hall.jpg",
            Some(800)
        )]
    );

    // The same bytes labelled by the header.
    let item = fetch_page(
        "example.com.tw",
        "big5_news_no_meta.assembled.html",
        "text/html; charset=big5",
    )
    .await;
    assert_eq!(charset(&item), ("Big5", "header"));
    assert_eq!(item.title.as_deref(), Some("臺北市立圖書館新館開幕"));
}

#[tokio::test]
async fn gb18030_four_byte_characters_and_article_images() {
    // ASSEMBLED: a GB18030 page we wrote with characters outside GBK.
    let item = fetch_page(
        "example.cn",
        "gb18030_rare_chars.assembled.html",
        "text/html",
    )
    .await;
    assert_eq!(charset(&item), ("gb18030", "meta"));
    let text = item.text.as_deref().expect("text");
    assert!(text.contains("“𠮷”和“㐀”"), "{text}");
    assert!(text.contains("价格为€12"), "{text}");
    assert!(!text.contains("评论") && !text.contains("列表"), "{text}");
    let html = item.html.as_deref().expect("html");
    assert!(
        html.contains("<p>古籍整理时") && !html.contains("评论"),
        "{html}"
    );
    // The article's pictures in order (relative and lazy ones resolved),
    // without the share icon and the tracking pixel.
    let urls: Vec<&str> = item.media.iter().map(|m| m.url.as_str()).collect();
    assert_eq!(
        urls,
        vec![
            "https://example.cn/images/page-1.png",
            "https://cdn.example.cn/scan/page-2.jpg"
        ]
    );
    assert!(item.media.iter().all(|m| m.role == MediaRole::Image));
}

#[tokio::test]
async fn undecodable_bytes_are_replaced_not_fatal() {
    // A page that says UTF-8 but is not: the bad bytes become U+FFFD.
    let server = Replay::start(HOSTS).await;
    server.route(
        "example.cn/bad",
        Reply::bytes(
            "text/html; charset=utf-8",
            b"<title>ok \xff\xfe</title><p>text</p>".to_vec(),
        ),
    );
    let item = server
        .fetcher()
        .fetch(&page("https://example.cn/bad"))
        .await
        .expect("fetches");
    assert_eq!(item.title.as_deref(), Some("ok \u{fffd}\u{fffd}"));

    // An empty body is still malformed.
    server.route(
        "example.cn/empty",
        Reply::bytes("text/html; charset=gbk", Vec::new()),
    );
    let err = fetch_err(&server, &page("https://example.cn/empty")).await;
    assert_eq!(err.class, ErrorClass::Permanent);
}
