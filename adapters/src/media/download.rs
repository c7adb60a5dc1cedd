//! Media over our own HTTP client: a small file into memory, or a file of
//! any size streamed to disk while it is hashed.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;
use vaultstream_core::parsed::FetchError;

use super::headers::merged_headers;
use super::{
    Download, Fetched, HEAD_BYTES, IMAGE_TIMEOUT, MediaFetcher, file_error, host_of,
    parse_media_url,
};
use crate::http::client::{Get, declared_length, read_capped, transport_error};
use crate::http::status::retry_after;

const IMAGE_ACCEPT: &str = "image/avif,image/webp,image/*,*/*;q=0.8";
const ANY_ACCEPT: &str = "*/*";

impl MediaFetcher {
    /// GET `url` into memory, at most `max_bytes` (Content-Length checked
    /// first, then counted while reading). For images.
    pub async fn get_bytes(
        &self,
        url: &str,
        headers: &BTreeMap<String, String>,
        max_bytes: u64,
    ) -> Result<Fetched, FetchError> {
        let mut get = request(url, headers, IMAGE_ACCEPT)?;
        get.timeout = Some(IMAGE_TIMEOUT);
        let (response, final_url) = self.inner.http.send(&get).await?;
        check_status(response.status(), response.headers(), &final_url)?;
        let content_type = content_type(response.headers());
        let bytes = read_capped(response, &final_url, max_bytes).await?;
        Ok(Fetched {
            bytes,
            content_type,
            final_url: final_url.into(),
        })
    }

    /// GET `url`, streaming the body into a new file inside `dir` while
    /// hashing it; never the whole body in memory. More than `max_bytes`
    /// (declared or received) is a `Permanent` "too large" error, and the
    /// partial file is deleted.
    pub async fn download(
        &self,
        url: &str,
        headers: &BTreeMap<String, String>,
        dir: &Path,
        max_bytes: u64,
    ) -> Result<Download, FetchError> {
        let get = request(url, headers, ANY_ACCEPT)?;
        let (mut response, final_url) = self.inner.http.send(&get).await?;
        check_status(response.status(), response.headers(), &final_url)?;
        let too_large = |size: String| {
            FetchError::too_large(format!(
                "the media at {} is too large ({size} bytes, limit {max_bytes})",
                host_of(&final_url)
            ))
            .with_detail(final_url.to_string())
        };
        if let Some(len) = declared_length(response.headers()).filter(|len| *len > max_bytes) {
            return Err(too_large(len.to_string()));
        }
        let content_type = content_type(response.headers());

        // Deleted when dropped: on every error below, and if this future is
        // dropped half-way.
        let temp = tempfile::Builder::new()
            .prefix("vaultstream-media-")
            .tempfile_in(dir)
            .map_err(|e| file_error(dir, e))?;
        let std_file = temp.as_file().try_clone().map_err(|e| file_error(dir, e))?;
        let mut file = tokio::fs::File::from_std(std_file);
        let mut hashing = Hashing::default();
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(transport_error(&final_url, e)),
            };
            if !hashing.update(&chunk, max_bytes) {
                return Err(too_large(format!("more than {max_bytes}")));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| file_error(dir, e))?;
        }
        file.flush().await.map_err(|e| file_error(dir, e))?;
        file.sync_all().await.map_err(|e| file_error(dir, e))?;
        drop(file);
        let path = temp
            .into_temp_path()
            .keep()
            .map_err(|e| file_error(dir, e.error))?;
        let (bytes, sha256, head) = hashing.finish();
        tracing::debug!(
            url = %final_url,
            bytes,
            path = %path.display(),
            "media downloaded"
        );
        Ok(Download {
            path,
            bytes,
            sha256,
            content_type,
            final_url: final_url.into(),
            head,
        })
    }
}

/// Size, SHA-256 and the first [`HEAD_BYTES`] of a file, taken as its
/// bytes pass (content addressing while streaming: the file is never read
/// twice, nor held whole in memory).
#[derive(Default)]
pub(super) struct Hashing {
    hasher: Sha256,
    head: Vec<u8>,
    bytes: u64,
}

impl Hashing {
    /// Take the next chunk; `false` (and the chunk left out) when it would
    /// pass `max_bytes`.
    pub(super) fn update(&mut self, chunk: &[u8], max_bytes: u64) -> bool {
        let total = self.bytes + chunk.len() as u64;
        if total > max_bytes {
            return false;
        }
        self.bytes = total;
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        true
    }

    /// Size, SHA-256 (64 lowercase hex digits) and head.
    pub(super) fn finish(self) -> (u64, String, Vec<u8>) {
        (self.bytes, hex::encode(self.hasher.finalize()), self.head)
    }
}

/// A guarded GET for a media URL, with the merged header policy.
fn request(
    url: &str,
    headers: &BTreeMap<String, String>,
    accept: &'static str,
) -> Result<Get, FetchError> {
    let url = parse_media_url(url)?;
    let mut get = Get::media(url.clone(), accept);
    for (name, value) in merged_headers(&url, headers) {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| FetchError::permanent(format!("invalid media request header `{name}`")))?;
        get.headers.push((name, value));
    }
    Ok(get)
}

/// Status → error for a media response: any 4xx but 408/429 is permanent
/// (a CDN's 401/403 is an expired or refused link, not a login wall).
fn check_status(status: StatusCode, headers: &HeaderMap, url: &Url) -> Result<(), FetchError> {
    let code = status.as_u16();
    let host = host_of(url);
    let err = match code {
        200..=299 => return Ok(()),
        429 => FetchError::rate_limited(
            format!("{host} is rate limiting media downloads (HTTP {code})"),
            retry_after(headers),
        ),
        408 | 500..=599 => FetchError {
            retry_after: retry_after(headers),
            ..FetchError::retryable(format!("{host} failed to serve the media (HTTP {code})"))
        },
        404 | 410 => FetchError::permanent(format!("the media is gone from {host} (HTTP {code})")),
        _ => FetchError::permanent(format!("{host} refused the media request (HTTP {code})")),
    };
    Err(err.with_detail(format!("HTTP {status} from {url}")))
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    #[test]
    fn media_statuses() {
        let h = HeaderMap::new();
        let u = url("https://i0.hdslb.com/x.jpg");
        let class = |code: u16| {
            check_status(StatusCode::from_u16(code).expect("status"), &h, &u)
                .err()
                .map(|e| e.class)
        };
        use vaultstream_core::parsed::ErrorClass;
        assert_eq!(class(200), None);
        for code in [400, 401, 403, 404, 410] {
            assert_eq!(class(code), Some(ErrorClass::Permanent), "{code}");
        }
        assert_eq!(class(429), Some(ErrorClass::RateLimited));
        assert_eq!(class(500), Some(ErrorClass::Retryable));
        assert_eq!(class(503), Some(ErrorClass::Retryable));
        let err = check_status(StatusCode::NOT_FOUND, &h, &u).expect_err("404");
        assert!(
            err.message.contains("404") && err.message.contains("i0.hdslb.com"),
            "{err:?}"
        );
    }

    #[test]
    fn hashing_stops_at_the_limit() {
        let mut h = Hashing::default();
        assert!(h.update(b"abc", 5));
        assert!(!h.update(b"def", 5));
        let (bytes, sha256, head) = h.finish();
        assert_eq!(bytes, 3);
        assert_eq!(head, b"abc");
        assert_eq!(
            sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
