//! Generic pages: metadata, readable text, and the SSRF guard.

use vaultstream_adapters::fetch::{FetchConfig, FetchRequest, Fetcher};
use vaultstream_core::parsed::{ErrorClass, MediaRole};
use vaultstream_core::{ContentKind, Identity, Platform};

use crate::support::{Replay, ReplayExt, Reply, fixture};
use crate::{assert_error_matrix, fetch_err};

const HOSTS: &[&str] = &["example.com"];

/// role, url, width, height, mime
type MediaRow<'a> = (
    MediaRole,
    &'a str,
    Option<u32>,
    Option<u32>,
    Option<&'a str>,
);

pub fn page(url: &str) -> FetchRequest {
    FetchRequest {
        identity: Identity {
            platform: Platform::Web,
            platform_id: url.to_owned(),
            canonical_url: url.to_owned(),
            kind: ContentKind::Page,
        },
        source_url: Some(url.to_owned()),
    }
}

#[tokio::test]
async fn opengraph_page() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "example.com/rock",
        Reply::html(fixture("generic/opengraph_page.html")),
    );
    let item = server
        .fetcher()
        .fetch(&page("https://example.com/rock"))
        .await
        .expect("fetches");
    assert_eq!(item.kind, Some(ContentKind::Page));
    assert_eq!(item.title.as_deref(), Some("The Rock"));
    // Empty <body>: the description is the text.
    assert_eq!(
        item.text.as_deref(),
        Some(
            "Sean Connery found fame and fortune as the suave, sophisticated British agent, James Bond."
        )
    );
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://www.imdb.com/title/tt0117500/")
    );
    assert_eq!(item.author, None);
    assert_eq!(item.published_at, None);
    assert!(item.stats.is_empty() && item.tags.is_empty());
    let media: Vec<MediaRow> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str(), m.width, m.height, m.mime.as_deref()))
        .collect();
    assert_eq!(
        media,
        vec![
            (
                MediaRole::Cover,
                "https://ia.media-imdb.com/images/rock.jpg",
                None,
                None,
                None
            ),
            // og:image:secure_url/width/height/type attach to the image before them.
            (
                MediaRole::Image,
                "https://secure.example.com/ogp.jpg",
                Some(400),
                Some(300),
                Some("image/jpeg")
            ),
            (
                MediaRole::Video,
                "https://example.com/bond/trailer.swf",
                None,
                None,
                None
            ),
        ]
    );
    assert_eq!(item.raw["url"], "https://example.com/rock");
    assert!(
        item.raw["html"]
            .as_str()
            .is_some_and(|h| h.contains("og:title"))
    );
}

#[tokio::test]
async fn article_with_json_ld_and_main_text() {
    // Synthetic page: JSON-LD in a @graph, an <article> with a relative image,
    // navigation and scripts that must not end up in the text.
    let html = r#"<!doctype html><html><head><title>Fallback title</title>
<script type="application/ld+json">{"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"Site"},
 {"@type":"NewsArticle","headline":"Headline from LD","datePublished":"2024-03-05T10:00:00+08:00",
  "author":[{"@type":"Person","name":"Ada"},{"@type":"Person","name":"Bob"}],"keywords":"rust, archiving",
  "image":["https://cdn.example.com/lead.jpg"]}]}</script>
<link rel="canonical" href="/posts/1">
</head><body><nav>Home | About</nav>
<article><h1>Title</h1><p>First paragraph with <b>bold</b>.</p><script>track()</script>
<p>Second<br>line</p><img src="/img/a.png" alt="a"><img src="https://t.example/p.gif" width="1" height="1"></article>
<footer>© 2024</footer></body></html>"#;
    let server = Replay::start(HOSTS).await;
    server.route("example.com/posts/1", Reply::html(html));
    let item = server
        .fetcher()
        .fetch(&page("https://example.com/posts/1?x=1"))
        .await
        .expect("fetches");
    assert_eq!(item.title.as_deref(), Some("Headline from LD"));
    assert_eq!(
        item.text.as_deref(),
        Some("Title\n\nFirst paragraph with bold.\n\nSecond\nline")
    );
    let html_body = item.html.as_deref().expect("html");
    assert!(
        html_body.contains("<p>First paragraph with <b>bold</b>.</p>")
            && !html_body.contains("track()"),
        "{html_body}"
    );
    assert_eq!(
        item.author.as_ref().and_then(|a| a.name.as_deref()),
        Some("Ada, Bob")
    );
    assert_eq!(
        item.published_at.map(|t| t.timestamp()),
        Some(1_709_604_000)
    );
    assert_eq!(item.tags, vec!["rust", "archiving"]);
    assert_eq!(
        item.canonical_url.as_deref(),
        Some("https://example.com/posts/1")
    );
    let media: Vec<(MediaRole, &str)> = item
        .media
        .iter()
        .map(|m| (m.role, m.url.as_str()))
        .collect();
    assert_eq!(
        media,
        vec![
            (MediaRole::Cover, "https://cdn.example.com/lead.jpg"),
            (MediaRole::Image, "https://example.com/img/a.png"),
        ]
    );
}

#[tokio::test]
async fn direct_media_link_is_not_downloaded() {
    let server = Replay::start(HOSTS).await;
    server.route(
        "example.com/big.jpg",
        Reply::with_type(200, "image/jpeg", "x".repeat(50_000)),
    );
    let fetcher = Fetcher::new(FetchConfig {
        max_body_bytes: 1_000,
        ..server.config()
    });
    let item = fetcher
        .fetch(&page("https://example.com/big.jpg"))
        .await
        .expect("fetches");
    assert_eq!(item.media.len(), 1);
    assert_eq!(item.media[0].role, MediaRole::Image);
    assert_eq!(item.media[0].url, "https://example.com/big.jpg");
    assert_eq!(item.media[0].mime.as_deref(), Some("image/jpeg"));

    server.route(
        "example.com/doc.pdf",
        Reply::with_type(200, "application/pdf", "%PDF"),
    );
    let err = fetch_err(&server, &page("https://example.com/doc.pdf")).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("application/pdf"), "{err:?}");
}

#[tokio::test]
async fn http_errors() {
    // 403 on a generic page is a plain refusal, not a login wall.
    assert_error_matrix(
        HOSTS,
        "example.com/",
        &page("https://example.com/p"),
        ErrorClass::Permanent,
        Reply::html("  "),
    )
    .await;
}

#[tokio::test]
async fn private_targets_are_refused() {
    let server = Replay::start(&[]).await;
    server.route("", Reply::html("<title>internal</title>"));
    let url = format!("{}/h/admin", server.base);
    let err = fetch_err(&server, &page(&url)).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("refused"), "{err:?}");
    assert!(
        server.hits().is_empty(),
        "no request may reach a private address"
    );

    // The operator's switch lets them through.
    let open = Fetcher::new(FetchConfig {
        allow_private_targets: true,
        ..server.config()
    });
    let item = open.fetch(&page(&url)).await.expect("allowed");
    assert_eq!(item.title.as_deref(), Some("internal"));
}

#[tokio::test]
async fn redirects_to_private_targets_are_refused() {
    // example.com is overridden (the operator's choice, so not guarded); its
    // redirect to a loopback address that is *not* overridden is refused.
    let server = Replay::start(HOSTS).await;
    let target = format!("{}/h/secret", server.base);
    server
        .route("example.com/start", Reply::redirect(&target))
        .route("secret", Reply::html("<title>secret</title>"));
    let err = fetch_err(&server, &page("https://example.com/start")).await;
    assert_eq!(err.class, ErrorClass::Permanent);
    assert!(err.message.contains("refused"), "{err:?}");
    assert!(server.hits().iter().all(|h| h.target != "secret"));

    for literal in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://10.0.0.1/",
        "http://metadata/",
    ] {
        let server = Replay::start(HOSTS).await;
        server.route("example.com/start", Reply::redirect(literal));
        let err = fetch_err(&server, &page("https://example.com/start")).await;
        assert_eq!(err.class, ErrorClass::Permanent, "{literal}: {err:?}");
    }
}
