//! `POST /api/v1/shares`: submit a link or a whole share text.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use vaultstream_core::ErrorCode;
use vaultstream_core::content::{Channel, ShareReceipt, normalise_tags};
use vaultstream_core::db::contents::{self, NewSource};
use vaultstream_core::queue::ParseJob;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;

/// The longest share text we take: app share texts are a few hundred
/// characters; 16 KiB leaves room for a pasted post around the link.
const MAX_TEXT_CHARS: usize = 16 * 1024;
const MAX_NOTE_CHARS: usize = 4000;

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
        (status = 400, description = "`empty_input`, `no_link_found`, `unsupported_scheme`, `invalid_url` or `invalid_json`", body = crate::openapi::ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::ErrorResponse),
        (status = 415, description = "`unsupported_media_type`", body = crate::openapi::ErrorResponse),
        (status = 422, description = "`forbidden_target`, `short_link_unresolved`, `invalid_tag`, `url_too_long` or `invalid_body`", body = crate::openapi::ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = crate::openapi::ErrorResponse),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<ShareRequest>,
) -> ApiResult<Response> {
    if req.url.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            format!("`url` is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    let note = req
        .note
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            format!("`note` is longer than {MAX_NOTE_CHARS} characters"),
        ));
    }
    // Cheap checks first: a bad tag must not cost a short-link round trip.
    let tags = normalise_tags(&req.tags)?;
    let found = state.linker.identify(&req.url).await?;
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let request_id_for_job = request_id.clone();
    let submitted = contents::submit(
        &state.db,
        &found.identity,
        NewSource {
            raw_text: req.url,
            submitted_url: found.submitted_url,
            resolved_url: found.resolved_url,
            channel: Channel::Api,
            tags,
            note,
            submitted_by: None,
            request_id,
        },
    )
    .await?;
    let receipt = ShareReceipt::from(submitted);
    if receipt.created {
        let job = ParseJob {
            content_id: receipt.content_id,
            request_id: request_id_for_job,
        };
        // The item is committed: a failed push loses nothing, the
        // reconciler queues it later. The submitter still gets their 201.
        if let Err(e) = state.queue.enqueue_parse(job, None).await {
            tracing::warn!(content.id = receipt.content_id, error = %e, "could not queue the parse job; the reconciler will");
        }
    }
    tracing::info!(
        content.id = receipt.content_id,
        platform = %receipt.platform,
        created = receipt.created,
        "share accepted"
    );
    let status = if receipt.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut resp = (status, Json(&receipt)).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/contents/{}", receipt.content_id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}
