//! YouTube (and anything else yt-dlp understands): run
//! `<ytdlp> --no-config -J …` and read its info dict.
//!
//! yt-dlp runs through [`crate::ytdlp`]: every connection it makes passes
//! the guard proxy, the run is bounded in time, and a failure is classified
//! from its last `ERROR:` line. The upstream overrides rewrite the URL we
//! hand it (the page host) and route plain-HTTP requests. The
//! operator's YouTube cookie reaches yt-dlp as a private temporary Netscape
//! cookie file, deleted after the run.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use url::Url;
use vaultstream_core::parsed::{FetchError, MediaRef, MediaRole, ParsedAuthor, ParsedItem};
use vaultstream_core::{ContentKind, Platform};

use super::value::{
    array_at, f64_at, first_str, int_at, parse_iso, stat, str_at, u32_at, unix_secs,
};
use super::{Adapter, Ctx, FetchRequest, html, malformed, media};
use crate::ytdlp::YtDlp;
pub use crate::ytdlp::classify_error;

pub(crate) struct Youtube;

#[async_trait]
impl Adapter for Youtube {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let id = req.identity.platform_id.as_str();
        if id.len() != 11
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(FetchError::permanent(format!(
                "`{id}` is not a YouTube video id"
            )));
        }
        let logical =
            Url::parse(&format!("https://www.youtube.com/watch?v={id}")).map_err(|e| {
                FetchError::permanent(format!("cannot build the watch URL: {e}")).with_source(e)
            })?;
        let url = ctx.http.overrides().rewrite(&logical).unwrap_or(logical);
        // yt-dlp reads cookies from a Netscape file, not a header: write the
        // operator's cookie to a private temporary file for this run only
        // (never to the command line, where `ps` would show it).
        ctx.cfg.logins.fresh().await;
        let cookie_file = match ctx.cfg.cookie(Platform::Youtube) {
            Some(c) => Some(CookieFile::write(c.expose(), ".youtube.com")?),
            None => None,
        };
        let info = run_json(
            &ctx.ytdlp,
            url.as_str(),
            ctx.cfg.ytdlp_timeout,
            cookie_file.as_ref().map(|f| f.path.as_path()),
        )
        .await?;
        parse_info(&info)
    }
}

/// Largest `-J` output we accept (a YouTube info dict is ~0.5–1 MB).
const MAX_OUTPUT_BYTES: usize = 32 * 1024 * 1024;

/// Run `yt-dlp -J --socket-timeout 15 --no-playlist -- <url>` (through the
/// driver: guard proxy, time limit) and parse its stdout.
pub async fn dump_json(ytdlp: &YtDlp, url: &str, limit: Duration) -> Result<Value, FetchError> {
    run_json(ytdlp, url, limit, None).await
}

async fn run_json(
    ytdlp: &YtDlp,
    url: &str,
    limit: Duration,
    cookies: Option<&Path>,
) -> Result<Value, FetchError> {
    let mut args: Vec<OsString> = Vec::new();
    if let Some(path) = cookies {
        args.push("--cookies".into());
        args.push(path.into());
    }
    args.extend(["-J", "--socket-timeout", "15", "--no-playlist", "--", url].map(OsString::from));
    let run = ytdlp
        .run(args, limit, "reading the page", |mut stdout| async move {
            let mut out = Vec::new();
            let read = (&mut stdout)
                .take(MAX_OUTPUT_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .await;
            (read.map(|_| out), false)
        })
        .await?;
    if !run.status.success() {
        return Err(run.error());
    }
    let out = run
        .out
        .as_ref()
        .map_err(|e| FetchError::retryable(format!("reading yt-dlp's output failed: {e}")))?;
    if out.len() > MAX_OUTPUT_BYTES {
        return Err(FetchError::permanent("yt-dlp's info dict is too large"));
    }
    serde_json::from_slice(out).map_err(|e| {
        malformed(
            &format!("yt-dlp's -J output is not JSON ({e})"),
            run.detail(),
        )
        .with_source(e)
    })
}

/// A Netscape cookie file holding one `Cookie` header's pairs, removed when
/// dropped.
struct CookieFile {
    path: PathBuf,
}

impl CookieFile {
    fn write(header: &str, domain: &str) -> Result<Self, FetchError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut body = String::from("# Netscape HTTP Cookie File\n");
        for pair in header.split(';') {
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() || name.contains(['\t', '\n']) || value.contains(['\t', '\n']) {
                continue;
            }
            // Far-future expiry: a session cookie (0) may be dropped on load.
            body.push_str(&format!(
                "{domain}\tTRUE\t/\tTRUE\t2147483647\t{name}\t{value}\n"
            ));
        }
        let unique = format!(
            "vaultstream-cookies-{}-{}.txt",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let written = options
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, body.as_bytes()));
        match written {
            Ok(()) => Ok(Self { path }),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                Err(FetchError::retryable(format!(
                    "cannot write the cookie file for yt-dlp: {e}"
                )))
            }
        }
    }
}

impl Drop for CookieFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A yt-dlp info dict → item. `formats`, `automatic_captions` and the like
/// stay in `raw` except fragment lists, which are large and expire anyway.
pub fn parse_info(info: &Value) -> Result<ParsedItem, FetchError> {
    if !info.is_object() {
        return Err(malformed("yt-dlp's info dict is not an object", ""));
    }
    if str_at(info, "/_type").is_some_and(|t| t == "playlist") {
        return Err(FetchError::permanent(
            "the URL is a playlist, not one video",
        ));
    }
    let id = str_at(info, "/id").ok_or_else(|| malformed("yt-dlp's info dict has no `id`", ""))?;
    let mut media_list: Vec<MediaRef> = Vec::new();
    // yt-dlp orders thumbnails worst → best; `thumbnail` is its pick.
    let thumb = str_at(info, "/thumbnail").or_else(|| {
        array_at(info, "/thumbnails")
            .iter()
            .rev()
            .find_map(|t| str_at(t, "/url"))
    });
    if let Some(t) = thumb {
        media_list.push(media(MediaRole::Cover, t));
    }
    if let Some(v) = video(info) {
        media_list.push(v);
    }
    let mut stats = Default::default();
    stat(&mut stats, "views", int_at(info, "/view_count"));
    stat(&mut stats, "likes", int_at(info, "/like_count"));
    stat(&mut stats, "comments", int_at(info, "/comment_count"));
    let text = str_at(info, "/description");
    let uploader_id = first_str(info, &["/channel_id", "/uploader_id"]);
    let name = first_str(info, &["/uploader", "/channel"]);
    let published = int_at(info, "/timestamp").and_then(unix_secs).or_else(|| {
        let d = str_at(info, "/upload_date")?;
        let (y, rest) = d.split_at_checked(4)?;
        let (m, day) = rest.split_at_checked(2)?;
        parse_iso(&format!("{y}-{m}-{day}"))
    });
    let mut raw = info.clone();
    if let Some(formats) = raw.get_mut("formats").and_then(Value::as_array_mut) {
        for f in formats.iter_mut().filter_map(Value::as_object_mut) {
            f.remove("fragments");
        }
    }
    Ok(ParsedItem {
        kind: Some(ContentKind::Video),
        title: first_str(info, &["/title", "/fulltitle"]),
        html: text.as_deref().map(html::text_to_html),
        text,
        author: (name.is_some() || uploader_id.is_some()).then(|| ParsedAuthor {
            name,
            url: first_str(info, &["/channel_url", "/uploader_url"]),
            id: uploader_id,
            avatar_url: None,
        }),
        published_at: published,
        stats,
        tags: array_at(info, "/tags")
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        canonical_url: str_at(info, "/webpage_url").or_else(|| {
            (str_at(info, "/extractor_key").as_deref() == Some("Youtube"))
                .then(|| format!("https://www.youtube.com/watch?v={id}"))
        }),
        media: media_list,
        quoted: None,
        parts: Vec::new(),
        fields: Default::default(),
        raw,
    })
}

/// The chosen format when it is one file; else the best progressive
/// (audio+video) HTTP format. Merged DASH picks have no single URL: the
/// media step should then download through yt-dlp itself.
fn video(info: &Value) -> Option<MediaRef> {
    let single = str_at(info, "/url").map(|u| (u, info));
    let progressive = || {
        array_at(info, "/formats")
            .iter()
            .rev()
            .filter(|f| {
                let proto = str_at(f, "/protocol").unwrap_or_default();
                let has = |k: &str| str_at(f, k).is_none_or(|c| c != "none");
                (proto == "http" || proto == "https") && has("/vcodec") && has("/acodec")
            })
            .find_map(|f| str_at(f, "/url").map(|u| (u, f)))
    };
    let (url, f) = single.or_else(progressive)?;
    let mut v = media(MediaRole::Video, url);
    v.width = u32_at(f, "/width");
    v.height = u32_at(f, "/height");
    v.duration_secs = f64_at(info, "/duration");
    v.mime = str_at(f, "/ext").map(|e| match e.as_str() {
        "mp4" | "m4v" => "video/mp4".to_owned(),
        "webm" => "video/webm".to_owned(),
        other => format!("video/{other}"),
    });
    // yt-dlp tells which headers the media host expects (Referer, UA).
    if let Some(h) = f.get("http_headers").and_then(Value::as_object) {
        for (k, val) in h {
            if let Some(s) = val.as_str()
                && matches!(
                    k.to_ascii_lowercase().as_str(),
                    "referer" | "user-agent" | "origin"
                )
            {
                v.headers.insert(k.clone(), s.to_owned());
            }
        }
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaultstream_core::parsed::ErrorClass;

    #[test]
    fn classifies_error_lines() {
        let c = |s: &str| classify_error(s).class;
        assert_eq!(
            c("ERROR: [youtube] x: HTTP Error 429: Too Many Requests"),
            ErrorClass::RateLimited
        );
        assert_eq!(
            c("ERROR: Unable to download webpage: HTTP Error 503: Service Unavailable"),
            ErrorClass::Retryable
        );
        assert_eq!(
            c(
                "ERROR: [generic] Unable to download webpage: <urlopen error [Errno 111] Connection refused>"
            ),
            ErrorClass::Retryable
        );
        assert_eq!(
            c("ERROR: [generic] Unable to download webpage: HTTP Error 404: Not Found"),
            ErrorClass::Permanent
        );
        assert_eq!(
            c("ERROR: Unsupported URL: https://example.com/"),
            ErrorClass::Permanent
        );
        assert_eq!(
            c("ERROR: [youtube] abc: Video unavailable. This video is private"),
            ErrorClass::Permanent
        );
        assert_eq!(
            c("ERROR: [youtube] abc: Sign in to confirm your age"),
            ErrorClass::AuthRequired
        );
        assert_eq!(
            c("WARNING: x\nERROR: 'nope' is not a valid URL"),
            ErrorClass::Permanent
        );
    }
}
