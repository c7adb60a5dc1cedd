//! The records of what was pushed where.
//!
//! - `GET /pushed-records?target_id=&content_id=&status=&limit=&cursor=`
//! - `POST /pushed-records/{id}/resend`: an operator sends an item again on
//!   purpose (`202`; the publisher picks the record up).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use vaultstream_core::ErrorCode;
use vaultstream_core::db::entities::pushed_record;
use vaultstream_core::db::push::{self, RecordFilter};
use vaultstream_core::status::RecordStatus;

use super::contents::path_id;
use super::page::{DEFAULT_LIMIT, MAX_LIMIT, Page, Paged, cursor_param, limit_param};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::{param, query_pairs};

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub id: i64,
    pub target_id: i64,
    pub content_id: i64,
    /// What the record delivers: the item (`item`) or the notice that its
    /// original was deleted upstream (`deleted_upstream`).
    pub event: vaultstream_core::status::PushEvent,
    /// `pending`, `sending`, `sent` or `failed`.
    #[schema(value_type = PushRecordStatus)]
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Telegram message ids, once sent (empty for webhooks).
    pub message_ids: Vec<i64>,
    /// A webhook receiver's HTTP status for the last attempt (null for
    /// Telegram, and before the first answer).
    pub http_status: Option<i32>,
    pub error_message: Option<String>,
    pub error_detail: Option<String>,
    pub created_at: DateTime<Utc>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<pushed_record::Model> for RecordView {
    fn from(m: pushed_record::Model) -> Self {
        let message_ids = m
            .message_ids
            .as_ref()
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        RecordView {
            id: m.id,
            target_id: m.target_id,
            content_id: m.content_id,
            event: m.event,
            status: m.status.to_string(),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            message_ids,
            http_status: m.http_status,
            error_message: m.error_message,
            error_detail: m.error_detail,
            created_at: m.created_at,
            claimed_at: m.claimed_at,
            sent_at: m.sent_at,
            updated_at: m.updated_at,
        }
    }
}

/// A page of pushed records.
pub type RecordPage = Page<RecordView>;

impl Paged for RecordView {
    const PAGE_NAME: &'static str = "RecordList";
}

/// `pending`, `sending`, `sent` or `failed`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum PushRecordStatus {
    Pending,
    Sending,
    Sent,
    Failed,
}

/// The query of `GET /pushed-records` (read by hand: see
/// [`record_filter`]; this describes it).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordListQuery {
    /// Records of this push target.
    #[param(minimum = 1)]
    pub target_id: Option<i64>,
    /// Records of this item.
    #[param(minimum = 1)]
    pub content_id: Option<i64>,
    pub status: Option<PushRecordStatus>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// `202`: the record is `pending` again and queued for the publisher.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordResent {
    pub id: i64,
    #[schema(value_type = PushRecordStatus)]
    pub status: &'static str,
    pub record: Option<RecordView>,
}

fn positive_param(pairs: &[(String, String)], name: &str) -> ApiResult<Option<i64>> {
    param(pairs, name)
        .map(|v| {
            v.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "{name} `{}` is not a positive integer",
                    v.escape_debug()
                ))
            })
        })
        .transpose()
}

fn record_filter(raw: Option<&str>) -> ApiResult<RecordFilter> {
    let pairs = query_pairs(raw);
    let target_id = positive_param(&pairs, "target_id")?;
    let content_id = positive_param(&pairs, "content_id")?;
    let status = param(&pairs, "status")
        .map(|s| {
            s.parse::<RecordStatus>().map_err(|_| {
                let known: Vec<&str> = RecordStatus::ALL.iter().map(|k| k.as_str()).collect();
                ApiError::invalid_parameter(format!(
                    "status `{}` is not one of {}",
                    s.escape_debug(),
                    known.join(", ")
                ))
            })
        })
        .transpose()?;
    let limit = limit_param(&pairs, DEFAULT_LIMIT, MAX_LIMIT)?;
    let before_id = cursor_param(&pairs)?.map(|c| c.before_id);
    Ok(RecordFilter {
        target_id,
        content_id,
        status,
        before_id,
        limit,
    })
}

/// `GET /pushed-records?target_id=&content_id=&status=&limit=&cursor=`:
/// newest first.
#[utoipa::path(
    get,
    path = "/api/v1/pushed-records",
    operation_id = "list_pushed_records",
    tag = "push",
    params(RecordListQuery),
    responses(
        (status = 200, description = "Pushed records, newest first", body = RecordPage),
        (status = 400, description = "`invalid_parameter` or `invalid_cursor`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn list_records(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<RecordPage>> {
    let filter = record_filter(raw.as_deref())?;
    let rows = push::list_records(&state.db, &filter).await?;
    Ok(Json(Page::keyset(rows, filter.limit, |r| r.id)))
}

/// `POST /pushed-records/{id}/resend` → `202`: a sent, failed or stuck
/// (`sending`) record becomes `pending` again with fresh attempts and is
/// queued for the publisher. An operator does this on purpose: the
/// item may appear in the chat a second time.
#[utoipa::path(
    post,
    path = "/api/v1/pushed-records/{id}/resend",
    operation_id = "resend_pushed_record",
    tag = "push",
    params(("id" = i64, Path, minimum = 1, description = "Pushed record id")),
    responses(
        (status = 202, description = "Pending again and queued", body = RecordResent),
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 409, description = "`conflict`: the record is pending already", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn resend_record(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<(StatusCode, Json<RecordResent>)> {
    let id = path_id(path, "pushed record")?;
    if !push::resend(&state.db, id).await? {
        return Err(match push::get_record(&state.db, id).await? {
            None => ApiError::not_found(format!("no pushed record with id {id}")),
            Some(r) => ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "pushed record {id} is {}; only sent, failed or sending records can be resent",
                    r.status
                ),
            ),
        });
    }
    // Queue it now; if the push fails the workers' reconciler queues it
    // (the record is pending with no enqueue time).
    let job = vaultstream_core::queue::PublishJob { record_id: id };
    match state.queue.enqueue_publish(job, None).await {
        Ok(()) => push::mark_enqueued(&state.db, &[id]).await?,
        Err(e) => tracing::warn!(error = %e, "could not queue the resend; the reconciler will"),
    }
    tracing::info!(pushed_record.id = id, "pushed record queued for resend");
    let record = push::get_record(&state.db, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RecordResent {
            id,
            status: RecordStatus::Pending.as_str(),
            record: record.map(RecordView::from),
        }),
    ))
}
