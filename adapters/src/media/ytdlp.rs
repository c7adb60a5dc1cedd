//! Media through yt-dlp: a video behind a page (or a stream format) that
//! only yt-dlp knows how to get, run by the one driver of [`crate::ytdlp`]
//! (guard proxy, time limit, error classification) and hashed once it is on
//! disk.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use vaultstream_core::parsed::FetchError;

use super::download::Hashing;
use super::headers::merged_headers;
use super::{Download, MediaFetcher, file_error, host_of, parse_media_url};
use crate::http::guard;

/// yt-dlp's `--socket-timeout`, seconds.
const YTDLP_SOCKET_TIMEOUT_SECS: &str = "30";
/// yt-dlp's `--retries` and `--fragment-retries`.
const YTDLP_RETRIES: &str = "3";
/// Marks our progress lines on yt-dlp's stdout (the final path is the only
/// other line there).
const PROGRESS_MARK: &str = "vaultstream-progress ";

impl MediaFetcher {
    /// Download a video through yt-dlp from a page URL (or a direct URL)
    /// into a new file inside `dir`, then hash it.
    ///
    /// The best single-file format is chosen (no ffmpeg merge), preferring
    /// one whose known size fits `max_bytes`. The URL handed to yt-dlp is
    /// rewritten by the upstream overrides; a URL whose host is not
    /// overridden gets the SSRF literal check at once, and every connection
    /// yt-dlp then makes (redirects, embedded media) passes the guard proxy
    /// of [`crate::ytdlp`]. Headers:
    /// [`super::default_media_headers`] with the caller's on top, as
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
            guard::check_url(&logical)?;
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
            .map_err(|e| file_error(dir, e))?;
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
        let Some((bytes, sha256, head)) = hash_file(&produced, max_bytes)
            .await
            .map_err(|e| file_error(dir, e))?
        else {
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
            .map_err(|e| file_error(dir, e))?
            .into_temp_path();
        std::fs::rename(&produced, &reserved).map_err(|e| file_error(dir, e))?;
        let path = reserved.keep().map_err(|e| file_error(dir, e.error))?;
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

/// Size, SHA-256 and head of a file, read in chunks. `None` when the file
/// is larger than `max_bytes`.
async fn hash_file(path: &Path, max_bytes: u64) -> std::io::Result<Option<(u64, String, Vec<u8>)>> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hashing = Hashing::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if !hashing.update(&buf[..n], max_bytes) {
            return Ok(None);
        }
    }
    Ok(Some(hashing.finish()))
}
