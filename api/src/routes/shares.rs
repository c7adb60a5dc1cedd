//! `POST /api/v1/shares`: submit a link or a whole share text.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use vaultstream_adapters::intake::{self, IntakeError, Share};
use vaultstream_core::content::{Channel, ShareReceipt};

use super::located;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::JsonBody;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ShareRequest {
    /// A link, or a whole share text with a link in it.
    pub url: String,
    /// Tags for the item (a leading `#` is dropped; at most 32, each at
    /// most 64 characters).
    #[serde(default)]
    pub tags: Vec<String>,
    /// A note kept with this submission (at most 4000 characters).
    #[serde(default)]
    pub note: Option<String>,
}

/// Submit a link (or a whole share text with a link in it). The same
/// content however it was linked is one item: a known item answers `200`
/// and the submission is kept as another source of it.
#[utoipa::path(
    post,
    path = "/api/v1/shares",
    operation_id = "create_share",
    tag = "shares",
    request_body = ShareRequest,
    responses(
        (status = 201, description = "A new item; `Location` points at it", body = ShareReceipt,
            headers(("Location" = String, description = "`/api/v1/contents/{id}`"))),
        (status = 200, description = "The item was already known", body = ShareReceipt,
            headers(("Location" = String, description = "`/api/v1/contents/{id}`"))),
        (status = 400, description = "`empty_input`, `no_link_found`, `unsupported_scheme`, `invalid_url` or `invalid_json`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 415, description = "`unsupported_media_type`", body = ErrorResponse),
        (status = 422, description = "`forbidden_target`, `short_link_unresolved`, `invalid_tag`, `url_too_long` or `invalid_body`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ShareRequest>,
) -> ApiResult<Response> {
    let share = Share {
        text: req.url,
        tags: req.tags,
        note: req.note,
        channel: Channel::Api,
        submitted_by: None,
        request_id: headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let receipt = intake::accept(&state.linker, &state.db, Some(state.queue.as_ref()), share)
        .await
        .map_err(|e| match e {
            IntakeError::Refused(u) => ApiError::from(u),
            IntakeError::Store(d) => ApiError::from(d),
        })?;
    let status = if receipt.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/api/v1/contents/{}", receipt.content_id);
    Ok(located(status, receipt, &location))
}
