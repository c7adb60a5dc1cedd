//! Push targets: Telegram chats with platform/tag filters.
//!
//! - `GET|POST /push-targets`, `GET|PATCH|DELETE /push-targets/{id}`
//!
//! Bodies are read field by field so every message names its field;
//! unknown fields are refused (`invalid_body`).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use vaultstream_core::ErrorCode;
use vaultstream_core::db::entities::push_target;
use vaultstream_core::db::push::{self, NewTarget, TargetError, TargetPatch};
use vaultstream_core::platform::Platform;

use super::contents::path_id;
use super::located;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::JsonBody;

impl From<TargetError> for ApiError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::Invalid(u) => u.into(),
            TargetError::Db(d) => d.into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    pub id: i64,
    pub name: Option<String>,
    pub chat_id: String,
    /// Empty: every platform.
    #[schema(value_type = Vec<Platform>)]
    pub platforms: Vec<String>,
    /// Empty: every tag (and untagged items).
    pub tags: Vec<String>,
    pub enabled: bool,
    /// A notice goes to the chat when the original of an item it received
    /// is declared deleted upstream.
    pub notify_deleted: bool,
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
            notify_deleted: m.notify_deleted,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

// Every push target: not paged, there are few.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetList {
    pub items: Vec<TargetView>,
}

/// A Telegram chat: `@channelname` or a numeric id (a string or a JSON
/// integer, e.g. `-1001234567890`).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum ChatId {
    Name(String),
    Id(i64),
}

/// A push target. On `POST` only `chat_id` is required (`platforms` and
/// `tags` default to `[]`, meaning everything; `enabled` to `true`); on
/// `PATCH` only the fields sent change, and `"name": null` clears the name.
/// Unknown fields are refused (`invalid_body`).
// Describes `TargetBody`, which reads the fields one by one so that each
// message names its field.
#[derive(ToSchema)]
pub struct TargetRequest {
    #[schema(required = false)]
    pub chat_id: ChatId,
    #[schema(required = false)]
    pub name: Option<String>,
    /// Empty: every platform.
    #[schema(required = false)]
    pub platforms: Vec<Platform>,
    /// Empty: every tag (and untagged items).
    #[schema(required = false)]
    pub tags: Vec<String>,
    #[schema(required = false)]
    pub enabled: bool,
    /// Send a notice (in reply to the item's message) when the original of
    /// an item this chat received is declared deleted upstream; default
    /// `false`.
    #[schema(required = false)]
    pub notify_deleted: bool,
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
    #[serde(default, deserialize_with = "nullable")]
    notify_deleted: Option<Option<Value>>,
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

fn bool_of(field: &str, v: Option<Value>) -> ApiResult<bool> {
    match v {
        Some(Value::Bool(b)) => Ok(b),
        _ => Err(invalid(format!("`{field}` must be true or false"))),
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
            v => bool_of("enabled", v)?,
        };
        let notify_deleted = match self.notify_deleted.flatten() {
            None => false,
            v => bool_of("notify_deleted", v)?,
        };
        Ok(NewTarget {
            name,
            chat_id,
            platforms,
            tags,
            enabled,
            notify_deleted,
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
        let enabled = self.enabled.map(|v| bool_of("enabled", v)).transpose()?;
        let notify_deleted = self
            .notify_deleted
            .map(|v| bool_of("notify_deleted", v))
            .transpose()?;
        Ok(TargetPatch {
            name,
            chat_id,
            platforms,
            tags,
            enabled,
            notify_deleted,
        })
    }
}

/// `not_found` for a push target id.
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
        (status = 200, description = "Every push target", body = TargetList),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn list_targets(State(state): State<AppState>) -> ApiResult<Json<TargetList>> {
    let items = push::list_targets(&state.db)
        .await?
        .into_iter()
        .map(TargetView::from)
        .collect();
    Ok(Json(TargetList { items }))
}

/// `POST /push-targets` → `201` with a `Location` header.
#[utoipa::path(
    post,
    path = "/api/v1/push-targets",
    operation_id = "create_push_target",
    tag = "push",
    request_body = TargetRequest,
    responses(
        (status = 201, description = "Created", body = TargetView,
            headers(("Location" = String, description = "`/api/v1/push-targets/{id}`"))),
        (status = 400, description = "`invalid_json`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 415, description = "`unsupported_media_type`", body = ErrorResponse),
        (status = 422, description = "`invalid_body` (unknown field, bad `chat_id`, unknown platform) or `invalid_tag`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn create_target(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<TargetBody>,
) -> ApiResult<Response> {
    let new = body.into_new()?;
    let target = push::create_target(&state.db, new).await?;
    tracing::info!(push_target.id = target.id, chat_id = %target.chat_id, "push target created");
    let location = format!("/api/v1/push-targets/{}", target.id);
    Ok(located(
        StatusCode::CREATED,
        TargetView::from(target),
        &location,
    ))
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
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
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
    request_body = TargetRequest,
    responses(
        (status = 200, description = "The updated push target", body = TargetView),
        (status = 400, description = "`invalid_json` or `invalid_parameter`", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 415, description = "`unsupported_media_type`", body = ErrorResponse),
        (status = 422, description = "`invalid_body` (unknown field, bad `chat_id`, unknown platform) or `invalid_tag`", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
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
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
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
