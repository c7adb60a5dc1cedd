//! `GET /admin`: the operator's web page (one self-contained HTML file with
//! its CSS and script inline; no CDN, no fonts from elsewhere).
//!
//! The page holds no data: it reads everything from the JSON API with
//! `fetch`, sending the operator key it keeps in `sessionStorage` as
//! `Authorization: Bearer <key>` (it asks for one when the API answers 401
//! or 403). So the page itself is served without a key, outside the auth
//! guard, like the docs UI.
//!
//! Every response gets a fresh nonce: the page's one `<script>` and one
//! `<style>` carry it, and the `Content-Security-Policy` allows nothing else
//! inline. Scripts, styles, frames and forms from anywhere else are refused;
//! `fetch` may only reach this origin; images and videos may come from this
//! origin (`/blobs/…`), `blob:` URLs (images fetched with the key) and the
//! S3 endpoint / public base URL that `/blobs/…` redirects to.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use url::Url;

use crate::AppState;

/// Upstream-state badges and the history panel, shared with the library
/// (its own inline block, before the page's script).
pub(crate) const HISTORY_JS: &str = include_str!("../static/history.js");

/// The page, with `__CSP_NONCE__` where each response's nonce goes.
static PAGE: LazyLock<String> = LazyLock::new(|| {
    include_str!("../static/admin.html").replacen("/*__HISTORY_JS__*/", HISTORY_JS, 1)
});
pub(crate) const NONCE_SLOT: &str = "__CSP_NONCE__";

pub fn routes() -> Router<AppState> {
    // Merged outside the router's own method fallback: answer other
    // methods with the usual JSON envelope here.
    Router::new().route(
        "/admin",
        get(page).fallback(|| async {
            crate::error::ApiError::new(
                vaultstream_core::ErrorCode::MethodNotAllowed,
                "this route does not accept that method",
            )
        }),
    )
}

async fn page(State(state): State<AppState>) -> Response {
    nonce_page(&state, &PAGE, "")
}

/// `template` with a fresh nonce in its `__CSP_NONCE__` slots, served with
/// the policy that allows only those inline blocks (plus `extra`
/// directives, e.g. `; manifest-src 'self'`), never cached.
pub(crate) fn nonce_page(state: &AppState, template: &str, extra: &str) -> Response {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let body = template.replace(NONCE_SLOT, &nonce);
    let mut media_hosts = String::new();
    if let Some(s3) = &state.settings.s3 {
        for url in std::iter::once(&s3.endpoint).chain(s3.public_base_url.as_ref()) {
            if let Some(origin) = origin_of(url) {
                media_hosts.push(' ');
                media_hosts.push_str(&origin);
            }
        }
    }
    let csp = content_security_policy(&nonce, &media_hosts) + extra;
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp
}

/// The policy for one response; `media_hosts` is empty or ` origin…`.
fn content_security_policy(nonce: &str, media_hosts: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'{media_hosts}; img-src 'self' blob: data:{media_hosts}; \
         media-src 'self' blob:{media_hosts}; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// `scheme://host[:port]` of an http(s) URL, for a CSP source list (only
/// characters a CSP source may hold).
fn origin_of(url: &Url) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let origin = url.origin().ascii_serialization();
    let ok = origin
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.' | '-' | '[' | ']'));
    ok.then_some(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_a_nonce_slot_on_its_script_and_style() {
        assert_eq!(PAGE.matches(NONCE_SLOT).count(), 3);
        assert!(!PAGE.contains("__HISTORY_JS__"));
        assert!(PAGE.contains(&format!("<script nonce=\"{NONCE_SLOT}\">")));
        assert!(PAGE.contains(&format!("<style nonce=\"{NONCE_SLOT}\">")));
    }

    #[test]
    fn origins_for_the_policy() {
        let u = Url::parse("https://s3.example.com:9000/bucket/x?y=1").unwrap();
        assert_eq!(
            origin_of(&u).as_deref(),
            Some("https://s3.example.com:9000")
        );
        assert_eq!(origin_of(&Url::parse("ftp://h/x").unwrap()), None);
        let csp = content_security_policy("abc", " https://cdn.test");
        assert!(csp.contains("img-src 'self' blob: data: https://cdn.test;"));
        assert!(csp.contains("script-src 'nonce-abc';"));
        assert!(!csp.contains("unsafe"));
    }
}
