//! Extractors that answer bad requests in our error envelope.
//!
//! axum's own `Json`/`Query`/`Path` reject with plain-text bodies; these
//! read the raw parts and turn every failure into a code from the contract.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;
use vaultstream_core::ErrorCode;

use crate::error::ApiError;

/// A JSON body. Malformed JSON → `invalid_json` (400); well-formed JSON of
/// the wrong shape → `invalid_body` (422); too large → `payload_too_large`
/// (413). A body sent without a JSON content type is still accepted when it
/// parses (curl's `-d` sends form encoding by default); when it does not
/// parse and was declared as something else, the answer is
/// `unsupported_media_type` (415).
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
        let declared_json = content_type
            .as_deref()
            .is_none_or(|ct| ct.starts_with("application/json") || ct.contains("+json"));
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(
                ErrorCode::InvalidJson,
                "the request body is empty; send a JSON object",
            ));
        }
        let value: serde_json::Value = match serde_json::from_slice(&bytes) {
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
        serde_json::from_value(value)
            .map(JsonBody)
            .map_err(|e| ApiError::new(ErrorCode::InvalidBody, format!("invalid body: {e}")))
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
