//! `POST /api/v1/shares`: submit a link or a whole share text;
//! `POST /api/v1/shares/batch`: up to 1,000 of them in one transaction.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vaultstream_adapters::intake::{self, IntakeError, Pace, Share};
use vaultstream_core::content::{Channel, ShareReceipt};
use vaultstream_core::db::batch::MAX_BATCH;
use vaultstream_core::{ErrorCode, UserError};

use super::located;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorDetail, ErrorResponse};
use crate::extract::{JsonBody, parse_json};

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

/// Where the batch route lives (its body limit is larger:
/// [`crate::MAX_BATCH_BODY_BYTES`]).
pub const BATCH_PATH: &str = "/api/v1/shares/batch";

/// One share of a batch: the body of `POST /api/v1/shares`, and the time
/// the link was originally saved.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BatchShare {
    /// A link, or a whole share text with a link in it.
    pub url: String,
    /// Tags for the item (as for a single share).
    #[serde(default)]
    pub tags: Vec<String>,
    /// A note kept with this submission (at most 4000 characters).
    #[serde(default)]
    pub note: Option<String>,
    /// When the user originally saved the link (RFC 3339), e.g. in the
    /// tool it is imported from: kept as the source's `created_at`.
    /// Default: now.
    #[serde(default)]
    pub saved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BatchRequest {
    /// 1 to 1,000 shares. A share that is not a valid share object is
    /// refused on its own (`invalid_body`), not the batch.
    #[schema(value_type = Vec<BatchShare>)]
    pub shares: Vec<serde_json::Value>,
}

/// What became of one share of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchOutcome {
    /// A new item (`receipt`).
    Created,
    /// An item already known; the share is a new source of it (`receipt`).
    Known,
    /// Not taken (`error`: the code and message `POST /shares` would give).
    Refused,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchItemResult {
    /// The share's position in the request, from 0.
    pub index: usize,
    pub outcome: BatchOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ShareReceipt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchResponse {
    /// One result per share, in the request's order.
    pub results: Vec<BatchItemResult>,
    pub created: usize,
    pub known: usize,
    pub refused: usize,
}

/// Submit up to 1,000 shares at once (importers, clients syncing a
/// backlog). The acceptable ones are stored in one transaction — all of
/// them or, if the database fails, none — and new items are queued after
/// it commits. Each share is judged on its own: one refused share does not
/// refuse the others; the answer lists every share's outcome in order.
#[utoipa::path(
    post,
    path = "/api/v1/shares/batch",
    operation_id = "create_shares_batch",
    tag = "shares",
    request_body = BatchRequest,
    responses(
        (status = 200, description = "Every share's outcome, in order", body = BatchResponse),
        (status = 400, description = "`batch_too_large` (over 1,000 shares), `empty_input` (no shares) or `invalid_json`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large` (over 4 MiB)", body = ErrorResponse),
        (status = 415, description = "`unsupported_media_type`", body = ErrorResponse),
        (status = 422, description = "`invalid_body` (not an object with a `shares` array)", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn create_batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<BatchResponse>> {
    let bytes = axum::body::to_bytes(body, crate::MAX_BATCH_BODY_BYTES)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large"))?;
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let req: BatchRequest = parse_json(content_type, &bytes)?;
    if req.shares.is_empty() {
        return Err(ApiError::new(
            ErrorCode::EmptyInput,
            "`shares` is empty; send 1 to 1000 shares",
        ));
    }
    if req.shares.len() > MAX_BATCH {
        return Err(ApiError::new(
            ErrorCode::BatchTooLarge,
            format!(
                "{} shares in one batch; send at most {MAX_BATCH}",
                req.shares.len()
            ),
        ));
    }
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // A share of the wrong shape is refused alone.
    let mut slots: Vec<Result<(), UserError>> = Vec::with_capacity(req.shares.len());
    let mut shares = Vec::new();
    for (i, value) in req.shares.into_iter().enumerate() {
        match serde_json::from_value::<BatchShare>(value) {
            Ok(s) => {
                slots.push(Ok(()));
                shares.push((
                    Share {
                        text: s.url,
                        tags: s.tags,
                        note: s.note,
                        channel: Channel::Api,
                        submitted_by: None,
                        request_id: request_id.clone(),
                    },
                    s.saved_at,
                ));
            }
            Err(e) => slots.push(Err(UserError::new(
                ErrorCode::InvalidBody,
                format!("shares[{i}]: {e}"),
            ))),
        }
    }
    let done = intake::accept_batch(
        &state.linker,
        &state.db,
        Some(state.queue.as_ref()),
        shares,
        Pace::All,
    )
    .await?;
    let mut judged = done.results.into_iter();
    let mut out = BatchResponse {
        results: Vec::with_capacity(slots.len()),
        created: 0,
        known: 0,
        refused: 0,
    };
    for (index, slot) in slots.into_iter().enumerate() {
        let result = match slot {
            Ok(()) => judged.next().unwrap_or_else(|| {
                Err(UserError::new(
                    ErrorCode::Internal,
                    "no result for this share",
                ))
            }),
            Err(e) => Err(e),
        };
        let item = match result {
            Ok(receipt) => {
                let outcome = if receipt.created {
                    out.created += 1;
                    BatchOutcome::Created
                } else {
                    out.known += 1;
                    BatchOutcome::Known
                };
                BatchItemResult {
                    index,
                    outcome,
                    receipt: Some(receipt),
                    error: None,
                }
            }
            Err(e) => {
                out.refused += 1;
                BatchItemResult {
                    index,
                    outcome: BatchOutcome::Refused,
                    receipt: None,
                    error: Some(ErrorDetail {
                        code: e.code,
                        message: e.message,
                    }),
                }
            }
        };
        out.results.push(item);
    }
    Ok(Json(out))
}
