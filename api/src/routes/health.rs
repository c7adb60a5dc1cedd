//! `GET /api/v1/health`: liveness plus the state of each dependency.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use vaultstream_core::db;

use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when a dependency is failing (the status is 503
    /// only when the database is).
    pub status: &'static str,
    pub version: &'static str,
    pub checks: HealthChecks,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthChecks {
    pub database: DependencyCheck,
    pub blobs: DependencyCheck,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DependencyCheck {
    /// `ok` or `error`.
    pub status: &'static str,
    /// e.g. `sqlite`, `postgres`, `local`, `s3`.
    pub backend: &'static str,
    /// Present when `status` is `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Present when `status` is `error`: `unreachable`, `unavailable` or
    /// `timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

impl DependencyCheck {
    fn ok(backend: &'static str, started: Instant) -> Self {
        Self {
            status: "ok",
            backend,
            latency_ms: Some(started.elapsed().as_secs_f64() * 1000.0),
            error: None,
        }
    }

    fn failed(backend: &'static str, error: &'static str) -> Self {
        Self {
            status: "error",
            backend,
            latency_ms: None,
            error: Some(error),
        }
    }

    fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Liveness and the state of each dependency. No key needed.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    operation_id = "health",
    tag = "health",
    responses(
        (status = 200, description = "The database answers (`status` is `degraded` when the blob store does not)", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    )
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let started = Instant::now();
    let backend = db::backend_name(&state.db);
    let database = match db::ping(&state.db).await {
        Ok(()) => DependencyCheck::ok(backend, started),
        Err(e) => {
            tracing::warn!(error = %e, "health: database unreachable");
            DependencyCheck::failed(backend, "unreachable")
        }
    };
    let started = Instant::now();
    let check = tokio::time::timeout(Duration::from_secs(5), state.blobs.check()).await;
    let backend = state.blobs.backend();
    let blobs = match check {
        Ok(Ok(())) => DependencyCheck::ok(backend, started),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: blob store unavailable");
            DependencyCheck::failed(backend, "unavailable")
        }
        Err(_) => DependencyCheck::failed(backend, "timeout"),
    };
    // Only the database decides liveness: without the blob store, items
    // are still accepted and parsed (media jobs wait and retry).
    let healthy = database.is_ok();
    let body = Health {
        status: if healthy && blobs.is_ok() {
            "ok"
        } else {
            "degraded"
        },
        version: env!("CARGO_PKG_VERSION"),
        checks: HealthChecks { database, blobs },
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
