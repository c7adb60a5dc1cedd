//! The library page, its manifest and icon: served without a key (the
//! data behind them is not), with a nonce policy like `/admin`.

mod support;

use serde_json::Value;
use support::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_manifest_and_icon_are_served_without_a_key() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("AUTH", "required".to_owned())]).await;
    for path in ["/", "/items/12", "/share?text=hi", "/?platform=weibo&q=x"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'nonce-"), "{csp}");
        assert!(csp.contains("manifest-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        let html = resp.text().await.unwrap();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap();
        assert!(html.contains(&format!("<script nonce=\"{nonce}\">")));
        assert!(html.contains("rel=\"manifest\""));
    }
    let resp = app
        .client
        .get(app.url("/manifest.webmanifest"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "application/manifest+json");
    let m: Value = resp.json().await.unwrap();
    assert_eq!(m["share_target"]["action"], "/share");
    let resp = app.client.get(app.url("/icon.svg")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");
    // The data stays behind the key.
    let (status, _) = app.get("/api/v1/contents").await;
    assert_eq!(status, 401);
    let resp = app
        .client
        .put(app.url("/api/v1/contents/1/tags"))
        .header("content-type", "application/json")
        .body(r#"{"tags": []}"#)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
    let resp = app.client.post(app.url("/")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 405);
}

/// The share target submits at once only when the system share sheet
/// opened it: a link from another site gets a page that waits for Save.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_link_from_another_site_waits_for_the_person() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let page = |site: Option<&'static str>| {
        let mut req = app
            .client
            .get(app.url("/share?url=https%3A%2F%2Fx.com%2Fjack%2Fstatus%2F20"));
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    for site in [Some("cross-site"), Some("same-site")] {
        assert!(
            page(site).await.contains("data-share-confirm=\"1\""),
            "{site:?}"
        );
    }
    for site in [None, Some("none"), Some("same-origin")] {
        assert!(!page(site).await.contains("data-share-confirm"), "{site:?}");
    }
}
