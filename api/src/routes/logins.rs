//! Platform logins for operators: `GET /api/v1/logins`, `PUT|DELETE
//! /api/v1/logins/{platform}`, `POST /api/v1/logins/{platform}/check`, and
//! the QR login (`POST .../qr`, then `POST .../qr/poll` until it is done).
//!
//! A cookie goes in (`PUT`) and never comes out: every answer is built
//! from what `adapters::logins::LoginEntry` shows (platform, account,
//! when set, expiry, last check). Environment cookies show as read-only
//! entries.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vaultstream_adapters::logins::qr::{self, QrPoll};
use vaultstream_adapters::logins::{CheckReport, LoginEntry, LoginError, Logins};
use vaultstream_core::ErrorCode;
use vaultstream_core::db::logins::{LoginState, VaultError};
use vaultstream_core::platform::Platform;
use vaultstream_core::settings::Secret;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::JsonBody;

/// One platform's login as operators see it: never its cookies.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginView {
    pub platform: Platform,
    /// `vault` (stored here, encrypted) or `env` (`VAULTSTREAM_COOKIES_<PLATFORM>`).
    pub source: String,
    /// Environment logins cannot be replaced or removed here.
    pub read_only: bool,
    pub account: Option<String>,
    pub set_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_check_at: Option<DateTime<Utc>>,
    /// The last check's result; null: not checked yet.
    pub state: Option<LoginState>,
    /// What the platform answered (its code and message).
    pub detail: Option<String>,
    pub failures_in_row: i32,
    /// Whether the platform has a health check.
    pub checkable: bool,
    /// Whether the platform offers a QR login here.
    pub qr: bool,
}

impl From<LoginEntry> for LoginView {
    fn from(e: LoginEntry) -> Self {
        LoginView {
            platform: e.platform,
            source: e.source.to_owned(),
            read_only: e.read_only,
            account: e.account,
            set_at: e.set_at,
            expires_at: e.expires_at,
            last_check_at: e.last_check_at,
            state: e.state,
            detail: e.detail,
            failures_in_row: e.failures_in_row,
            checkable: e.checkable,
            qr: qr::supported(e.platform),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginList {
    pub items: Vec<LoginView>,
}

/// A check's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    pub platform: Platform,
    pub state: LoginState,
    pub account: Option<String>,
    pub detail: String,
    pub failures_in_row: i32,
    /// Dead letters retried because the login is valid again.
    pub retried: usize,
}

impl From<CheckReport> for CheckView {
    fn from(r: CheckReport) -> Self {
        CheckView {
            platform: r.platform,
            state: r.outcome.state,
            account: r.outcome.account,
            detail: r.outcome.detail,
            failures_in_row: r.recorded.failures_in_row,
            retried: r.retried,
        }
    }
}

/// A login to store. Unknown fields are refused (`invalid_body`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The `Cookie` header value (`name=value; name2=value2`). Stored
    /// encrypted; never shown again.
    pub cookie: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// The stored login, and its first check when the platform has one.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredLogin {
    pub login: LoginView,
    pub check: Option<CheckView>,
}

/// A QR code to show; poll with its `key`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QrView {
    /// What the code encodes (the platform's confirmation page).
    pub url: String,
    /// Pass it to `.../qr/poll`.
    pub key: String,
    /// The code as an SVG document.
    pub svg: String,
    pub expires_in_secs: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QrPollRequest {
    pub key: String,
}

/// Where a QR login stands: `waiting`, `scanned`, `expired` or `done`
/// (then the login is stored and checked).
#[derive(Debug, Serialize, ToSchema)]
pub struct QrPollView {
    pub state: String,
    pub login: Option<LoginView>,
    pub check: Option<CheckView>,
}

fn platform_of(path: Result<Path<String>, PathRejection>) -> ApiResult<Platform> {
    let Path(raw) = path.map_err(|_| ApiError::invalid_parameter("a platform name is needed"))?;
    raw.parse::<Platform>()
        .ok()
        .filter(|p| *p != Platform::Web)
        .ok_or_else(|| {
            ApiError::invalid_parameter(format!(
                "`{}` is not a platform with logins",
                raw.chars().take(40).collect::<String>().escape_debug()
            ))
        })
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        let message = e.to_string();
        match e {
            LoginError::NoLogin(_) => ApiError::not_found(message),
            LoginError::NoCheck(_) | LoginError::NoQr(_) => ApiError::invalid_parameter(message),
            LoginError::Vault(VaultError::BadCookie) => {
                ApiError::new(ErrorCode::InvalidBody, message)
            }
            LoginError::Vault(VaultError::Db(db)) | LoginError::Db(db) => ApiError::from(db),
            LoginError::Vault(_) => ApiError::new(ErrorCode::Conflict, message),
            LoginError::Upstream(_) => ApiError::new(ErrorCode::ServiceUnavailable, message),
        }
    }
}

fn logins(state: &AppState) -> Logins {
    Logins::from_settings(&state.settings, state.db.clone())
}

async fn entry(l: &Logins, platform: Platform) -> ApiResult<LoginView> {
    l.entries()
        .await?
        .into_iter()
        .find(|e| e.platform == platform)
        .map(LoginView::from)
        .ok_or_else(|| ApiError::not_found(format!("no {platform} login")))
}

/// `GET /logins`: every login, stored and from the environment.
#[utoipa::path(
    get,
    path = "/api/v1/logins",
    operation_id = "list_logins",
    tag = "logins",
    responses(
        (status = 200, description = "Every login (never its cookies)", body = LoginList),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn list_logins(State(state): State<AppState>) -> ApiResult<Json<LoginList>> {
    let items = logins(&state)
        .entries()
        .await?
        .into_iter()
        .map(LoginView::from)
        .collect();
    Ok(Json(LoginList { items }))
}

/// `PUT /logins/{platform}`: store (or replace) a login, then check it.
#[utoipa::path(
    put,
    path = "/api/v1/logins/{platform}",
    operation_id = "set_login",
    tag = "logins",
    params(("platform" = Platform, Path, description = "The platform")),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Stored (encrypted) and checked", body = StoredLogin),
        (status = 400, description = "`invalid_json`, `invalid_parameter`", body = ErrorResponse),
        (status = 409, description = "`conflict`: no VAULTSTREAM_SECRET_KEY, or not the vault's key", body = ErrorResponse),
        (status = 422, description = "`invalid_body`: unknown field, an empty cookie or control characters", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn set_login(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> ApiResult<Json<StoredLogin>> {
    let platform = platform_of(path)?;
    let l = logins(&state);
    let (_, check) = l
        .set(
            platform,
            &body.cookie,
            body.account.as_deref(),
            body.expires_at,
            state.queue.as_ref(),
        )
        .await?;
    Ok(Json(StoredLogin {
        login: entry(&l, platform).await?,
        check: check.map(CheckView::from),
    }))
}

/// `DELETE /logins/{platform}`: forget a stored login.
#[utoipa::path(
    delete,
    path = "/api/v1/logins/{platform}",
    operation_id = "remove_login",
    tag = "logins",
    params(("platform" = Platform, Path, description = "The platform")),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 404, description = "`not_found`: no stored login (environment logins are read-only)", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn remove_login(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<StatusCode> {
    let platform = platform_of(path)?;
    let l = logins(&state);
    let stored = l
        .entries()
        .await?
        .iter()
        .any(|e| e.platform == platform && !e.read_only);
    if !stored || !l.remove(platform).await? {
        return Err(ApiError::not_found(format!("no stored {platform} login")));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /logins/{platform}/check`: check the login now.
#[utoipa::path(
    post,
    path = "/api/v1/logins/{platform}/check",
    operation_id = "check_login",
    tag = "logins",
    params(("platform" = Platform, Path, description = "The platform")),
    responses(
        (status = 200, description = "Checked and recorded", body = CheckView),
        (status = 400, description = "`invalid_parameter`: no such platform, or it has no check", body = ErrorResponse),
        (status = 404, description = "`not_found`: the platform has no login", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn check_login(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<CheckView>> {
    let platform = platform_of(path)?;
    let report = logins(&state).check(platform, state.queue.as_ref()).await?;
    Ok(Json(report.into()))
}

/// `POST /logins/{platform}/qr`: a QR code to scan with the platform's app.
#[utoipa::path(
    post,
    path = "/api/v1/logins/{platform}/qr",
    operation_id = "start_qr_login",
    tag = "logins",
    params(("platform" = Platform, Path, description = "The platform (bilibili)")),
    responses(
        (status = 200, description = "A code to show", body = QrView),
        (status = 400, description = "`invalid_parameter`: no QR login for this platform", body = ErrorResponse),
        (status = 409, description = "`conflict`: no VAULTSTREAM_SECRET_KEY to store the login with", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`: the platform refused or did not answer", body = ErrorResponse),
    )
)]
pub async fn start_qr_login(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<QrView>> {
    let platform = platform_of(path)?;
    let start = logins(&state).qr_start(platform).await?;
    Ok(Json(QrView {
        svg: qr::svg(&start.url),
        key: start.key.expose().clone(),
        url: start.url,
        expires_in_secs: qr::QR_LIFETIME.as_secs(),
    }))
}

/// `POST /logins/{platform}/qr/poll`: whether the code was scanned and
/// confirmed; when it was, the login is stored and checked.
#[utoipa::path(
    post,
    path = "/api/v1/logins/{platform}/qr/poll",
    operation_id = "poll_qr_login",
    tag = "logins",
    params(("platform" = Platform, Path, description = "The platform (bilibili)")),
    request_body = QrPollRequest,
    responses(
        (status = 200, description = "Where the login stands", body = QrPollView),
        (status = 400, description = "`invalid_json`, `invalid_parameter`", body = ErrorResponse),
        (status = 409, description = "`conflict`: no VAULTSTREAM_SECRET_KEY", body = ErrorResponse),
        (status = 422, description = "`invalid_body`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`: the platform refused or did not answer", body = ErrorResponse),
    )
)]
pub async fn poll_qr_login(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<QrPollRequest>,
) -> ApiResult<Json<QrPollView>> {
    let platform = platform_of(path)?;
    let key = body.key.trim();
    if key.is_empty() || key.len() > 128 || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "`key` is not a QR login key",
        ));
    }
    let l = logins(&state);
    let (poll, check) = l
        .qr_poll(platform, &Secret::new(key.to_owned()), state.queue.as_ref())
        .await?;
    let login = match poll {
        QrPoll::Done { .. } => Some(entry(&l, platform).await?),
        _ => None,
    };
    Ok(Json(QrPollView {
        state: poll.word().to_owned(),
        login,
        check: check.map(CheckView::from),
    }))
}
