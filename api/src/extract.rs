//! Extractors that answer bad requests in our error envelope.
//!
//! axum's own `Json`/`Query`/`Path` reject with plain-text bodies; these
//! read the raw parts and turn every failure into a code from the contract.

use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;
use vaultstream_core::ErrorCode;

use crate::error::{ApiError, ApiResult};

/// After refusing a body as too large, read and drop at most this much more
/// of it, for at most [`DRAIN_TIME`] (see [`buffer_body`]).
const DRAIN_MAX_BYTES: usize = 8 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// A JSON body. Malformed JSON → `invalid_json` (400); well-formed JSON of
/// the wrong shape, or with a NUL (`\u0000`) in any string → `invalid_body`
/// (422); too large → `payload_too_large` (413). A body sent without a JSON
/// content type is still accepted when it parses (curl's `-d` sends form
/// encoding by default); when it does not parse and was declared as
/// something else, the answer is `unsupported_media_type` (415).
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.to_ascii_lowercase());
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e: BytesRejection| match e {
                BytesRejection::FailedToBufferBody(
                    axum::extract::rejection::FailedToBufferBody::LengthLimitError(_),
                ) => ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large"),
                other => ApiError::new(
                    ErrorCode::InvalidBody,
                    format!("the request body could not be read: {other}"),
                ),
            })?;
        parse_json(content_type.as_deref(), &bytes).map(JsonBody)
    }
}

/// A JSON body read as [`JsonBody`] reads it (the same codes), from bytes
/// a route buffered itself (the batch route, which takes a larger body).
pub fn parse_json<T: DeserializeOwned>(content_type: Option<&str>, bytes: &[u8]) -> ApiResult<T> {
    let declared_json = content_type
        .map(str::to_ascii_lowercase)
        .is_none_or(|ct| ct.starts_with("application/json") || ct.contains("+json"));
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ErrorCode::InvalidJson,
            "the request body is empty; send a JSON object",
        ));
    }
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(_) if !declared_json => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        Err(e) => {
            return Err(ApiError::new(
                ErrorCode::InvalidJson,
                format!("the body is not valid JSON: {e}"),
            ));
        }
    };
    // serde also reads a struct from an array (positional fields); our
    // bodies are objects, and anything else is a client mistake.
    if !value.is_object() {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "the body must be a JSON object",
        ));
    }
    // PostgreSQL cannot store a NUL in text, and no field of ours
    // means one: refused the same on every backend.
    if has_nul(&value) {
        return Err(ApiError::new(
            ErrorCode::InvalidBody,
            "strings in the body cannot contain NUL (\\u0000) characters",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::new(ErrorCode::InvalidBody, format!("invalid body: {e}")))
}

/// Middleware: read every request body before its route runs, at most
/// [`crate::MAX_BODY_BYTES`] ([`crate::MAX_BATCH_BODY_BYTES`] for the batch
/// route); a larger one is `payload_too_large` (413)
/// whatever the route, and so is one declared larger.
///
/// Why here and not in each extractor: when a server answers before it has
/// read the body (a route that takes none, or a refusal) and closes with
/// bytes unread, the peer gets a TCP reset, and an HTTP/1 client that writes
/// the whole body before it reads the answer (most do) reports a broken
/// connection instead of our answer. So a refused body is drained first
/// (bounded in bytes and time; a body declared larger than the bound, or
/// one waiting for `100 Continue`, is not worth reading and is not).
pub async fn buffer_body(req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let limit = crate::body_limit(parts.uri.path());
    match read_body(&parts.headers, body, limit).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(e) => e.into_response(),
    }
}

/// The whole body, at most `limit` bytes.
async fn read_body(headers: &HeaderMap, mut body: Body, limit: usize) -> ApiResult<Bytes> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let worth_draining = declared.is_none_or(|n| n <= DRAIN_MAX_BYTES as u64)
        && !headers.contains_key(header::EXPECT);
    let too_large = || {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    };
    if declared.is_some_and(|n| n > limit as u64) {
        if worth_draining {
            drain(body).await;
        }
        return Err(too_large());
    }
    let mut buf = Vec::new();
    while let Some(chunk) = next_chunk(&mut body).await {
        let data = chunk.map_err(|e| {
            ApiError::new(
                ErrorCode::InvalidBody,
                format!("the request body could not be read: {e}"),
            )
        })?;
        if buf.len() + data.len() > limit {
            if worth_draining {
                drain(body).await;
            }
            return Err(too_large());
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf.into())
}

/// The next chunk of `body` (empty for trailers); `None` at its end.
async fn next_chunk(body: &mut Body) -> Option<Result<Bytes, axum::Error>> {
    std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx))
        .await
        .map(|frame| frame.map(|f| f.into_data().unwrap_or_default()))
}

/// Read and drop the rest of a refused body, bounded in bytes and time.
async fn drain(mut body: Body) {
    let mut left = DRAIN_MAX_BYTES;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(data)) = next_chunk(&mut body).await {
            if data.len() >= left {
                break;
            }
            left -= data.len();
        }
    })
    .await;
}

/// Whether any string (or object key) in `v` holds a NUL.
fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Query parameters as (name, value) pairs, first occurrence wins; never
/// rejects (bad values are judged by the route).
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !out.iter().any(|(seen, _)| *seen == k) {
            out.push((k.into_owned(), v.into_owned()));
        }
    }
    out
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A free-text parameter (searched for in the database): as [`param`], but
/// a NUL in it is `invalid_parameter` (PostgreSQL refuses NUL in text).
pub fn text_param<'a>(pairs: &'a [(String, String)], name: &str) -> ApiResult<Option<&'a str>> {
    match param(pairs, name) {
        Some(v) if v.contains('\0') => Err(ApiError::invalid_parameter(format!(
            "`{name}` cannot contain NUL (%00) characters"
        ))),
        v => Ok(v),
    }
}
