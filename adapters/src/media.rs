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

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use url::Url;
use vaultstream_core::parsed::FetchError;

use crate::fetch::FetchConfig;
use crate::fetch::client::{
    Get, HttpClient, declared_length, read_capped, retry_after, transport_error,
};
use crate::http::UpstreamOverrides;
use crate::links::target;
use crate::ytdlp::YtDlp;

/// Longest wait for the next bytes of a media response (its head, then each
/// chunk of its body).
pub const MEDIA_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Whole request (per redirect hop) for [`MediaFetcher::get_bytes`].
pub const IMAGE_TIMEOUT: Duration = Duration::from_secs(120);
/// Default limit on a whole yt-dlp download run.
pub const YTDLP_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// yt-dlp's `--socket-timeout`, seconds.
const YTDLP_SOCKET_TIMEOUT_SECS: &str = "30";
/// yt-dlp's `--retries` and `--fragment-retries`.
const YTDLP_RETRIES: &str = "3";
/// How much of the start of a file [`Download::head`] holds.
const HEAD_BYTES: usize = 4096;

const IMAGE_ACCEPT: &str = "image/avif,image/webp,image/*,*/*;q=0.8";
const ANY_ACCEPT: &str = "*/*";
/// Marks our progress lines on yt-dlp's stdout (the final path is the only
/// other line there).
const PROGRESS_MARK: &str = "vaultstream-progress ";

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

    /// GET `url` into memory, at most `max_bytes` (Content-Length checked
    /// first, then counted while reading). For images.
    pub async fn get_bytes(
        &self,
        url: &str,
        headers: &BTreeMap<String, String>,
        max_bytes: u64,
    ) -> Result<Fetched, FetchError> {
        let mut get = self.request(url, headers, IMAGE_ACCEPT)?;
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
        let get = self.request(url, headers, ANY_ACCEPT)?;
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
            .map_err(|e| file_error(dir, &e))?;
        let std_file = temp
            .as_file()
            .try_clone()
            .map_err(|e| file_error(dir, &e))?;
        let mut file = tokio::fs::File::from_std(std_file);
        let mut hasher = Sha256::new();
        let mut head = Vec::new();
        let mut written: u64 = 0;
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(transport_error(&final_url, &e)),
            };
            written += chunk.len() as u64;
            if written > max_bytes {
                return Err(too_large(format!("more than {max_bytes}")));
            }
            if head.len() < HEAD_BYTES {
                let take = (HEAD_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| file_error(dir, &e))?;
        }
        file.flush().await.map_err(|e| file_error(dir, &e))?;
        file.sync_all().await.map_err(|e| file_error(dir, &e))?;
        drop(file);
        let path = temp
            .into_temp_path()
            .keep()
            .map_err(|e| file_error(dir, &e.error))?;
        tracing::debug!(
            url = %final_url,
            bytes = written,
            path = %path.display(),
            "media downloaded"
        );
        Ok(Download {
            path,
            bytes: written,
            sha256: hex::encode(hasher.finalize()),
            content_type,
            final_url: final_url.into(),
            head,
        })
    }

    /// Download a video through yt-dlp from a page URL (or a direct URL)
    /// into a new file inside `dir`, then hash it.
    ///
    /// The best single-file format is chosen (no ffmpeg merge), preferring
    /// one whose known size fits `max_bytes`. The URL handed to yt-dlp is
    /// rewritten by the upstream overrides; a URL whose host is not
    /// overridden gets the SSRF literal check at once, and every connection
    /// yt-dlp then makes (redirects, embedded media) passes the guard proxy
    /// of [`crate::ytdlp`]. Headers:
    /// [`default_media_headers`] with the caller's on top, as
    /// `--add-headers`. No cookie is passed.
    ///
    /// Failures are classified from yt-dlp's last `ERROR:` line (as for
    /// metadata). An exit 0 without a file (yt-dlp skips a file whose
    /// declared size exceeds `--max-filesize`), or a file that grew past
    /// `max_bytes`, is a `Permanent` "too large".
    pub async fn ytdlp_download(
        &self,
        url: &str,
        headers: &BTreeMap<String, String>,
        dir: &Path,
        max_bytes: u64,
    ) -> Result<Download, FetchError> {
        let logical = parse_media_url(url)?;
        let overridden = logical
            .host_str()
            .is_some_and(|h| self.inner.overrides.overrides_host(h));
        if !overridden && !self.inner.allow_private_targets {
            target::check(&logical)
                .map_err(|e| FetchError::permanent(format!("refused to fetch: {}", e.message)))?;
        }
        let wire = self
            .inner
            .overrides
            .rewrite(&logical)
            .unwrap_or_else(|| logical.clone());
        let too_large = || {
            FetchError::too_large(format!(
                "the video at {} is too large (limit {max_bytes} bytes)",
                host_of(&logical)
            ))
        };

        // yt-dlp works in a private directory inside `dir` (its `.part` and
        // fragment files included); dropping it removes whatever is left.
        let work = tempfile::Builder::new()
            .prefix(".vaultstream-ytdlp-")
            .tempdir_in(dir)
            .map_err(|e| file_error(dir, &e))?;
        let mut args: Vec<OsString> = vec![
            "--no-playlist".into(),
            "--no-mtime".into(),
            "-f".into(),
            format_spec(max_bytes).into(),
            "--max-filesize".into(),
            max_bytes.to_string().into(),
            "--socket-timeout".into(),
            YTDLP_SOCKET_TIMEOUT_SECS.into(),
            "--retries".into(),
            YTDLP_RETRIES.into(),
            "--fragment-retries".into(),
            YTDLP_RETRIES.into(),
            "-P".into(),
            prefixed_path("home:", work.path()),
            "-P".into(),
            prefixed_path("temp:", work.path()),
            "-o".into(),
            "media.%(ext)s".into(),
            // `--print` makes yt-dlp quiet; `--progress` brings the progress
            // lines back, in our format, so we can stop a download whose size
            // was not declared once it passes the limit.
            "--progress".into(),
            "--newline".into(),
            "--progress-template".into(),
            format!("download:{PROGRESS_MARK}%(progress.downloaded_bytes)s").into(),
            "--print".into(),
            "after_move:filepath".into(),
            "--no-simulate".into(),
        ];
        for (name, value) in merged_headers(&logical, headers) {
            if value.contains(['\r', '\n']) {
                continue;
            }
            args.push("--add-headers".into());
            args.push(format!("{name}:{value}").into());
        }
        args.push("--".into());
        args.push(wire.as_str().into());
        let run = self
            .inner
            .ytdlp
            .run(
                args,
                self.inner.ytdlp_timeout,
                "downloading",
                |stdout| async move {
                    let outcome = watch_stdout(stdout, max_bytes).await;
                    // Over the limit, or we cannot follow it: stop it now.
                    let stop = !matches!(outcome, Ok(Watched::Finished(_)));
                    (outcome, stop)
                },
            )
            .await?;
        let printed = match &run.out {
            Ok(Watched::TooLarge) => return Err(too_large()),
            Ok(Watched::Finished(printed)) => printed.clone(),
            Err(e) => {
                return Err(FetchError::retryable(format!(
                    "reading yt-dlp's output failed: {e}"
                )));
            }
        };
        if !run.status.success() {
            return Err(run.error());
        }
        // The printed path names a file in `work`; take only its name.
        let Some(name) = printed
            .as_deref()
            .and_then(|p| Path::new(p.trim()).file_name())
        else {
            return Err(too_large().with_detail(run.detail()));
        };
        let produced = work.path().join(name);
        if !produced.is_file() {
            return Err(too_large().with_detail(run.detail()));
        }
        let (bytes, sha256, head) = hash_file(&produced, max_bytes)
            .await
            .map_err(|e| file_error(dir, &e))?;
        let Some(bytes) = bytes else {
            return Err(too_large());
        };
        let ext = produced
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .filter(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric()));
        // Reserve a unique name in `dir`, then move the file over it (same
        // filesystem: `work` is inside `dir`).
        let suffix = ext.as_deref().map(|e| format!(".{e}")).unwrap_or_default();
        let reserved = tempfile::Builder::new()
            .prefix("vaultstream-video-")
            .suffix(&suffix)
            .tempfile_in(dir)
            .map_err(|e| file_error(dir, &e))?
            .into_temp_path();
        std::fs::rename(&produced, &reserved).map_err(|e| file_error(dir, &e))?;
        let path = reserved.keep().map_err(|e| file_error(dir, &e.error))?;
        drop(work);
        tracing::debug!(url = %logical, bytes, path = %path.display(), "video downloaded by yt-dlp");
        Ok(Download {
            path,
            bytes,
            sha256,
            content_type: ext
                .as_deref()
                .and_then(mime_for_extension)
                .map(str::to_owned),
            final_url: logical.into(),
            head,
        })
    }

    fn request(
        &self,
        url: &str,
        headers: &BTreeMap<String, String>,
        accept: &'static str,
    ) -> Result<Get, FetchError> {
        let url = parse_media_url(url)?;
        let mut get = Get::media(url.clone(), accept);
        for (name, value) in merged_headers(&url, headers) {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                FetchError::permanent(format!("invalid media request header `{name}`"))
            })?;
            get.headers.push((name, value));
        }
        Ok(get)
    }
}

/// Headers a media host needs when the adapter gave none: the Referer of
/// its platform for the CDNs that check it (a desktop User-Agent is sent
/// anyway, which is all they want of it). Explicit headers from the caller
/// win.
pub fn default_media_headers(url: &Url) -> Vec<(&'static str, &'static str)> {
    const REFERERS: &[(&str, &str)] = &[
        ("hdslb.com", "https://www.bilibili.com/"),
        ("bilivideo.com", "https://www.bilibili.com/"),
        ("bilivideo.cn", "https://www.bilibili.com/"),
        ("sinaimg.cn", "https://weibo.com/"),
        ("weibocdn.com", "https://weibo.com/"),
        ("xhscdn.com", "https://www.xiaohongshu.com/"),
        ("douyinpic.com", "https://www.douyin.com/"),
        ("douyinvod.com", "https://www.douyin.com/"),
        ("zjcdn.com", "https://www.douyin.com/"),
        ("zhimg.com", "https://www.zhihu.com/"),
    ];
    let Some(host) = url.host_str() else {
        return Vec::new();
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    REFERERS
        .iter()
        .find(|(domain, _)| {
            host == *domain
                || host
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.'))
        })
        .map(|(_, referer)| vec![("Referer", *referer)])
        .unwrap_or_default()
}

/// The caller's headers we pass on (others are dropped: a media request
/// carries no credentials, and the client owns Accept/Range/encoding).
const CALLER_HEADERS: [&str; 3] = ["referer", "user-agent", "origin"];

/// [`default_media_headers`] with the caller's Referer/User-Agent/Origin on
/// top (names compared case-insensitively), in a stable order.
fn merged_headers(url: &Url, explicit: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = default_media_headers(url)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for (name, value) in explicit {
        let lower = name.trim().to_ascii_lowercase();
        if !CALLER_HEADERS.contains(&lower.as_str()) {
            tracing::debug!(header = %lower, "media request header ignored");
            continue;
        }
        out.retain(|(k, _)| !k.eq_ignore_ascii_case(&lower));
        out.push((canonical_name(&lower).to_owned(), value.clone()));
    }
    out
}

fn canonical_name(lower: &str) -> &'static str {
    match lower {
        "referer" => "Referer",
        "user-agent" => "User-Agent",
        _ => "Origin",
    }
}

fn parse_media_url(url: &str) -> Result<Url, FetchError> {
    let parsed = Url::parse(url.trim())
        .map_err(|e| FetchError::permanent(format!("`{url}` is not a media URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(FetchError::permanent(format!(
            "`{}:` media URLs cannot be downloaded",
            parsed.scheme()
        )));
    }
    Ok(parsed)
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

fn host_of(url: &Url) -> &str {
    url.host_str().unwrap_or("the media host")
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn file_error(dir: &Path, e: &std::io::Error) -> FetchError {
    FetchError::retryable(format!(
        "cannot write the media file in {}: {e}",
        dir.display()
    ))
}

/// `home:<path>` for `-P`: with the type spelled out, a colon in the path
/// cannot be mistaken for one.
fn prefixed_path(kind: &str, path: &Path) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::from(kind);
    s.push(path.as_os_str());
    s
}

/// One file, no merge: a progressive (audio+video) format whose known size
/// fits, else the best progressive one (yt-dlp then skips it if it is too
/// large), else the best single file with video.
fn format_spec(max_bytes: u64) -> String {
    format!("b[filesize<=?{max_bytes}]/b/bv*[filesize<=?{max_bytes}]/bv*")
}

fn mime_for_extension(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "mov" => "video/quicktime",
        "flv" => "video/x-flv",
        "ts" => "video/mp2t",
        "3gp" => "video/3gpp",
        "m4a" => "audio/mp4",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        _ => return None,
    })
}

enum Watched {
    /// yt-dlp closed its stdout; the last non-progress line, if any.
    Finished(Option<String>),
    /// The progress passed the limit.
    TooLarge,
}

/// Follow yt-dlp's stdout: our progress lines, and the final path.
async fn watch_stdout(stdout: impl AsyncRead + Unpin, max_bytes: u64) -> std::io::Result<Watched> {
    let mut reader = BufReader::new(stdout);
    let mut printed = None;
    let mut raw = Vec::new();
    loop {
        raw.clear();
        if reader.read_until(b'\n', &mut raw).await? == 0 {
            break;
        }
        // Lossy: a path that is not UTF-8 must not fail the run (only its
        // file name, ours, is used).
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(progress) = line.strip_prefix(PROGRESS_MARK) {
            // `NA` when unknown; a float for some downloaders.
            let done = progress.trim().parse::<f64>().ok();
            if done.is_some_and(|d| d > max_bytes as f64) {
                return Ok(Watched::TooLarge);
            }
        } else if !line.trim().is_empty() {
            printed = Some(line.to_owned());
        }
    }
    Ok(Watched::Finished(printed))
}

/// Size, SHA-256 and head of a file, read in chunks. `None` for the size
/// when the file is larger than `max_bytes`.
async fn hash_file(path: &Path, max_bytes: u64) -> std::io::Result<(Option<u64>, String, Vec<u8>)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut total: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > max_bytes {
            return Ok((None, String::new(), Vec::new()));
        }
        if head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - head.len()).min(n);
            head.extend_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
    }
    Ok((Some(total), hex::encode(hasher.finalize()), head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    #[test]
    fn default_headers_per_cdn() {
        let referer = |u: &str| {
            default_media_headers(&url(u))
                .into_iter()
                .find(|(k, _)| *k == "Referer")
                .map(|(_, v)| v)
        };
        assert_eq!(
            referer("https://i0.hdslb.com/bfs/a.jpg"),
            Some("https://www.bilibili.com/")
        );
        assert_eq!(
            referer("https://upos-sz-mirrorcos.bilivideo.com/v.m4s"),
            Some("https://www.bilibili.com/")
        );
        assert_eq!(
            referer("https://wx1.SINAIMG.cn./large/x.jpg"),
            Some("https://weibo.com/")
        );
        assert_eq!(
            referer("https://sns-webpic-qc.xhscdn.com/x"),
            Some("https://www.xiaohongshu.com/")
        );
        assert_eq!(
            referer("https://p3-pc-sign.douyinpic.com/x"),
            Some("https://www.douyin.com/")
        );
        assert_eq!(
            referer("https://v26-web.douyinvod.com/x"),
            Some("https://www.douyin.com/")
        );
        assert_eq!(
            referer("https://v3-dy-o.zjcdn.com/x"),
            Some("https://www.douyin.com/")
        );
        assert_eq!(
            referer("https://pic1.zhimg.com/x.jpg"),
            Some("https://www.zhihu.com/")
        );
        assert_eq!(referer("https://pbs.twimg.com/media/x.jpg"), None);
        // A suffix match needs a label boundary.
        assert_eq!(referer("https://evilhdslb.com/x.jpg"), None);
    }

    #[test]
    fn explicit_headers_win_and_others_are_dropped() {
        let mut explicit = BTreeMap::new();
        explicit.insert("referer".to_owned(), "https://example.com/".to_owned());
        explicit.insert("Cookie".to_owned(), "a=b".to_owned());
        explicit.insert("User-Agent".to_owned(), "UA/1".to_owned());
        let mut merged = merged_headers(&url("https://i0.hdslb.com/x.jpg"), &explicit);
        merged.sort();
        assert_eq!(
            merged,
            vec![
                ("Referer".to_owned(), "https://example.com/".to_owned()),
                ("User-Agent".to_owned(), "UA/1".to_owned()),
            ]
        );
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
}
