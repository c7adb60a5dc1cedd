//! Keeping items current: `POST /contents/{id}/refresh` (an operator asks
//! for a refresh now) and `GET /contents/{id}/history` (its versions with
//! field-level diffs, its stats series, its upstream state changes).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use vaultstream_core::ErrorCode;
use vaultstream_core::db::refresh::{self, History, RefreshRefusal, RefreshRequested};
use vaultstream_core::queue::{Payload, RefreshJob};

use super::contents::content_id;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};

/// Fetch a pulled item again now (on the refresh queue, below new items):
/// what changed becomes a new version, the stats a new point, and the
/// upstream state is updated. Answers at once; `queued` is false when a
/// refresh of it is already running.
#[utoipa::path(
    post,
    path = "/api/v1/contents/{id}/refresh",
    operation_id = "refresh_content",
    tag = "operator",
    params(("id" = i64, Path, minimum = 1, description = "Content id")),
    responses(
        (status = 202, description = "Queued (or already running)", body = RefreshRequested),
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 409, description = "`conflict`: the item is not pulled (nothing to compare with)", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn refresh_content(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<(StatusCode, Json<RefreshRequested>)> {
    let id = content_id(path)?;
    match refresh::request(&state.db, id).await? {
        Ok(req) => {
            if req.queued
                && let Err(e) = RefreshJob::for_row(id)
                    .enqueue(state.queue.as_ref(), None)
                    .await
            {
                tracing::warn!(content.id = id, error = %e, "could not queue the refresh; the reconciler will");
            }
            Ok((StatusCode::ACCEPTED, Json(req)))
        }
        Err(RefreshRefusal::NotFound) => {
            Err(ApiError::not_found(format!("no content with id {id}")))
        }
        Err(RefreshRefusal::NotPulled(status)) => Err(ApiError::new(
            ErrorCode::Conflict,
            format!("content {id} is {status}; only pulled items can be refreshed"),
        )),
    }
}

/// An item's history: every recorded version (1 = as first archived) with
/// a field-level diff against the previous, the stats series, and each
/// change of upstream state with its evidence.
#[utoipa::path(
    get,
    path = "/api/v1/contents/{id}/history",
    operation_id = "content_history",
    tag = "contents",
    params(("id" = i64, Path, minimum = 1, description = "Content id")),
    responses(
        (status = 200, description = "Versions, stats series and upstream state changes, oldest first", body = History),
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<History>> {
    let id = content_id(path)?;
    let history = refresh::history(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no content with id {id}")))?;
    Ok(Json(history))
}
