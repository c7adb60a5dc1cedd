//! What an upstream's answer means as a [`FetchError`]: HTTP status →
//! [`ErrorClass`], `Retry-After`, and the error for a body we cannot read.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use vaultstream_core::parsed::{ErrorClass, FetchError};

/// Status → error class. `None` for success. `forbidden` is what 403 means
/// on this platform (a login wall on most, plain refusal for generic pages).
pub(crate) fn status_error(
    status: StatusCode,
    headers: &HeaderMap,
    forbidden: ErrorClass,
) -> Option<FetchError> {
    let code = status.as_u16();
    Some(match code {
        200..=299 => return None,
        429 => FetchError::rate_limited(
            format!("the upstream is rate limiting us (HTTP {code})"),
            retry_after(headers),
        ),
        401 => FetchError::auth_required(format!("the upstream wants a login (HTTP {code})")),
        403 => FetchError::new(
            forbidden,
            format!("the upstream refused access (HTTP {code})"),
        ),
        404 | 410 => FetchError::permanent(format!("not found or deleted upstream (HTTP {code})")),
        408 | 500..=599 => FetchError {
            retry_after: retry_after(headers),
            ..FetchError::retryable(format!("the upstream failed (HTTP {code})"))
        },
        _ => FetchError::permanent(format!("the upstream answered HTTP {code}")),
    })
}

/// `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let wait = at.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(wait.max(0) as u64))
}

/// `Permanent`: the upstream answered, but not with what we can read.
pub(crate) fn malformed(what: &str, detail: impl Into<String>) -> FetchError {
    FetchError::new(
        ErrorClass::Permanent,
        format!("malformed upstream response: {what}"),
    )
    .with_detail(detail)
}

/// A short, single-line excerpt of a body for error details.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn statuses_map_to_classes() {
        let h = HeaderMap::new();
        let class = |code: u16| {
            status_error(
                StatusCode::from_u16(code).expect("status"),
                &h,
                ErrorClass::AuthRequired,
            )
            .map(|e| e.class)
        };
        assert_eq!(class(200), None);
        assert_eq!(class(404), Some(ErrorClass::Permanent));
        assert_eq!(class(410), Some(ErrorClass::Permanent));
        assert_eq!(class(401), Some(ErrorClass::AuthRequired));
        assert_eq!(class(403), Some(ErrorClass::AuthRequired));
        assert_eq!(class(429), Some(ErrorClass::RateLimited));
        assert_eq!(class(503), Some(ErrorClass::Retryable));
        assert_eq!(class(400), Some(ErrorClass::Permanent));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }
}
