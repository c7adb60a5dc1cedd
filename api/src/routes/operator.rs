//! Operator routes: the dead-letter queue and manual retries.
//!
//! A retry resets the item to a fresh round of attempts (its failure
//! fields and dead letters stay as history), queues it, and answers `202`
//! at once: the work happens in a worker.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use vaultstream_core::ErrorCode;
use vaultstream_core::db::dead_letters::{self, DeadLetterFilter};
use vaultstream_core::db::entities::dead_letter;
use vaultstream_core::db::retry::{self, RetryRefusal};
use vaultstream_core::parsed::ErrorClass;
use vaultstream_core::platform::Platform;
use vaultstream_core::status::DeadLetterState as StoredState;

use super::contents::{content_id, path_id};
use super::page::{DEFAULT_LIMIT, MAX_LIMIT, Page, Paged, cursor_param, limit_param};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::{param, query_pairs};

#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterView {
    pub id: i64,
    pub content_id: i64,
    pub job_kind: String,
    #[schema(value_type = vaultstream_core::platform::Platform)]
    pub platform: String,
    pub attempts: i32,
    #[schema(value_type = vaultstream_core::parsed::ErrorClass)]
    pub error_type: String,
    pub error_message: String,
    pub error_detail: Option<String>,
    /// `open` (waiting for an operator) or `retried`.
    pub state: String,
    /// The job's arguments.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub retried_at: Option<DateTime<Utc>>,
    /// The media file, for `job_kind` = `media`.
    pub media_id: Option<i64>,
}

impl From<dead_letter::Model> for DeadLetterView {
    fn from(m: dead_letter::Model) -> Self {
        DeadLetterView {
            id: m.id,
            content_id: m.content_id,
            job_kind: m.job_kind.to_string(),
            platform: m.platform,
            attempts: m.attempts,
            error_type: m.error_type,
            error_message: m.error_message,
            error_detail: m.error_detail,
            state: m.state.to_string(),
            payload: m.payload,
            created_at: m.created_at,
            retried_at: m.retried_at,
            media_id: m.media_id,
        }
    }
}

/// A page of dead letters.
pub type DeadLetterPage = Page<DeadLetterView>;

impl Paged for DeadLetterView {
    const PAGE_NAME: &'static str = "DeadLetterList";
}

/// Which dead letters: `open` (waiting for an operator, the default),
/// `retried`, or `all`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DeadLetterState {
    Open,
    Retried,
    All,
}

/// The query of `GET /dead-letters` (read by hand: see
/// [`dead_letter_filter`]; this describes it).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    pub platform: Option<Platform>,
    pub error_type: Option<ErrorClass>,
    pub state: Option<DeadLetterState>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The query of `POST /dead-letters/retry`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterRetryQuery {
    pub platform: Option<Platform>,
    pub error_type: Option<ErrorClass>,
    /// At most this many dead letters per call.
    #[param(minimum = 1, maximum = 10000, default = 1000)]
    pub limit: Option<u64>,
}

/// `202`: the item is queued again.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContentRetried {
    pub content_id: i64,
    /// `unprocessed` (the item is parsed again) or `pulled` (the item is
    /// kept; its failed media files are retried).
    pub status: &'static str,
    /// The media files queued again, when `status` is `pulled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_ids: Option<Vec<i64>>,
}

/// `202`: the dead letter's job is queued again.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterRetried {
    pub dead_letter_id: i64,
    pub content_id: i64,
    /// `unprocessed` (a parse job) or `pending` (media jobs).
    pub status: &'static str,
    /// The media files queued again, for a media dead letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_ids: Option<Vec<i64>>,
}

/// `202`: every matching open dead letter is queued again.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLettersRetried {
    /// How many jobs were queued (items plus media files).
    pub retried: u64,
    pub content_ids: Vec<i64>,
    pub media_ids: Vec<i64>,
}

const ERROR_TYPES: [ErrorClass; 4] = [
    ErrorClass::Retryable,
    ErrorClass::RateLimited,
    ErrorClass::Permanent,
    ErrorClass::AuthRequired,
];

/// `platform`, `error_type`, `state` (open | retried | all) and `limit` from
/// the query string.
fn dead_letter_filter(raw: Option<&str>, max_limit: u64) -> ApiResult<DeadLetterFilter> {
    let pairs = query_pairs(raw);
    let platform = param(&pairs, "platform")
        .map(|p| {
            p.parse::<Platform>()
                .map(|p| p.as_str().to_owned())
                .map_err(|_| ApiError::invalid_parameter(format!("platform `{p}` is unknown")))
        })
        .transpose()?;
    let error_type = param(&pairs, "error_type")
        .map(|t| {
            ERROR_TYPES
                .iter()
                .find(|c| c.as_str() == t)
                .map(|c| c.as_str().to_owned())
                .ok_or_else(|| {
                    ApiError::invalid_parameter(format!(
                        "error_type `{t}` is not one of retryable, rate_limited, permanent, auth_required"
                    ))
                })
        })
        .transpose()?;
    let state = match param(&pairs, "state").unwrap_or("open") {
        "all" => None,
        other => Some(other.parse::<StoredState>().map_err(|_| {
            ApiError::invalid_parameter(format!(
                "state `{}` is not one of open, retried, all",
                other.escape_debug()
            ))
        })?),
    };
    let limit = limit_param(&pairs, DEFAULT_LIMIT.min(max_limit), max_limit)?;
    let before_id = cursor_param(&pairs)?.map(|c| c.before_id);
    Ok(DeadLetterFilter {
        platform,
        error_type,
        state,
        before_id,
        limit,
    })
}

/// `GET /dead-letters?platform=&error_type=&state=&limit=&cursor=`
#[utoipa::path(
    get,
    path = "/api/v1/dead-letters",
    operation_id = "list_dead_letters",
    tag = "operator",
    params(DeadLetterQuery),
    responses(
        (status = 200, description = "Dead letters, newest first", body = DeadLetterPage),
        (status = 400, description = "`invalid_parameter` or `invalid_cursor`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<DeadLetterPage>> {
    let filter = dead_letter_filter(raw.as_deref(), MAX_LIMIT)?;
    let rows = dead_letters::list_dead_letters(&state.db, &filter).await?;
    Ok(Json(Page::keyset(rows, filter.limit, |r| r.id)))
}

/// `POST /dead-letters/{id}/retry`: queue the dead letter's job again.
#[utoipa::path(
    post,
    path = "/api/v1/dead-letters/{id}/retry",
    operation_id = "retry_dead_letter",
    tag = "operator",
    params(("id" = i64, Path, minimum = 1, description = "Dead letter id")),
    responses(
        (status = 202, description = "Queued again", body = DeadLetterRetried),
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no open dead letter with this id", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn retry_dead_letter(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<(StatusCode, Json<DeadLetterRetried>)> {
    let id = path_id(path, "dead letter")?;
    let Some((content, requeued)) = retry::retry_dead_letter(&state.db, id).await? else {
        return Err(ApiError::not_found(format!(
            "no open dead letter with id {id} (it may have been retried already)"
        )));
    };
    requeued.enqueue(state.queue.as_ref()).await;
    tracing::info!(
        dead_letter.id = id,
        content.id = content,
        "dead letter retried"
    );
    let (status, media_ids) = if requeued.items.is_empty() {
        ("pending", Some(requeued.media))
    } else {
        ("unprocessed", None)
    };
    let body = DeadLetterRetried {
        dead_letter_id: id,
        content_id: content,
        status,
        media_ids,
    };
    Ok((StatusCode::ACCEPTED, Json(body)))
}

/// `POST /dead-letters/retry?platform=&error_type=&limit=`: retry every open
/// dead letter that matches (at most `limit`, default 1000, per call).
#[utoipa::path(
    post,
    path = "/api/v1/dead-letters/retry",
    operation_id = "retry_dead_letters",
    tag = "operator",
    params(DeadLetterRetryQuery),
    responses(
        (status = 202, description = "Queued again", body = DeadLettersRetried),
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn retry_dead_letters(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<(StatusCode, Json<DeadLettersRetried>)> {
    let has_limit = query_pairs(raw.as_deref())
        .iter()
        .any(|(k, _)| k == "limit");
    let mut filter = dead_letter_filter(raw.as_deref(), 10_000)?;
    if !has_limit {
        filter.limit = 1000;
    }
    let requeued = retry::retry_dead_letters(&state.db, &filter).await?;
    requeued.enqueue(state.queue.as_ref()).await;
    let count = requeued.items.len() + requeued.media.len();
    tracing::info!(count, "dead letters retried in bulk");
    Ok((
        StatusCode::ACCEPTED,
        Json(DeadLettersRetried {
            retried: count as u64,
            content_ids: requeued.items,
            media_ids: requeued.media,
        }),
    ))
}

/// `POST /contents/{id}/retry`: re-queue a failed or stale item.
#[utoipa::path(
    post,
    path = "/api/v1/contents/{id}/retry",
    operation_id = "retry_content",
    tag = "operator",
    params(("id" = i64, Path, minimum = 1, description = "Content id")),
    responses(
        (status = 202, description = "Queued again", body = ContentRetried),
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 409, description = "`conflict`: the item is neither failed nor stale, nor pulled with failed media", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn retry_content(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<(StatusCode, Json<ContentRetried>)> {
    let id = content_id(path)?;
    let requeue_after = std::time::Duration::from_millis(state.settings.requeue_after_ms);
    match retry::retry_content(&state.db, id, requeue_after).await? {
        Ok(requeued) => {
            requeued.enqueue(state.queue.as_ref()).await;
            let (status, media_ids) = if requeued.items.is_empty() {
                // A pulled item: its failed media files are retried.
                ("pulled", Some(requeued.media))
            } else {
                ("unprocessed", None)
            };
            let body = ContentRetried {
                content_id: id,
                status,
                media_ids,
            };
            Ok((StatusCode::ACCEPTED, Json(body)))
        }
        Err(RetryRefusal::NotFound) => Err(ApiError::not_found(format!("no content with id {id}"))),
        Err(RetryRefusal::NotRetryable(status)) => Err(ApiError::new(
            ErrorCode::Conflict,
            format!(
                "content {id} is {status}; only failed or stale items, or pulled items with failed media, can be retried"
            ),
        )),
    }
}
