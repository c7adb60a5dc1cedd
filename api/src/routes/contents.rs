//! `GET /api/v1/contents` (filtered, newest first, keyset cursor) and
//! `GET /api/v1/contents/{id}`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use vaultstream_core::content::{ContentView, Status};
use vaultstream_core::db::contents::{self, ListFilter};
use vaultstream_core::db::previews::Preview;
use vaultstream_core::platform::Platform;

use super::page::{DEFAULT_LIMIT, MAX_LIMIT, Page, Paged, cursor_param, limit_param};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::{param, query_pairs, text_param};

/// Parse an id from the path: a positive integer, in plain ASCII digits
/// only (no sign, no white space: `%0A1` or `+1` is not item 1). `what`
/// names it in the error ("content", "dead letter", "push target", ...).
pub fn path_id(path: Result<Path<String>, PathRejection>, what: &str) -> ApiResult<i64> {
    let raw = path
        .map_err(|_| {
            ApiError::invalid_parameter(format!("the {what} id in the path is not readable"))
        })?
        .0;
    Some(raw.as_str())
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|r| r.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "{what} id `{}` is not a positive integer",
                raw.escape_debug()
            ))
        })
}

/// Parse a content id from the path.
pub fn content_id(path: Result<Path<String>, PathRejection>) -> ApiResult<i64> {
    path_id(path, "content")
}

/// One item with its fields, its media (with absolute URLs of the archived
/// files) and every submission of it.
#[utoipa::path(
    get,
    path = "/api/v1/contents/{id}",
    operation_id = "get_content",
    tag = "contents",
    params(("id" = i64, Path, minimum = 1, description = "Content id")),
    responses(
        (status = 200, description = "The item, with `media` and `sources`", body = ContentView),
        (status = 400, description = "`invalid_parameter`: the id is not a positive integer", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn get_one(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<ContentView>> {
    let id = content_id(path)?;
    let mut view = contents::get(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no content with id {id}")))?;
    // Media URLs are absolute, on the host the client reached us by.
    if let Some(base) = public_base(&headers) {
        for m in view.media.iter_mut().flatten() {
            if let Some(u) = m.url.as_mut().filter(|u| u.starts_with('/')) {
                *u = format!("{base}{u}");
            }
        }
    }
    Ok(Json(view))
}

/// `scheme://host[:port]` as the client sees this server: the standard
/// forwarding headers of a reverse proxy, else the Host header.
pub fn public_base(headers: &HeaderMap) -> Option<String> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host = get("x-forwarded-host").or_else(|| get("host"))?;
    // Only a plain host[:port]; anything else is not echoed back.
    let ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    let scheme = match get("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    ok.then(|| format!("{scheme}://{host}"))
}

/// An item in a list: the item (without `media` and `sources`) and what
/// a card shows of its media.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListedItem {
    #[serde(flatten)]
    pub item: ContentView,
    /// Its picture and how many images and videos it has.
    pub preview: Preview,
}

/// A page of items (the name predates the generic [`Page`]).
pub type ContentPage = Page<ListedItem>;

impl Paged for ListedItem {
    const PAGE_NAME: &'static str = "ListResponse";
}

/// The previews of these items, picture URLs absolute on the host the
/// client reached us by (as the detail route's media URLs).
pub async fn previews(
    state: &AppState,
    headers: &HeaderMap,
    ids: &[i64],
) -> ApiResult<HashMap<i64, Preview>> {
    let mut all = vaultstream_core::db::previews::of(&state.db, ids).await?;
    if let Some(base) = public_base(headers) {
        for p in all.values_mut() {
            if let Some(img) = p.image.as_mut().filter(|i| i.url.starts_with('/')) {
                img.url = format!("{base}{}", img.url);
            }
        }
    }
    Ok(all)
}

/// The query of `GET /contents` (read by hand from the raw query, so every
/// message names its parameter; this describes it).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentListQuery {
    pub status: Option<Status>,
    pub platform: Option<Platform>,
    /// Items with this tag (a leading `#` is ignored; case-insensitive).
    pub tag: Option<String>,
    /// Text search in title and text, at most 200 characters.
    pub q: Option<String>,
    /// Items whose original is in this state upstream.
    pub upstream_state: Option<vaultstream_core::status::UpstreamState>,
    /// Items of this kind (`video`, `post`, `article`, ...).
    pub kind: Option<vaultstream_core::ContentKind>,
    /// Items by this author: their name or platform id, exactly.
    pub author: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Items, newest first, filtered; page with `next_cursor`.
#[utoipa::path(
    get,
    path = "/api/v1/contents",
    operation_id = "list_contents",
    tag = "contents",
    params(ContentListQuery),
    responses(
        (status = 200, description = "A page of items (without `media` and `sources`; with a `preview` of their media)", body = ContentPage),
        (status = 400, description = "`invalid_parameter` or `invalid_cursor`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<ContentPage>> {
    let pairs = query_pairs(raw.as_deref());
    let filter = ListFilter {
        status: param(&pairs, "status")
            .map(|s| {
                s.parse::<Status>().map_err(|_| {
                    ApiError::invalid_parameter(format!(
                        "status `{s}` is not one of unprocessed, processing, pulled, failed"
                    ))
                })
            })
            .transpose()?,
        platform: param(&pairs, "platform")
            .map(|p| {
                p.parse::<Platform>().map_err(|_| {
                    let names: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
                    ApiError::invalid_parameter(format!(
                        "platform `{p}` is not one of {}",
                        names.join(", ")
                    ))
                })
            })
            .transpose()?,
        tag: text_param(&pairs, "tag")?.map(|t| t.trim_start_matches('#').to_lowercase()),
        upstream_state: param(&pairs, "upstream_state")
            .map(|s| {
                s.parse::<vaultstream_core::status::UpstreamState>().map_err(|_| {
                    ApiError::invalid_parameter(format!(
                        "upstream_state `{s}` is not one of live, deleted, restricted, unreachable"
                    ))
                })
            })
            .transpose()?,
        kind: param(&pairs, "kind")
            .map(|k| {
                k.parse::<vaultstream_core::ContentKind>().map_err(|_| {
                    let names: Vec<&str> = vaultstream_core::ContentKind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .collect();
                    ApiError::invalid_parameter(format!(
                        "kind `{k}` is not one of {}",
                        names.join(", ")
                    ))
                })
            })
            .transpose()?,
        author: text_param(&pairs, "author")?
            .map(|a| {
                if a.chars().count() > 200 {
                    Err(ApiError::invalid_parameter(
                        "`author` is longer than 200 characters",
                    ))
                } else {
                    Ok(a.trim().to_owned())
                }
            })
            .transpose()?,
        q: text_param(&pairs, "q")?
            .map(|q| {
                if q.chars().count() > 200 {
                    Err(ApiError::invalid_parameter(
                        "`q` is longer than 200 characters",
                    ))
                } else {
                    Ok(q.to_owned())
                }
            })
            .transpose()?,
        ids_in: None,
        limit: limit_param(&pairs, DEFAULT_LIMIT, MAX_LIMIT)?,
        cursor: cursor_param(&pairs)?,
    };
    let page = contents::list(&state.db, &filter).await?;
    let ids: Vec<i64> = page.items.iter().map(|i| i.id).collect();
    let mut previews = previews(&state, &headers, &ids).await?;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|item| ListedItem {
                preview: previews.remove(&item.id).unwrap_or_default(),
                item,
            })
            .collect(),
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}
