//! Downloading the media files an item refers to, for the archive.
//!
//! Three ways in:
//! - [`MediaFetcher::get_bytes`]: a small file (an image) into memory.
//! - [`MediaFetcher::download`]: a file of any size streamed to disk while
//!   it is hashed; never the whole body in memory.
//! - [`MediaFetcher::ytdlp_download`]: a video behind a page (or a stream
//!   format) that only yt-dlp knows how to get.
//!
//! Media URLs come from upstream documents, so every HTTP request is
//! guarded like a user-supplied page (the SSRF literal check and the
//! public-only resolver; hosts the operator overrides skip it), and no
//! platform cookie is ever sent to a media CDN. Redirects are followed by
//! the shared client, by hand, each hop rewritten by the upstream overrides.
//!
//! Timeouts:
//! - connect: `FetchConfig::connect_timeout` (10 s by default);
//! - between two reads (response head, then each body chunk):
//!   [`MEDIA_READ_TIMEOUT`], 30 s — a stalled transfer fails as
//!   `Retryable`, a slow one does not;
//! - whole request: [`IMAGE_TIMEOUT`], 120 s per hop, for `get_bytes` only;
//!   `download` has none (a large video takes minutes on a slow CDN);
//! - yt-dlp (through [`crate::ytdlp`], behind the guard proxy):
//!   `--socket-timeout 30`, `--retries 3`, and the whole run killed
//!   after [`YTDLP_DOWNLOAD_TIMEOUT`] (1 h; see
//!   [`MediaFetcher::with_ytdlp_timeout`]).
//!
//! Files are created with unique names inside the caller's directory and
//! handed over: the caller moves or deletes them. Partial files never
//! survive an error or a cancelled future.
//!
//! Layout:
//! - `download`: `get_bytes` and the streamed, hashed `download`;
//! - `ytdlp`: `ytdlp_download`, on top of the shared driver [`crate::ytdlp`];
//! - `headers`: the per-CDN Referer ([`default_media_headers`]) and which
//!   of an adapter's headers a media request keeps.

mod download;
mod headers;
mod ytdlp;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use url::Url;
use vaultstream_core::parsed::FetchError;

use crate::http::UpstreamOverrides;
use crate::http::client::HttpClient;
use crate::http::config::FetchConfig;
use crate::ytdlp::YtDlp;

pub use headers::default_media_headers;

/// Longest wait for the next bytes of a media response (its head, then each
/// chunk of its body).
pub const MEDIA_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Whole request (per redirect hop) for [`MediaFetcher::get_bytes`].
pub const IMAGE_TIMEOUT: Duration = Duration::from_secs(120);
/// Default limit on a whole yt-dlp download run.
pub const YTDLP_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How much of the start of a file [`Download::head`] holds.
const HEAD_BYTES: usize = 4096;

/// A body read into memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// The response's `Content-Type`, as sent.
    pub content_type: Option<String>,
    /// The logical URL of the last redirect hop.
    pub final_url: String,
}

/// A file written into the caller's directory; the caller owns it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Download {
    pub path: PathBuf,
    pub bytes: u64,
    /// SHA-256 of the file, 64 lowercase hex digits.
    pub sha256: String,
    /// The response's `Content-Type` (HTTP), or one derived from the file
    /// extension yt-dlp chose.
    pub content_type: Option<String>,
    /// The logical URL of the last redirect hop (HTTP), or the URL given to
    /// [`MediaFetcher::ytdlp_download`].
    pub final_url: String,
    /// The first ≤ 4096 bytes, for sniffing the real type.
    pub head: Vec<u8>,
}

/// Downloads media. Cheap to clone (one `Arc`).
#[derive(Clone, Debug)]
pub struct MediaFetcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: HttpClient,
    overrides: UpstreamOverrides,
    allow_private_targets: bool,
    ytdlp: YtDlp,
    ytdlp_timeout: Duration,
}

impl MediaFetcher {
    /// The same overrides, User-Agent and `allow_private_targets` as
    /// [`crate::fetch::Fetcher::from_settings`]; `s.ytdlp` is the yt-dlp program.
    pub fn from_settings(s: &vaultstream_core::Settings) -> Self {
        Self::new(&FetchConfig::from_settings(s), s.ytdlp.clone())
    }

    pub fn new(cfg: &FetchConfig, ytdlp: impl Into<String>) -> Self {
        // Media requests never carry a platform's cookie: leave them out of
        // this client altogether.
        let cfg = FetchConfig {
            cookies: BTreeMap::new(),
            logins: crate::logins::LoginCookies::default(),
            ytdlp: ytdlp.into(),
            ..cfg.clone()
        };
        Self {
            inner: Arc::new(Inner {
                http: HttpClient::streaming(&cfg, MEDIA_READ_TIMEOUT),
                overrides: cfg.overrides.clone(),
                allow_private_targets: cfg.allow_private_targets,
                ytdlp: YtDlp::from_config(&cfg),
                ytdlp_timeout: YTDLP_DOWNLOAD_TIMEOUT,
            }),
        }
    }

    /// Replace the limit on a whole yt-dlp run ([`YTDLP_DOWNLOAD_TIMEOUT`]).
    pub fn with_ytdlp_timeout(self, limit: Duration) -> Self {
        let inner = Inner {
            http: self.inner.http.clone(),
            overrides: self.inner.overrides.clone(),
            allow_private_targets: self.inner.allow_private_targets,
            ytdlp: self.inner.ytdlp.clone(),
            ytdlp_timeout: limit,
        };
        Self {
            inner: Arc::new(inner),
        }
    }
}

fn parse_media_url(url: &str) -> Result<Url, FetchError> {
    let parsed = Url::parse(url.trim()).map_err(|e| {
        FetchError::permanent(format!("`{url}` is not a media URL: {e}")).with_source(e)
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FetchError::permanent(format!(
            "`{}:` media URLs cannot be downloaded",
            parsed.scheme()
        )));
    }
    Ok(parsed)
}

fn host_of(url: &Url) -> &str {
    url.host_str().unwrap_or("the media host")
}

fn file_error(dir: &Path, e: std::io::Error) -> FetchError {
    FetchError::retryable(format!(
        "cannot write the media file in {}: {e}",
        dir.display()
    ))
    .with_source(e)
}
