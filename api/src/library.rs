//! The library: the web page where people look at what they archived
//! (`/`, an item at `/items/{id}`, the share target `/share`), its web app
//! manifest and icon.
//!
//! Like the operator page ([`crate::admin`]) it holds no data and asks for
//! a key itself, so it is served outside the auth guard; everything it
//! shows comes from the JSON API with `fetch`. Its script and style are
//! hand-written files (`static/library.{html,css,js}`) put together once
//! into one document with inline blocks, each response with a fresh nonce
//! and the same strict policy as `/admin` (plus `manifest-src 'self'`).

use std::sync::LazyLock;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::admin::{HISTORY_JS, nonce_page};

const HTML: &str = include_str!("../static/library.html");
const CSS: &str = include_str!("../static/library.css");
const JS: &str = include_str!("../static/library.js");
const MANIFEST: &str = include_str!("../static/manifest.webmanifest");
const ICON: &str = include_str!("../static/icon.svg");

/// The page with its style and script inlined (nonce slots still open).
static PAGE: LazyLock<String> = LazyLock::new(|| {
    HTML.replacen("/*__LIBRARY_CSS__*/", CSS, 1)
        .replacen("/*__HISTORY_JS__*/", HISTORY_JS, 1)
        .replacen("/*__LIBRARY_JS__*/", JS, 1)
});

pub fn routes() -> Router<AppState> {
    let other_method = || async {
        crate::error::ApiError::new(
            vaultstream_core::ErrorCode::MethodNotAllowed,
            "this route does not accept that method",
        )
    };
    Router::new()
        .route("/", get(page).fallback(other_method))
        .route("/items/{id}", get(page).fallback(other_method))
        .route("/share", get(share_page).fallback(other_method))
        .route(
            "/manifest.webmanifest",
            get(|| async { asset(MANIFEST, "application/manifest+json") }),
        )
        .route("/icon.svg", get(|| async { asset(ICON, "image/svg+xml") }))
}

async fn page(State(state): State<AppState>) -> Response {
    nonce_page(&state, &PAGE, "; manifest-src 'self'")
}

/// The share target. The system share sheet opens it as a navigation of
/// its own (`Sec-Fetch-Site: none`) and the page submits at once: one tap.
/// A link from another site to `/share?url=…` (`cross-site` or
/// `same-site`) must not archive anything by itself: the page then fills
/// in the box and waits for the person to press Save.
async fn share_page(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let from_elsewhere = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v, "cross-site" | "same-site"));
    if from_elsewhere {
        let page = PAGE.replacen("<body>", "<body data-share-confirm=\"1\">", 1);
        return nonce_page(&state, &page, "; manifest-src 'self'");
    }
    page(State(state)).await
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::NONCE_SLOT;

    #[test]
    fn the_page_is_one_document_with_nonced_blocks() {
        assert!(!PAGE.contains("__LIBRARY_") && !PAGE.contains("__HISTORY_"));
        assert_eq!(PAGE.matches(NONCE_SLOT).count(), 3);
        assert!(PAGE.contains(&format!("<script nonce=\"{NONCE_SLOT}\">")));
        assert!(PAGE.contains(&format!("<style nonce=\"{NONCE_SLOT}\">")));
        // Nothing from elsewhere (the SVG namespace is a name, not a
        // fetch), nothing parsed as HTML by the scripts.
        let page = PAGE.replace("http://www.w3.org/2000/svg", "");
        assert!(!page.contains("http://") && !page.contains("https://"));
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!JS.contains(sink), "library.js uses {sink}");
            assert!(!HISTORY_JS.contains(sink), "history.js uses {sink}");
        }
    }

    /// The first page's HTML, CSS and script together stay under 100 KB
    /// even uncompressed (the budget is 100 KB compressed).
    #[test]
    fn the_page_is_small() {
        assert!(PAGE.len() < 100_000, "{} bytes", PAGE.len());
    }

    #[test]
    fn the_manifest_is_a_share_target() {
        let m: serde_json::Value = serde_json::from_str(MANIFEST).unwrap();
        assert_eq!(m["start_url"], "/");
        assert_eq!(m["share_target"]["action"], "/share");
        assert_eq!(m["share_target"]["method"], "GET");
        assert_eq!(m["share_target"]["params"]["url"], "url");
        assert_eq!(m["share_target"]["params"]["text"], "text");
    }
}
