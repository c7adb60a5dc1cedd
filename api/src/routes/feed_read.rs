//! Reading a feed: `GET /api/v1/feed/rss`, `/api/v1/feed/atom` and
//! `/api/v1/feed/json`, each `?token=vf_…[&cursor=…][&limit=…]`.
//!
//! The token is the credential, in the URL so that a feed reader needs no
//! header: these routes are outside the API-key guard (`auth::access_for`
//! calls them open) and check the token themselves — a missing, unknown or
//! revoked token is `401 unauthenticated`. The token is in the query, not
//! the path, because request logs carry the path only.
//!
//! Each page is the newest `limit` (default 20, at most 100) archived items
//! of the feed's filter, with their full text and their archived files as
//! blob URLs that carry the same token (the guard lets a feed token open
//! the files of the items its feed shows); `rel="next"` (`next_url` in JSON
//! Feed) links to the older page. `ETag` (the SHA-256 of the body) and
//! `Last-Modified` (the newest change among the page's items) make
//! conditional requests answer `304 Not Modified`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use vaultstream_core::ErrorCode;
use vaultstream_core::content::ContentView;
use vaultstream_core::db::contents;
use vaultstream_core::db::entities::feed as feed_row;
use vaultstream_core::db::feeds;
use vaultstream_core::db::keys::hash_key;

use super::contents::public_base;
use super::page::{cursor_param, limit_param};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::{param, query_pairs};
use crate::feed::json::JsonFeed;
use crate::feed::{self, Channel};

/// Items per page unless `limit` says otherwise.
pub const FEED_DEFAULT_LIMIT: u64 = 20;
/// The most items a page may hold.
pub const FEED_MAX_LIMIT: u64 = 100;

/// The three formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    fn path(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// The feed as RSS 2.0.
#[utoipa::path(
    get,
    path = "/api/v1/feed/rss",
    operation_id = "read_feed_rss",
    tag = "feeds",
    params(
        ("token" = String, Query, description = "The feed's token (`vf_…`)"),
        ("cursor" = Option<String>, Query, description = "From the previous page's `rel=\"next\"` link"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Items per page (default 20)"),
        ("If-None-Match" = Option<String>, Header, description = "An earlier `ETag`: `304` when it still matches"),
        ("If-Modified-Since" = Option<String>, Header, description = "An earlier `Last-Modified`"),
    ),
    responses(
        (status = 200, description = "RSS 2.0", content_type = "application/rss+xml", body = String,
            headers(("ETag" = String), ("Last-Modified" = String))),
        (status = 304, description = "Not modified"),
        (status = 400, description = "`invalid_parameter` (limit) or `invalid_cursor`", body = ErrorResponse),
        (status = 401, description = "`unauthenticated`: no token, or an unknown or revoked one", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn rss(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    read(&state, &headers, raw.as_deref(), Format::Rss).await
}

/// The feed as Atom.
#[utoipa::path(
    get,
    path = "/api/v1/feed/atom",
    operation_id = "read_feed_atom",
    tag = "feeds",
    params(
        ("token" = String, Query, description = "The feed's token (`vf_…`)"),
        ("cursor" = Option<String>, Query, description = "From the previous page's `rel=\"next\"` link"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Items per page (default 20)"),
        ("If-None-Match" = Option<String>, Header, description = "An earlier `ETag`: `304` when it still matches"),
        ("If-Modified-Since" = Option<String>, Header, description = "An earlier `Last-Modified`"),
    ),
    responses(
        (status = 200, description = "Atom (RFC 4287)", content_type = "application/atom+xml", body = String,
            headers(("ETag" = String), ("Last-Modified" = String))),
        (status = 304, description = "Not modified"),
        (status = 400, description = "`invalid_parameter` (limit) or `invalid_cursor`", body = ErrorResponse),
        (status = 401, description = "`unauthenticated`: no token, or an unknown or revoked one", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn atom(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    read(&state, &headers, raw.as_deref(), Format::Atom).await
}

/// The feed as JSON Feed 1.1.
#[utoipa::path(
    get,
    path = "/api/v1/feed/json",
    operation_id = "read_feed_json",
    tag = "feeds",
    params(
        ("token" = String, Query, description = "The feed's token (`vf_…`)"),
        ("cursor" = Option<String>, Query, description = "From the previous page's `next_url`"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Items per page (default 20)"),
        ("If-None-Match" = Option<String>, Header, description = "An earlier `ETag`: `304` when it still matches"),
        ("If-Modified-Since" = Option<String>, Header, description = "An earlier `Last-Modified`"),
    ),
    responses(
        (status = 200, description = "JSON Feed 1.1", content_type = "application/feed+json", body = JsonFeed,
            headers(("ETag" = String), ("Last-Modified" = String))),
        (status = 304, description = "Not modified"),
        (status = 400, description = "`invalid_parameter` (limit) or `invalid_cursor`", body = ErrorResponse),
        (status = 401, description = "`unauthenticated`: no token, or an unknown or revoked one", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn json(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    read(&state, &headers, raw.as_deref(), Format::Json).await
}

/// The feed's title: its name, else what it selects.
fn title(f: &feed_row::Model) -> String {
    if let Some(n) = f.name.as_deref() {
        return format!("VaultStream: {n}");
    }
    let mut parts = Vec::new();
    if let Some(p) = &f.platform {
        parts.push(format!("platform {p}"));
    }
    if let Some(t) = &f.tag {
        parts.push(format!("#{t}"));
    }
    if let Some(k) = &f.kind {
        parts.push(format!("kind {k}"));
    }
    if let Some(a) = &f.author {
        parts.push(format!("by {a}"));
    }
    if let Some(q) = &f.q {
        parts.push(format!("\u{201c}{q}\u{201d}"));
    }
    if parts.is_empty() {
        "VaultStream: everything archived".to_owned()
    } else {
        format!("VaultStream: {}", parts.join(", "))
    }
}

/// `Last-Modified`'s format (RFC 9110 IMF-fixdate).
fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Whether the request's validators say the client has this version.
fn not_modified(headers: &HeaderMap, etag: &str, last_modified: DateTime<Utc>) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2);
        // the comparison is weak (a `W/` prefix is ignored).
        return inm
            .split(',')
            .map(str::trim)
            .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag);
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v.trim()).ok())
        .is_some_and(|since| last_modified.timestamp() <= since.timestamp())
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, message)
}

async fn read(
    state: &AppState,
    headers: &HeaderMap,
    raw: Option<&str>,
    format: Format,
) -> ApiResult<Response> {
    let pairs = query_pairs(raw);
    let token = param(&pairs, "token")
        .ok_or_else(|| unauthenticated("a feed URL carries its token: ?token=vf_…"))?;
    let row = feeds::verify(&state.db, token)
        .await?
        .ok_or_else(|| unauthenticated("unknown or revoked feed token"))?;
    let limit_given = param(&pairs, "limit").is_some();
    let limit = limit_param(&pairs, FEED_DEFAULT_LIMIT, FEED_MAX_LIMIT)?;
    let cursor = cursor_param(&pairs)?;
    let page = feeds::page(&state.db, &row, limit, cursor).await?;
    // The full items (media and parts): a feed carries the whole text.
    let mut views: Vec<ContentView> = Vec::with_capacity(page.items.len());
    for item in &page.items {
        if let Some(v) = contents::get(&state.db, item.id).await? {
            views.push(v);
        }
    }

    let base = public_base(headers).unwrap_or_else(|| format!("http://{}", state.settings.bind));
    let page_url = |cursor: Option<String>| {
        let mut url = format!("{base}/api/v1/feed/{}?token={token}", format.path());
        if limit_given {
            url.push_str(&format!("&limit={limit}"));
        }
        if let Some(c) = cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        url
    };
    let blob_url = |path: &str| format!("{base}{path}?token={token}");
    let entries: Vec<feed::Entry> = views.iter().map(|v| feed::entry(v, blob_url)).collect();
    // A file archived later changes the entry without touching the item.
    let updated = views
        .iter()
        .flat_map(|v| {
            let files = v.media.iter().flatten().filter_map(|m| m.archived_at);
            std::iter::once(v.updated_at).chain(files)
        })
        .max()
        .unwrap_or(row.created_at);
    let channel = Channel {
        id: format!("{base}/api/v1/feeds/{}", row.id),
        title: title(&row),
        description: format!(
            "Archived items from VaultStream ({}), newest first",
            title(&row)
                .strip_prefix("VaultStream: ")
                .unwrap_or_default()
        ),
        self_url: page_url(cursor.map(|c| c.encode())),
        next_url: page.next_cursor.map(|c| page_url(Some(c.encode()))),
        home_url: format!("{base}/"),
        updated,
    };
    let body = match format {
        Format::Rss => feed::rss::render(&channel, &entries),
        Format::Atom => feed::atom::render(&channel, &entries),
        Format::Json => feed::json::render(&channel, &entries),
    };
    let etag = format!("\"{}\"", &hash_key(&body)[..32]);
    let mut out = HeaderMap::new();
    let value = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
    out.insert(header::ETAG, value(&etag));
    out.insert(header::LAST_MODIFIED, value(&http_date(updated)));
    // The URL is a credential: shared caches must not keep the body.
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if not_modified(headers, &etag, updated) {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok((StatusCode::OK, out, body).into_response())
}
