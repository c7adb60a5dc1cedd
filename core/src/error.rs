//! Error codes: the stable, machine-readable words of the API contract.
//!
//! Each code maps to exactly one HTTP status here, in one `match`, so the
//! REST API, the CLI and the bot agree on what went wrong. The human message
//! travels beside the code; the `anyhow` chain of the cause is logged once,
//! where the error is handled (see `api::error`).

use std::fmt;

use serde::Serialize;

use crate::status::string_enum;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    // -- submissions -------------------------------------------------------
    /// The submitted text is empty or only white space.
    EmptyInput,
    /// The text holds no http(s) link.
    NoLinkFound,
    /// The link uses a scheme other than http or https.
    UnsupportedScheme,
    /// The link points at loopback, private, link-local, metadata or other
    /// non-public addresses.
    ForbiddenTarget,
    /// The link cannot be parsed as a URL (bad host, bad port, ...).
    InvalidUrl,
    /// The link is longer than we store.
    UrlTooLong,
    /// A short link (b23.tv, t.co, ...) could not be resolved to content.
    ShortLinkUnresolved,
    /// A tag is empty, too long, has control characters, or there are too many.
    InvalidTag,
    // -- requests ----------------------------------------------------------
    /// The body is not valid JSON.
    InvalidJson,
    /// The JSON is valid but does not have the expected shape.
    InvalidBody,
    /// The body is larger than the route accepts.
    PayloadTooLarge,
    /// A batch holds more items than the route takes at once.
    BatchTooLarge,
    /// The body is not JSON (wrong Content-Type).
    UnsupportedMediaType,
    /// A path or query parameter has a bad value.
    InvalidParameter,
    /// The list cursor is not one this server handed out.
    InvalidCursor,
    /// A search query with bad syntax; the message says where.
    InvalidQuery,
    /// No such item or route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The request cannot be done in the item's current state.
    Conflict,
    /// No credentials, or unknown credentials.
    Unauthenticated,
    /// Credentials are valid but lack the needed role.
    Forbidden,
    /// Too many requests; retry after the `Retry-After` header.
    RateLimited,
    /// The `Range` asked for lies outside the blob.
    RangeNotSatisfiable,
    // -- server side -------------------------------------------------------
    /// A dependency (database, queue, store) is unavailable right now.
    ServiceUnavailable,
    /// A bug or unexpected failure; details are in the server log.
    Internal,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 25] = [
        ErrorCode::EmptyInput,
        ErrorCode::NoLinkFound,
        ErrorCode::UnsupportedScheme,
        ErrorCode::ForbiddenTarget,
        ErrorCode::InvalidUrl,
        ErrorCode::UrlTooLong,
        ErrorCode::ShortLinkUnresolved,
        ErrorCode::InvalidTag,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidBody,
        ErrorCode::PayloadTooLarge,
        ErrorCode::BatchTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::InvalidParameter,
        ErrorCode::InvalidCursor,
        ErrorCode::InvalidQuery,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
        ErrorCode::RangeNotSatisfiable,
        ErrorCode::ServiceUnavailable,
        ErrorCode::Internal,
    ];

    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            EmptyInput | NoLinkFound | UnsupportedScheme | InvalidUrl | InvalidJson
            | InvalidParameter | InvalidCursor | InvalidQuery | BatchTooLarge => 400,
            ForbiddenTarget | ShortLinkUnresolved | InvalidTag | InvalidBody | UrlTooLong => 422,
            PayloadTooLarge => 413,
            UnsupportedMediaType => 415,
            NotFound => 404,
            MethodNotAllowed => 405,
            Conflict => 409,
            Unauthenticated => 401,
            Forbidden => 403,
            RateLimited => 429,
            RangeNotSatisfiable => 416,
            ServiceUnavailable => 503,
            Internal => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            EmptyInput => "empty_input",
            NoLinkFound => "no_link_found",
            UnsupportedScheme => "unsupported_scheme",
            ForbiddenTarget => "forbidden_target",
            InvalidUrl => "invalid_url",
            UrlTooLong => "url_too_long",
            ShortLinkUnresolved => "short_link_unresolved",
            InvalidTag => "invalid_tag",
            InvalidJson => "invalid_json",
            InvalidBody => "invalid_body",
            PayloadTooLarge => "payload_too_large",
            BatchTooLarge => "batch_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            InvalidParameter => "invalid_parameter",
            InvalidCursor => "invalid_cursor",
            InvalidQuery => "invalid_query",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            Conflict => "conflict",
            Unauthenticated => "unauthenticated",
            Forbidden => "forbidden",
            RateLimited => "rate_limited",
            RangeNotSatisfiable => "range_not_satisfiable",
            ServiceUnavailable => "service_unavailable",
            Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a user can act on: a code from the contract and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct UserError {
    pub code: ErrorCode,
    pub message: String,
}

impl UserError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

string_enum! {
    /// Why one media file was not archived (`media[].error.code`): a stable
    /// word beside the error class (`error_type`) that says whether it is
    /// retried. README's list of per-media errors is checked against this.
    pub enum MediaErrorCode {
        /// The download failed (404, 403, network…).
        DownloadFailed = "download_failed",
        /// Larger than the media size limit.
        TooLarge = "too_large",
        /// Not an image (e.g. an HTML login page served as `image/jpeg`).
        NotAnImage = "not_an_image",
        CorruptImage = "corrupt_image",
        /// More pixels than `VAULTSTREAM_MEDIA_MAX_PIXELS`.
        ImageTooLarge = "image_too_large",
        UnsupportedImage = "unsupported_image",
        EncodeFailed = "encode_failed",
        /// The download is not a video container we recognise.
        NotAVideo = "not_a_video",
        YtdlpFailed = "ytdlp_failed",
        /// The blob store is down or refuses (retried).
        StoreFailed = "store_failed",
        /// Our own side failed (the database; retried).
        Internal = "internal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn user_input_codes_are_4xx() {
        for code in ErrorCode::ALL {
            let status = code.http_status();
            let server_side = matches!(code, ErrorCode::ServiceUnavailable | ErrorCode::Internal);
            assert_eq!(status >= 500, server_side, "{code} -> {status}");
        }
    }
}

#[cfg(test)]
mod media_error_tests {
    use super::MediaErrorCode;

    /// README's "Per-media errors" paragraph lists exactly these codes, in
    /// this order.
    #[test]
    fn readme_lists_every_media_error_code() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
        let start = readme
            .find("(`media[].error.code`):")
            .expect("README's per-media errors paragraph");
        let rest = &readme[start + "(`media[].error.code`):".len()..];
        let list = &rest[..rest.find("`POST").expect("the paragraph's next sentence")];
        let listed: Vec<&str> = list
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
            .collect();
        let codes: Vec<&str> = MediaErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, codes, "README.md, Media archive, Per-media errors");
    }
}
