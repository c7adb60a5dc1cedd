//! Push targets: Telegram chats and webhooks with platform/tag filters.
//!
//! - `GET|POST /push-targets`, `GET|PATCH|DELETE /push-targets/{id}`
//!
//! Bodies are read field by field so every message names its field;
//! unknown fields are refused (`invalid_body`): [`body`]. A webhook's
//! address passes the SSRF guard of every pasted link
//! (`forbidden_target`), unless `VAULTSTREAM_ALLOW_PRIVATE_TARGETS` is on.

mod body;

pub use body::{ChatId, TargetBody, TargetRequest};

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use vaultstream_adapters::http::outbound;
use vaultstream_core::db::entities::push_target;
use vaultstream_core::db::push::webhooks::{redacted_url, validate_url};
use vaultstream_core::db::push::{self, TargetError};
use vaultstream_core::platform::Platform;
use vaultstream_core::status::{TargetKind, WebhookFormat};

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
    /// `telegram` or `webhook`.
    pub kind: TargetKind,
    /// The Telegram chat (null for a webhook).
    pub chat_id: Option<String>,
    /// A webhook's address; Discord's and Slack's are credentials, shown
    /// with their token masked (`…/***`), as is any query string.
    pub url: Option<String>,
    /// A webhook's receiver format.
    pub format: Option<WebhookFormat>,
    /// A `standard` webhook signs its requests.
    pub signed: bool,
    /// The signing secret: only in the answer that set it (create, or a
    /// `PATCH` with `secret`); keep it, it is never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
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
        let webhook = m.kind == TargetKind::Webhook;
        TargetView {
            platforms: push::target_platforms(&m),
            tags: push::target_tags(&m),
            id: m.id,
            name: m.name,
            kind: m.kind,
            chat_id: (!webhook).then_some(m.chat_id),
            url: m
                .url
                .as_deref()
                .map(|u| redacted_url(u, m.format.unwrap_or(WebhookFormat::Standard))),
            format: m.format,
            signed: m.secret.is_some(),
            secret: None,
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

/// A webhook address must pass the SSRF guard of every pasted link (a
/// malformed one is left to the body's checks: `invalid_body`).
fn guard(state: &AppState, body: &TargetBody) -> ApiResult<()> {
    if let Some(url) = body.url().and_then(|u| validate_url(u).ok()) {
        outbound::check_target(&url, state.settings.allow_private_targets)?;
    }
    Ok(())
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
        (status = 422, description = "`invalid_body` (unknown field, bad `chat_id` or `url`, unknown platform), `invalid_tag` or `forbidden_target` (a webhook on a private address)", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn create_target(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<TargetBody>,
) -> ApiResult<Response> {
    guard(&state, &body)?;
    let new = body.into_new()?;
    let target = push::create_target(&state.db, new).await?;
    tracing::info!(push_target.id = target.id, kind = %target.kind, "push target created");
    let location = format!("/api/v1/push-targets/{}", target.id);
    let secret = target.secret.clone();
    let mut view = TargetView::from(target);
    view.secret = secret;
    Ok(located(StatusCode::CREATED, view, &location))
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
        (status = 422, description = "`invalid_body` (unknown field, bad `chat_id` or `url`, unknown platform), `invalid_tag` or `forbidden_target` (a webhook on a private address)", body = ErrorResponse),
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
    guard(&state, &body)?;
    let patch = body.into_patch()?;
    let new_secret = patch.secret.is_some();
    let target = push::update_target(&state.db, id, patch)
        .await?
        .ok_or_else(|| no_target(id))?;
    tracing::info!(push_target.id = id, "push target updated");
    let secret = target.secret.clone().filter(|_| new_secret);
    let mut view = TargetView::from(target);
    view.secret = secret;
    Ok(Json(view))
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
