//! The error envelope: every failure is `{"error": {"code", "message"}}`
//! with the status its code maps to (`core::ErrorCode::http_status`).
//!
//! Server-side failures are logged here, once, with their cause chain; the
//! client gets the code and a message that leaks nothing internal.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::DbErr;
use serde::Serialize;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use vaultstream_core::{ErrorCode, UserError};

/// Every failure: a 4xx/5xx status and this body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorResponse {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    #[schema(value_type = ErrorCodeSchema)]
    pub code: ErrorCode,
    /// For people; may change between versions. Match on `code`.
    pub message: String,
}

/// The `ErrorCode` schema: a string enum of every [`ErrorCode::ALL`], with
/// the HTTP status each is answered with (generated, so it cannot drift).
pub struct ErrorCodeSchema;

impl PartialSchema for ErrorCodeSchema {
    fn schema() -> RefOr<Schema> {
        let table: Vec<String> = ErrorCode::ALL
            .iter()
            .map(|c| format!("- `{}`: {}", c.as_str(), c.http_status()))
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some(format!(
                "A stable, machine-readable word. Each code is always answered \
                 with the same HTTP status:\n{}",
                table.join("\n")
            )))
            .into()
    }
}

impl ToSchema for ErrorCodeSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The cause, for the log; never sent to the client.
    pub source: Option<anyhow::Error>,
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            source: None,
            retry_after_secs: None,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, what)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        Self::new(e.code, e.message)
    }
}

impl From<DbErr> for ApiError {
    fn from(e: DbErr) -> Self {
        // A pool that cannot hand out a connection, or a locked SQLite file,
        // is a passing condition the client may retry: 503, not 500.
        let text = e.to_string();
        let unavailable = matches!(e, DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
            || text.contains("database is locked")
            || text.contains("PoolTimedOut")
            || text.contains("Connection refused");
        let (code, message) = if unavailable {
            (
                ErrorCode::ServiceUnavailable,
                "the database is unavailable; retry shortly",
            )
        } else {
            (
                ErrorCode::Internal,
                "an internal error occurred; it has been logged",
            )
        };
        Self {
            code,
            message: message.into(),
            source: Some(anyhow::Error::new(e)),
            retry_after_secs: unavailable.then_some(1),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(source) = &self.source {
            tracing::error!(error.code = %self.code, error = ?source, "request failed");
        }
        let body = Json(ErrorResponse {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        });
        let mut resp = (status, body).into_response();
        if let Some(v) = self
            .retry_after_secs
            .and_then(|secs| HeaderValue::from_str(&secs.to_string()).ok())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
