//! `GET /blobs/sha256/ab/cd/<sha256>.<ext>`: archived media.
//!
//! Local disk: served here with `ETag` (the SHA-256 itself: the bytes can
//! never change), `If-None-Match` → 304, single `Range` requests → 206
//! (`Accept-Ranges: bytes`; a multi-range request gets the whole file),
//! and `Cache-Control: public, max-age=31536000, immutable`.
//! S3: a `302` to the public URL (or a presigned one) — the bytes never
//! pass through the API.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use vaultstream_core::ErrorCode;
use vaultstream_core::blob::BlobKey;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The bytes of an archived file.
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/octet-stream")
            .into()
    }
}

impl ToSchema for Binary {}

/// An archived media file by its key (`ab/cd/<sha256>.<ext>`, the `url`
/// of a media file). Local disk: the bytes, with `ETag`, `If-None-Match`,
/// single `Range` requests and immutable caching. S3: a `302` to the object.
#[utoipa::path(
    method(get, head),
    // axum's catch-all (the key holds `/`); the document spells it `{rest}`.
    path = "/blobs/sha256/{*rest}",
    operation_id = "get_blob",
    tag = "blobs",
    params(
        ("rest" = String, Path, description = "`ab/cd/<sha256>.<ext>` (may contain `/`)", example = "ab/cd/abcd0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab.webp"),
        ("Range" = Option<String>, Header, description = "One `bytes=` range; anything else gets the whole file"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` from before: `304` when it matches"),
        ("If-Range" = Option<String>, Header, description = "Serve the range only while the `ETag` matches"),
    ),
    responses(
        (status = 200, description = "The whole file", content_type = "application/octet-stream", body = Binary,
            headers(
                ("ETag" = String, description = "The SHA-256, quoted"),
                ("Cache-Control" = String, description = "`public, max-age=31536000, immutable`"),
                ("Accept-Ranges" = String, description = "`bytes`"),
            )),
        (status = 206, description = "The requested range", content_type = "application/octet-stream", body = Binary,
            headers(("Content-Range" = String, description = "`bytes start-end/size`"))),
        (status = 302, description = "S3: the object's public or presigned URL",
            headers(("Location" = String, description = "Where the bytes are"))),
        (status = 304, description = "Not modified (`If-None-Match` matched)"),
        (status = 404, description = "`not_found`: no such blob, or a malformed key", body = ErrorResponse),
        (status = 416, description = "`range_not_satisfiable`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`: the blob store cannot be read", body = ErrorResponse),
    )
)]
pub async fn get_blob(
    State(state): State<AppState>,
    method: Method,
    rest: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // A key that does not even decode (invalid UTF-8) is malformed too.
    let key = rest
        .ok()
        .and_then(|Path(rest)| BlobKey::parse(&format!("blobs/sha256/{rest}")))
        .ok_or_else(|| ApiError::not_found("no such blob (malformed key)"))?;
    let store = &state.blobs;
    let Some(path) = store.local_path(&key) else {
        // S3: hand out a URL to the object itself.
        if store.head(&key).await.map_err(blob_error)?.is_none() {
            return Err(ApiError::not_found("no such blob"));
        }
        let url = store
            .redirect_url(&key)
            .await
            .map_err(blob_error)?
            .ok_or_else(|| ApiError::not_found("no such blob"))?;
        let location = HeaderValue::from_str(&url).map_err(|_| {
            ApiError::new(ErrorCode::Internal, "the blob URL is not a valid header")
        })?;
        let cache = if state
            .settings
            .s3
            .as_ref()
            .is_some_and(|s| s.public_base_url.is_some())
        {
            HeaderValue::from_static("public, max-age=86400")
        } else {
            // A presigned URL expires; a cached redirect must not outlive it.
            HeaderValue::from_static("private, max-age=60")
        };
        return Ok((
            StatusCode::FOUND,
            [(header::LOCATION, location), (header::CACHE_CONTROL, cache)],
        )
            .into_response());
    };

    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found("no such blob"));
        }
        Err(e) => return Err(io_error(e)),
    };
    let size = file.metadata().await.map_err(io_error)?.len();
    let etag = format!("\"{}\"", key.sha256());
    let mut base = HeaderMap::new();
    base.insert(header::ETAG, header_value(&etag));
    base.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    base.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    base.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(key.content_type()),
    );
    base.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );

    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && inm
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == etag || t == "*")
    {
        return Ok((StatusCode::NOT_MODIFIED, base).into_response());
    }

    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        // `If-Range` with another validator: send the whole file.
        Some(_)
            if headers
                .get(header::IF_RANGE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim() != etag) =>
        {
            None
        }
        Some(r) => match parse_range(r, size) {
            RangeAsk::Whole => None,
            RangeAsk::Part(start, end) => Some((start, end)),
            RangeAsk::Unsatisfiable => {
                let mut h = base;
                h.insert(
                    header::CONTENT_RANGE,
                    header_value(&format!("bytes */{size}")),
                );
                let err = ApiError::new(
                    ErrorCode::RangeNotSatisfiable,
                    format!("the range `{r}` lies outside the blob ({size} bytes)"),
                )
                .into_response();
                let (mut parts, body) = err.into_parts();
                parts.headers.extend(
                    h.into_iter()
                        .filter_map(|(k, v)| k.map(|k| (k, v)))
                        .filter(|(k, _)| *k != header::CONTENT_TYPE),
                );
                return Ok(Response::from_parts(parts, body));
            }
        },
        None => None,
    };

    let (status, start, len) = match range {
        Some((start, end)) => {
            base.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {start}-{end}/{size}")),
            );
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        None => (StatusCode::OK, 0, size),
    };
    base.insert(header::CONTENT_LENGTH, header_value(&len.to_string()));
    if method == Method::HEAD {
        return Ok((status, base).into_response());
    }
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(io_error)?;
    }
    let body = Body::from_stream(ReaderStream::with_capacity(file.take(len), 64 * 1024));
    Ok((status, base, body).into_response())
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn io_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "cannot read a local blob");
    ApiError::new(
        ErrorCode::ServiceUnavailable,
        "the blob store cannot be read right now",
    )
}

fn blob_error(e: vaultstream_core::blob::BlobError) -> ApiError {
    tracing::error!(error = %e, "blob store error");
    ApiError::new(
        ErrorCode::ServiceUnavailable,
        "the blob store is unavailable right now",
    )
}

#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// No usable range (malformed, or several ranges): the whole file.
    Whole,
    /// Inclusive byte positions.
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range per RFC 9110 §14.1.2; anything we do not serve as
/// a part (multi-range, other units, garbage) falls back to the whole file,
/// which the RFC allows.
fn parse_range(value: &str, size: u64) -> RangeAsk {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) => match num(b) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(n) if size > 0 => RangeAsk::Part(size.saturating_sub(n), size - 1),
            Some(_) => RangeAsk::Unsatisfiable,
            None => RangeAsk::Whole,
        },
        // bytes=N-: from N to the end.
        (false, true) => match num(a) {
            Some(s) if s < size => RangeAsk::Part(s, size - 1),
            Some(_) => RangeAsk::Unsatisfiable,
            None => RangeAsk::Whole,
        },
        (false, false) => match (num(a), num(b)) {
            (Some(s), Some(e)) if s <= e && s < size => RangeAsk::Part(s, e.min(size - 1)),
            (Some(s), Some(e)) if s <= e => RangeAsk::Unsatisfiable,
            _ => RangeAsk::Whole,
        },
        (true, true) => RangeAsk::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeAsk::*;
        assert_eq!(parse_range("bytes=0-99", 1000), Part(0, 99));
        assert_eq!(parse_range("bytes=900-", 1000), Part(900, 999));
        assert_eq!(parse_range("bytes=-100", 1000), Part(900, 999));
        assert_eq!(parse_range("bytes=-5000", 1000), Part(0, 999));
        assert_eq!(parse_range("bytes=990-2000", 1000), Part(990, 999));
        assert_eq!(parse_range("bytes=1000-", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=1000-1001", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 1000), Whole);
        assert_eq!(parse_range("bytes=0-1,5-9", 1000), Whole);
        assert_eq!(parse_range("items=0-1", 1000), Whole);
        assert_eq!(parse_range("bytes=x-y", 1000), Whole);
        assert_eq!(parse_range("bytes=-", 1000), Whole);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
    }
}
