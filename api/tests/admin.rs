//! `GET /admin`: the operator page is served as HTML, uncached, under a
//! strict Content-Security-Policy, with nothing loaded from other hosts,
//! and without a key even when auth is required (it asks for one itself).

mod support;

use support::{Backend, TestApp};

async fn get_page(app: &TestApp) -> (reqwest::header::HeaderMap, String) {
    let resp = app.client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    (headers, resp.text().await.unwrap())
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("{name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_is_self_contained_html_under_a_strict_csp() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (h, html) = get_page(&app).await;
    assert_eq!(header(&h, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&h, "cache-control"), "no-store");
    let csp = header(&h, "content-security-policy");
    for part in [
        "default-src 'none'",
        "connect-src 'self'",
        "img-src 'self' blob: data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "CSP has {part}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    // The inline script and style carry this response's nonce, and only they.
    let nonce = csp
        .split("script-src 'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .expect("script nonce in the CSP");
    assert!(nonce.len() >= 32, "{nonce}");
    assert!(csp.contains(&format!("style-src 'nonce-{nonce}'")), "{csp}");
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), 3);
    assert_eq!(
        html.matches("<script").count(),
        2,
        "two inline scripts: the shared history panel and the page's own"
    );
    assert!(!html.contains("__CSP_NONCE__"));
    // A new nonce per response.
    let (h2, _) = get_page(&app).await;
    assert_ne!(header(&h2, "content-security-policy"), csp);

    // Nothing from other hosts: no absolute URLs at all in the page (the
    // SVG namespace of the stats chart is a name, never fetched).
    let html = html.replace("http://www.w3.org/2000/svg", "");
    for scheme in ["http://", "https://"] {
        assert!(!html.contains(scheme), "the page names no {scheme} URL");
    }
    for attr in ["src=", "href=", "url("] {
        for part in html.split(attr).skip(1) {
            let target = part.trim_start_matches(['"', '\'']);
            assert!(
                !target.starts_with("//"),
                "{attr}{}",
                &target[..target.len().min(60)]
            );
        }
    }
    // The views and the hooks the browser test relies on are there.
    for hook in [
        "data-testid=\"tab-items\"",
        "data-testid=\"tab-dead\"",
        "data-testid=\"tab-push\"",
        "data-testid=\"dl-retry-all\"",
        "'dl-retry-'",
        "'item-status-'",
        "'item-row-'",
        "'detail-parts'",
        "'part-shared'",
        "sessionStorage",
        "Bearer ",
    ] {
        assert!(html.contains(hook), "page has {hook}");
    }
    // Data never goes in as HTML.
    assert!(!html.contains("innerHTML") && !html.contains("insertAdjacentHTML"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_needs_no_key_when_the_api_does() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("AUTH", "required".to_owned())]).await;
    let (h, html) = get_page(&app).await;
    assert!(header(&h, "content-type").starts_with("text/html"));
    assert!(html.contains("Operator API key"));
    // The API behind it still wants one.
    let (status, _) = app.get("/api/v1/dead-letters").await;
    assert_eq!(status, 401);
}

/// Other methods on `/admin` get the JSON error envelope like every route.
#[tokio::test]
async fn other_methods_on_admin_get_the_envelope() {
    let app = support::TestApp::spawn(support::Backend::Sqlite).await;
    let r = app
        .client
        .post(format!("{}/admin", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}
