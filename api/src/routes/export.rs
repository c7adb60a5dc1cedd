//! `GET /api/v1/export` (operators): the whole archive, or what the
//! filters select, as one tar stream in the open export layout (README
//! "Export"; `vaultstream_core::export`) — the same as `vaultstream export
//! FILE.tar`. The body streams as it is written (blobs straight from the
//! store, flat memory); a failure half-way aborts the response, so a client
//! never takes a cut archive for a whole one (a whole one ends with
//! `manifest.json`).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio_util::io::ReaderStream;
use utoipa::IntoParams;
use vaultstream_core::export::tar::TarSink;
use vaultstream_core::export::{self, Filter, Start};

use super::blobs::Binary;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::{param, query_pairs};

/// Bytes buffered between the writer and the response.
const PIPE: usize = 256 * 1024;

/// The query of `GET /export` (read by hand in [`export_tar`]; this
/// describes it). Every filter given must hold; none: everything.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Only this platform's items.
    pub platform: Option<vaultstream_core::platform::Platform>,
    /// Only items with this tag.
    pub tag: Option<String>,
    /// Only items archived on or after this day (`YYYY-MM-DD`).
    #[param(example = "2026-01-31")]
    pub since: Option<String>,
    /// `false`: items only, no media files.
    #[param(default = true)]
    pub blobs: Option<bool>,
}

/// The archive as a tar stream: `blobs/sha256/…` (each archived file under
/// its content address), `items.jsonl` (one item per line), then
/// `manifest.json` (counts and checksums).
#[utoipa::path(
    get,
    path = "/api/v1/export",
    operation_id = "export",
    tag = "operator",
    params(ExportQuery),
    responses(
        (status = 200, description = "The tar stream", content_type = "application/x-tar", body = Binary,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"vaultstream-export-<date>.tar\"`"))),
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn export_tar(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let pairs = query_pairs(raw.as_deref());
    let filter = Filter::parse(
        param(&pairs, "platform"),
        param(&pairs, "tag"),
        param(&pairs, "since"),
    )
    .map_err(ApiError::invalid_parameter)?;
    let with_blobs = match param(&pairs, "blobs") {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "blobs: `{other}` is not true or false"
            )));
        }
    };
    let (writer, reader) = tokio::io::duplex(PIPE);
    let mut sink = TarSink::new(writer).map_err(|e| {
        tracing::error!(error = %e, "export: no temporary file");
        ApiError::new(
            vaultstream_core::ErrorCode::ServiceUnavailable,
            "cannot start an export now",
        )
    })?;
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        let result = export::run(
            &state.db,
            state.blobs.as_ref(),
            &filter,
            Start::default(),
            with_blobs,
            &mut sink,
            |_, _| {},
        )
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %format!("{e:#}"), "export stream failed");
            let _ = failed_tx.send(format!("{e:#}"));
        }
        // Dropping the sink ends the body (after the error, if any).
    });
    // The tar, then — only when the writer failed — an error that aborts
    // the response instead of ending it cleanly.
    let failure = futures::stream::once(failed_rx)
        .filter_map(|r| async move { r.ok().map(|msg| Err(std::io::Error::other(msg))) });
    let body = Body::from_stream(ReaderStream::new(reader).chain(failure));
    let name = format!(
        "attachment; filename=\"vaultstream-export-{}.tar\"",
        chrono::Utc::now().format("%Y%m%d")
    );
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
