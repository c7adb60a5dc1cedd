//! `PUT /api/v1/contents/{id}/tags`: a submitter edits an item's tags.
//!
//! The body is the whole new set (`{"tags": [...]}`; `[]` removes every
//! tag): replacing is idempotent, so a retried request or two tabs saving
//! the same edit end in the same state, which adding and removing one tag
//! per request would not. Tags are normalised as at submission (trimmed,
//! lower case, a leading `#` dropped, at most 32). The search index is
//! rewritten in the same transaction.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use vaultstream_core::content::normalise_tags;
use vaultstream_core::db::tags;

use super::contents::content_id;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::JsonBody;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagsRequest {
    /// The item's tags from now on (a leading `#` is dropped; at most 32,
    /// each at most 64 characters). `[]` removes them all.
    pub tags: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TagsResponse {
    /// The item.
    pub id: i64,
    /// Its tags now, normalised, in the order every view shows them (kept
    /// tags in their place, new ones last).
    pub tags: Vec<String>,
}

/// Replace an item's tags with the given set. Each submission keeps the
/// tags it came with in its source; this edits the item's own.
#[utoipa::path(
    put,
    path = "/api/v1/contents/{id}/tags",
    operation_id = "replace_content_tags",
    tag = "contents",
    params(("id" = i64, Path, minimum = 1, description = "Content id")),
    request_body = TagsRequest,
    responses(
        (status = 200, description = "The item's tags now", body = TagsResponse),
        (status = 400, description = "`invalid_parameter` (the id) or `invalid_json`", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 415, description = "`unsupported_media_type`", body = ErrorResponse),
        (status = 422, description = "`invalid_tag` or `invalid_body`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn replace(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    JsonBody(req): JsonBody<TagsRequest>,
) -> ApiResult<Json<TagsResponse>> {
    let id = content_id(path)?;
    let wanted = normalise_tags(&req.tags)?;
    let now = tags::replace(&state.db, id, &wanted)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no content with id {id}")))?;
    Ok(Json(TagsResponse { id, tags: now }))
}
