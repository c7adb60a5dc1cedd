//! Push targets (Telegram chats with platform/tag filters) and the records
//! of what was pushed where.
//!
//! - `GET|POST /push-targets`, `GET|PATCH|DELETE /push-targets/{id}`
//! - `GET /pushed-records?target_id=&content_id=&status=&limit=&cursor=`
//! - `POST /pushed-records/{id}/resend`: an operator sends an item again on
//!   purpose (`202`; the publisher picks the record up).
//!
//! Bodies are read field by field so every message names its field;
//! unknown fields are refused (`invalid_body`).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use vaultstream_core::ErrorCode;
use vaultstream_core::db::contents::Cursor;
use vaultstream_core::db::entities::{push_target, pushed_record};
use vaultstream_core::db::push::{self, NewTarget, RecordFilter, TargetError, TargetPatch};
use vaultstream_core::status::RecordStatus;

use super::contents::{DEFAULT_LIMIT, MAX_LIMIT, path_id};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, param, query_pairs};

impl From<TargetError> for ApiError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::Invalid(u) => u.into(),
            TargetError::Db(d) => d.into(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TargetView {
    pub id: i64,
    pub name: Option<String>,
    pub chat_id: String,
    /// Empty: every platform.
    #[schema(value_type = Vec<vaultstream_core::platform::Platform>)]
    pub platforms: Vec<String>,
    /// Empty: every tag (and untagged items).
    pub tags: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<push_target::Model> for TargetView {
    fn from(m: push_target::Model) -> Self {
        TargetView {
            platforms: push::target_platforms(&m),
            tags: push::target_tags(&m),
            id: m.id,
            name: m.name,
            chat_id: m.chat_id,
            enabled: m.enabled,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordView {
    pub id: i64,
    pub target_id: i64,
    pub content_id: i64,
    /// `pending`, `sending`, `sent` or `failed`.
    #[schema(value_type = crate::openapi::PushRecordStatus)]
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Telegram message ids, once sent.
    pub message_ids: Vec<i64>,
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
            status: m.status.to_string(),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            message_ids,
            error_message: m.error_message,
            error_detail: m.error_detail,
            created_at: m.created_at,
            claimed_at: m.claimed_at,
            sent_at: m.sent_at,
            updated_at: m.updated_at,
        }
    }
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Value>>, D::Error> {
    Option::<Value>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetBody {
    #[serde(default, deserialize_with = "nullable")]
    chat_id: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    name: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    platforms: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    tags: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    enabled: Option<Option<Value>>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidBody, message)
}

/// A chat id given as a JSON integer or a string.
fn chat_id_of(v: Option<Value>) -> ApiResult<String> {
    match v {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Number(n)) => n.as_i64().map(|n| n.to_string()).ok_or_else(|| {
            invalid(format!(
                "`chat_id` {n} is not an integer chat id; use @channelname or a whole number"
            ))
        }),
        None => Err(invalid(
            "`chat_id` cannot be null; use @channelname or a numeric chat id",
        )),
        Some(other) => Err(invalid(format!(
            "`chat_id` must be a string (@channelname) or an integer, not {}",
            kind(&other)
        ))),
    }
}

fn strings_of(field: &str, v: Option<Value>) -> ApiResult<Vec<String>> {
    let bad = || {
        invalid(format!(
            "`{field}` must be an array of strings (empty = everything)"
        ))
    };
    match v {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

fn name_of(v: Option<Value>) -> ApiResult<Option<String>> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(format!(
            "`name` must be a string or null, not {}",
            kind(&other)
        ))),
    }
}

fn bool_of(v: Option<Value>) -> ApiResult<bool> {
    match v {
        Some(Value::Bool(b)) => Ok(b),
        _ => Err(invalid("`enabled` must be true or false")),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl TargetBody {
    fn into_new(self) -> ApiResult<NewTarget> {
        let chat_id = match self.chat_id {
            None => {
                return Err(invalid(
                    "`chat_id` is required: @channelname or a numeric chat id",
                ));
            }
            Some(v) => chat_id_of(v)?,
        };
        let chat_id = push::validate_chat_id(&chat_id)?;
        let name = name_of(self.name.flatten())?;
        let platforms = match self.platforms.flatten() {
            None => Vec::new(),
            v => push::parse_platforms(&strings_of("platforms", v)?)?,
        };
        let tags = match self.tags.flatten() {
            None => Vec::new(),
            v => strings_of("tags", v)?,
        };
        push::normalise_filter_tags(&tags)?;
        let enabled = match self.enabled.flatten() {
            None => true,
            v => bool_of(v)?,
        };
        Ok(NewTarget {
            name,
            chat_id,
            platforms,
            tags,
            enabled,
        })
    }

    fn into_patch(self) -> ApiResult<TargetPatch> {
        let chat_id = self
            .chat_id
            .map(|v| chat_id_of(v).and_then(|c| Ok(push::validate_chat_id(&c)?)))
            .transpose()?;
        let name = self.name.map(name_of).transpose()?;
        let platforms = self
            .platforms
            .map(|v| strings_of("platforms", v).and_then(|p| Ok(push::parse_platforms(&p)?)))
            .transpose()?;
        let tags = self.tags.map(|v| strings_of("tags", v)).transpose()?;
        if let Some(t) = &tags {
            push::normalise_filter_tags(t)?;
        }
        let enabled = self.enabled.map(bool_of).transpose()?;
        Ok(TargetPatch {
            name,
            chat_id,
            platforms,
            tags,
            enabled,
        })
    }
}

/// A positive integer id from the path.
fn no_target(id: i64) -> ApiError {
    ApiError::not_found(format!("no push target with id {id}"))
}

/// `GET /push-targets`: every target, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/push-targets",
    operation_id = "list_push_targets",
    tag = "push",
    responses(
        (status = 200, description = "Every push target", body = crate::openapi::TargetList),
        (status = 503, description = "`service_unavailable`", body = crate::openapi::ErrorResponse),
    )
)]
pub async fn list_targets(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let items: Vec<TargetView> = push::list_targets(&state.db)
        .await?
        .into_iter()
        .map(TargetView::from)
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// `POST /push-targets` → `201` with a `Location` header.
#[utoipa::path(
    post,
    path = "/api/v1/push-targets",
    operation_id = "create_push_target",
    tag = "push",
    request_body = crate::openapi::TargetRequest,
    responses(
        (status = 201, description = "Created", body = TargetView,
            headers(("Location" = String, description = "`/api/v1/push-targets/{id}`"))),
        (status = 400, description = "`invalid_json`", body = crate::openapi::ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::ErrorResponse),
        (status = 415, description = "`unsupported_media_type`", body = crate::openapi::ErrorResponse),
        (status = 422, description = "`invalid_body` (unknown field, bad `chat_id`, unknown platform) or `invalid_tag`", body = crate::openapi::ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = crate::openapi::ErrorResponse),
    )
)]
pub async fn create_target(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<TargetBody>,
) -> ApiResult<Response> {
    let new = body.into_new()?;
    let target = push::create_target(&state.db, new).await?;
    tracing::info!(push_target.id = target.id, chat_id = %target.chat_id, "push target created");
    let id = target.id;
    let mut resp = (StatusCode::CREATED, Json(TargetView::from(target))).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("/api/v1/push-targets/{id}")) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

/// `GET /push-targets/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/push-targets/{id}",
    operation_id = "get_push_target",
    tag = "push",
    params(("id" = i64, Path, minimum = 1, description = "Push target id")),
    responses(
        (status = 200, description = "The push target", body = TargetView),
        (status = 400, description = "`invalid_parameter`", body = crate::openapi::ErrorResponse),
        (status = 404, description = "`not_found`", body = crate::openapi::ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = crate::openapi::ErrorResponse),
    )
)]
pub async fn get_target(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<TargetView>> {
    let id = path_id(path, "push target")?;
    let target = push::get_target(&state.db, id)
        .await?
        .ok_or_else(|| no_target(id))?;
    Ok(Json(target.into()))
}

/// `PATCH /push-targets/{id}`: only the fields sent change; `"name": null`
/// clears the name.
#[utoipa::path(
    patch,
    path = "/api/v1/push-targets/{id}",
    operation_id = "update_push_target",
    tag = "push",
    params(("id" = i64, Path, minimum = 1, description = "Push target id")),
    request_body = crate::openapi::TargetRequest,
    responses(
        (status = 200, description = "The updated push target", body = TargetView),
        (status = 400, description = "`invalid_json` or `invalid_parameter`", body = crate::openapi::ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = crate::openapi::ErrorResponse),
        (status = 415, description = "`unsupported_media_type`", body = crate::openapi::ErrorResponse),
        (status = 422, description = "`invalid_body` (unknown field, bad `chat_id`, unknown platform) or `invalid_tag`", body = crate::openapi::ErrorResponse),
        (status = 404, description = "`not_found`", body = crate::openapi::ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = crate::openapi::ErrorResponse),
    )
)]
pub async fn update_target(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<TargetBody>,
) -> ApiResult<Json<TargetView>> {
    let id = path_id(path, "push target")?;
    let patch = body.into_patch()?;
    let target = push::update_target(&state.db, id, patch)
        .await?
        .ok_or_else(|| no_target(id))?;
    tracing::info!(push_target.id = id, "push target updated");
    Ok(Json(target.into()))
}

/// `DELETE /push-targets/{id}` → `204`; its pushed records go with it.
#[utoipa::path(
    delete,
    path = "/api/v1/push-targets/{id}",
    operation_id = "delete_push_target",
    tag = "push",
    params(("id" = i64, Path, minimum = 1, description = "Push target id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`invalid_parameter`", body = crate::openapi::ErrorResponse),
        (status = 404, description = "`not_found`", body = crate::openapi::ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = crate::openapi::ErrorResponse),
    )
)]
pub async fn delete_target(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    let id = path_id(path, "push target")?;
    if !push::delete_target(&state.db, id).await? {
        return Err(no_target(id));
    }
    tracing::info!(push_target.id = id, "push target deleted");
    Ok(StatusCode::NO_CONTENT)
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
    let limit = match param(&pairs, "limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "limit `{}` is not a whole number from 1 to {MAX_LIMIT}",
                    l.escape_debug()
                ))
            })?,
    };
    let before_id = param(&pairs, "cursor")
        .map(|c| {
            Cursor::decode(c).map(|c| c.before_id).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidCursor,
                    "`cursor` is not one this server handed out",
                )
            })
        })
        .transpose()?;
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
    params(crate::openapi::RecordListQuery),
    responses(
        (status = 200, description = "Pushed records, newest first", body = crate::openapi::RecordList),
        (status = 400, description = "`invalid_parameter` or `invalid_cursor`", body = crate::openapi::ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = crate::openapi::ErrorResponse),
    )
)]
pub async fn list_records(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let filter = record_filter(raw.as_deref())?;
    let rows = push::list_records(&state.db, &filter).await?;
    let next_cursor = (rows.len() as u64 == filter.limit)
        .then(|| rows.last().map(|r| Cursor { before_id: r.id }.encode()))
        .flatten();
    let items: Vec<RecordView> = rows.into_iter().map(RecordView::from).collect();
    Ok(Json(json!({"items": items, "next_cursor": next_cursor})))
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
        (status = 202, description = "Pending again and queued", body = crate::openapi::RecordResent),
        (status = 400, description = "`invalid_parameter`", body = crate::openapi::ErrorResponse),
        (status = 404, description = "`not_found`", body = crate::openapi::ErrorResponse),
        (status = 409, description = "`conflict`: the record is pending already", body = crate::openapi::ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = crate::openapi::ErrorResponse),
    )
)]
pub async fn resend_record(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
        Json(json!({
            "id": id,
            "status": RecordStatus::Pending,
            "record": record.map(RecordView::from),
        })),
    ))
}
