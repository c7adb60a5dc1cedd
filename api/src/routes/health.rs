//! `GET /api/v1/health`: liveness plus the state of each dependency.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use vaultstream_core::db;

use crate::AppState;

/// Liveness and the state of each dependency. No key needed.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    operation_id = "health",
    tag = "health",
    responses(
        (status = 200, description = "The database answers (`status` is `degraded` when the blob store does not)", body = crate::openapi::Health),
        (status = 503, description = "The database does not answer", body = crate::openapi::Health),
    )
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let started = Instant::now();
    let database = match db::ping(&state.db).await {
        Ok(()) => json!({
            "status": "ok",
            "backend": db::backend_name(&state.db),
            "latency_ms": started.elapsed().as_secs_f64() * 1000.0,
        }),
        Err(e) => {
            tracing::warn!(error = %e, "health: database unreachable");
            json!({"status": "error", "backend": db::backend_name(&state.db), "error": "unreachable"})
        }
    };
    let started = Instant::now();
    let check = tokio::time::timeout(Duration::from_secs(5), state.blobs.check()).await;
    let blobs = match check {
        Ok(Ok(())) => json!({
            "status": "ok",
            "backend": state.blobs.backend(),
            "latency_ms": started.elapsed().as_secs_f64() * 1000.0,
        }),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: blob store unavailable");
            json!({"status": "error", "backend": state.blobs.backend(), "error": "unavailable"})
        }
        Err(_) => json!({"status": "error", "backend": state.blobs.backend(), "error": "timeout"}),
    };
    // Only the database decides liveness: without the blob store, items
    // are still accepted and parsed (media jobs wait and retry).
    let healthy = database["status"] == "ok";
    let body = json!({
        "status": if healthy && blobs["status"] == "ok" { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "checks": {
            "database": database,
            "blobs": blobs,
        },
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
