//! `GET /api/v1/search`: the archive's full-text search (the query
//! language is in README, "Search"), ranked, with highlighted snippets.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use vaultstream_core::ErrorCode;
use vaultstream_core::db::previews::Preview;
use vaultstream_core::db::search::{self, Hit, MAX_OFFSET, SearchCursor};

use super::contents::previews;
use super::page::{Page, Paged, limit_param};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::{query_pairs, text_param};

/// Hits per page when `limit` is not given.
const DEFAULT_LIMIT: u64 = 20;
/// Largest page of hits (each carries snippets: smaller than a list page).
const MAX_LIMIT: u64 = 100;

/// A hit and what a card shows of its item's media.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    #[serde(flatten)]
    pub hit: Hit,
    /// The item's picture and how many images and videos it has.
    pub preview: Preview,
}

/// A page of hits.
pub type SearchPage = Page<SearchHit>;

impl Paged for SearchHit {
    const PAGE_NAME: &'static str = "SearchResults";
}

/// The query of `GET /search`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The query: words (all must match), `"exact phrase"`, `-exclude`,
    /// `OR`, and the filters `platform:`, `tag:`, `author:`, `kind:`,
    /// `status:`, `before:`/`after:` (YYYY-MM-DD), `has:video`/`has:images`.
    /// At most 1000 characters.
    #[param(example = "地铁 platform:weibo")]
    pub q: String,
    /// Page size.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page of the same query.
    pub cursor: Option<String>,
}

/// Items matching a query, best first (newest first when the query has
/// filters only), each with the fields that matched and HTML-escaped
/// snippets (matches in `<mark>`).
#[utoipa::path(
    get,
    path = "/api/v1/search",
    operation_id = "search",
    tag = "contents",
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of hits", body = SearchPage),
        (status = 400, description = "`invalid_query` (the message says at which column), `invalid_parameter` or `invalid_cursor`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn search(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SearchPage>> {
    let pairs = query_pairs(raw.as_deref());
    let q = text_param(&pairs, "q")?
        .ok_or_else(|| ApiError::invalid_parameter("`q` is required: what to search for"))?;
    let limit = limit_param(&pairs, DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = match text_param(&pairs, "cursor")? {
        None => 0,
        Some(c) => {
            SearchCursor::decode(c, q)
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::InvalidCursor,
                        "`cursor` is not one this server handed out for this query",
                    )
                })?
                .offset
        }
    };
    let parsed = search::parse(q)?;
    let hits = search::search(&state.db, &parsed, limit, offset).await?;
    let ids: Vec<i64> = hits.hits.iter().map(|h| h.item.id).collect();
    let mut previews = previews(&state, &headers, &ids).await?;
    Ok(Json(Page {
        items: hits
            .hits
            .into_iter()
            .map(|hit| SearchHit {
                preview: previews.remove(&hit.item.id).unwrap_or_default(),
                hit,
            })
            .collect(),
        next_cursor: hits
            .next_offset
            .filter(|o| *o <= MAX_OFFSET)
            .map(|o| SearchCursor::new(q, o).encode()),
    }))
}
