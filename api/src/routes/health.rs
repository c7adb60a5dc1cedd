//! `GET /api/v1/health`: liveness plus the state of each dependency.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use vaultstream_core::db;

use crate::AppState;

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
    let healthy = database["status"] == "ok";
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "checks": {
            "database": database,
        },
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
