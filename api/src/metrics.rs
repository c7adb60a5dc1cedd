//! `GET /metrics` (Prometheus, OpenMetrics text) and the middleware that
//! counts HTTP requests.
//!
//! The registry is `vaultstream_core::metrics`, global to the process: this
//! endpoint exposes the HTTP counters recorded here plus, in the `all`
//! role, the worker's job and push counters (a separate worker process
//! keeps its own). The gauges (items, media, dead letters, blobs, queue
//! depth, oldest waiting item) are read from the database and the queue
//! at scrape time, with a short timeout.
//!
//! Requests are labelled by the matched route template
//! (`/api/v1/contents/{id}`), `unmatched` when no route matched, never by
//! the raw path: the label set stays small whatever clients send.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use vaultstream_core::metrics;

use crate::AppState;

/// Middleware: count and time every request by method, route template and
/// status.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let response = next.run(req).await;
    metrics::observe_http(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Standard methods by name; anything else is `other` (bounded labels).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// `GET /metrics`: refresh the gauges, then every metric of this process.
/// Also served by `worker` and `bot` processes on their own address.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "The Prometheus text exposition format",
            content_type = "text/plain; version=0.0.4", body = String),
    )
)]
pub async fn scrape(State(state): State<AppState>) -> Response {
    let body = metrics::scrape(&state.db, state.queue.as_ref()).await;
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
}
