//! VaultStream REST API (axum).
//!
//! Layout:
//! - [`error`]: the `{"error": {"code", "message"}}` envelope.
//! - [`extract`]: body/query extractors that answer in that envelope.
//! - [`routes`]: one file per route group (shares, contents, operator,
//!   push targets, pushed records, health, blobs, feeds, logins), each answering with the
//!   typed bodies it declares; [`routes::api`] lists every route once, for
//!   the router and the document alike.
//! - [`feed`]: items as RSS 2.0, Atom and JSON Feed entries.
//! - [`openapi`]: assembles the OpenAPI document; Swagger UI.
//! - [`metrics`]: `GET /metrics` (Prometheus) and the HTTP metrics middleware.
//! - [`auth`]: API keys, roles and rate limits, one middleware for all routes.
//! - `admin`: the operator's web page.
//! - `library`: the library page (`/`), its manifest and icon.
//!
//! [`router`] builds the whole app from an [`AppState`]; [`serve`] runs it
//! until a shutdown signal. Tests build the same router on port 0.

mod admin;
pub mod auth;
pub mod error;
pub mod extract;
pub mod feed;
mod library;
pub mod metrics;
pub mod openapi;
pub mod routes;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use vaultstream_adapters::links::Linker;
use vaultstream_core::blob::BlobStore;
use vaultstream_core::queue::JobQueue;
use vaultstream_core::{ErrorCode, Settings};

use crate::error::ApiError;

/// Bodies larger than this are refused with 413 `payload_too_large`, on
/// every route ([`extract::buffer_body`]).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// `POST /api/v1/shares/batch` takes up to 1,000 shares: its bodies may be
/// this large.
pub const MAX_BATCH_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The largest body a route takes.
pub fn body_limit(path: &str) -> usize {
    if path == routes::shares::BATCH_PATH {
        MAX_BATCH_BODY_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub linker: Linker,
    pub queue: Arc<dyn JobQueue>,
    /// Archived media (local disk or S3).
    pub blobs: Arc<dyn BlobStore>,
    pub settings: Arc<Settings>,
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    // The documented routes and their document come from one list.
    let (api, doc) = openapi::api();
    api.merge(openapi::docs(doc))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            auth::Guard::new(&state),
            auth::guard,
        ))
        // The operator page and the library hold no data and ask for a key
        // themselves: served outside the guard, like the docs UI.
        .merge(admin::routes())
        .merge(library::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(extract::buffer_body))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!(
                    "http",
                    method = %req.method(),
                    path = %req.uri().path(),
                    request.id = %id,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::from_fn(drop_unusable_request_id))
        .with_state(state)
}

/// The longest `X-Request-Id` taken from a client (the column that keeps it
/// with a submission holds 128 characters).
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A client may choose its request id (it is logged, echoed and stored with
/// a submission), but only a short, printable one: anything else is dropped
/// here, and [`SetRequestIdLayer`] gives the request a fresh UUID.
async fn drop_unusable_request_id(mut req: Request<axum::body::Body>, next: Next) -> Response {
    let usable = |v: &HeaderValue| {
        (1..=MAX_REQUEST_ID_LEN).contains(&v.len()) && v.as_bytes().iter().all(u8::is_ascii_graphic)
    };
    let ids = req.headers().get_all("x-request-id");
    let keep = ids.iter().count() <= 1 && ids.iter().all(usable);
    if !keep {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not accept that method",
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        ErrorCode::Internal,
        "an internal error occurred; it has been logged",
    )
    .into_response()
}

/// Serve until `shutdown` resolves; in-flight requests get up to 10 s to
/// finish after that.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let graceful = async move {
        shutdown.await;
        let _ = tx.send(());
    };
    // The peer address feeds the per-IP rate limit of anonymous requests.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    tokio::select! {
        res = server => res,
        _ = async {
            let _ = rx.await;
            tokio::time::sleep(Duration::from_secs(10)).await;
        } => {
            tracing::warn!("shutdown deadline passed with requests still open");
            Ok(())
        }
    }
}
