//! The media job: archive one media file of a pulled item.
//!
//! Flow for one message `MediaJob { media_id }`:
//! 1. claim the row's lease (`db::media::claim`); nothing to claim → stale
//!    (or early: rescheduled);
//! 2. reuse: another row already archived from the same URL → point at its
//!    blob, no download;
//! 3. images: download into memory (byte cap), reuse the blob the same
//!    source bytes already produced, else sniff, decode with pixel limits
//!    and encode WebP (in `spawn_blocking`) → `blobs/sha256/ab/cd/<h>.webp`;
//!    videos: stream to a staging file while hashing (direct URL, or
//!    yt-dlp when the URL is a page or the direct link has expired) →
//!    `blobs/sha256/ab/cd/<h>.<ext>` (multipart on S3);
//! 4. success → `archived`; retryable failure with attempts left → pending
//!    again with a delayed message; otherwise → `failed` + dead letter. The
//!    item itself stays `pulled` either way: one bad image never fails it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data, TaskId};
use bytes::Bytes;
use chrono::Utc;
use sha2::{Digest, Sha256};
use tracing::{Instrument, info, warn};
use vaultstream_adapters::media::{Download, MediaFetcher};
use vaultstream_core::Settings;
use vaultstream_core::blob::{BlobError, BlobKey, BlobStore, content_type_for_ext};
use vaultstream_core::db::media::{self as dbm, Archived, MediaClaim};
use vaultstream_core::parsed::{ErrorClass, FetchError};
use vaultstream_core::queue::{JobKind, MediaJob};

use super::image::{ImageError, ImageOptions, Sniffed, sniff, transcode};
use crate::backoff;
use crate::parse::{Heartbeat, WorkerCtx};

/// What the media step needs, built once per process.
pub struct MediaCtx {
    pub store: Arc<dyn BlobStore>,
    pub fetcher: MediaFetcher,
    pub image: ImageOptions,
    pub max_image_bytes: u64,
    pub max_video_bytes: u64,
    /// Videos are staged here while they download (same disk as local blobs).
    pub staging: PathBuf,
    /// `VAULTSTREAM_ARCHIVE_MEDIA`: when false, media rows are recorded as
    /// `skipped` and no media job runs.
    pub archive: bool,
}

impl MediaCtx {
    pub fn new(settings: &Settings, store: Arc<dyn BlobStore>) -> Self {
        Self {
            store,
            fetcher: MediaFetcher::from_settings(settings),
            image: ImageOptions::from_settings(&settings.media),
            max_image_bytes: settings.media.max_image_bytes,
            max_video_bytes: settings.media.max_video_bytes,
            staging: settings.data_dir.join("tmp").join("media"),
            archive: settings.archive_media,
        }
    }

    /// The transcoding variant: the same source with other settings is a
    /// different blob.
    pub fn variant(&self) -> String {
        format!("webp-q{}-m{}", self.image.quality, self.image.method)
    }
}

/// How one media message ended.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaOutcome {
    Stale,
    Rescheduled,
    Archived {
        /// False when the blob was already in the store (nothing uploaded).
        uploaded: bool,
    },
    Retrying {
        attempt: i32,
        delay: Duration,
    },
    DeadLettered,
    LeaseLost,
}

/// A failed archive attempt: the adapter-style error plus a stable code
/// for the per-media error (`not_an_image`, `image_too_large`, …).
#[derive(Debug)]
pub struct MediaFailure {
    pub err: FetchError,
    pub code: &'static str,
}

impl MediaFailure {
    fn new(code: &'static str, err: FetchError) -> Self {
        Self { err, code }
    }
}

impl From<ImageError> for MediaFailure {
    fn from(e: ImageError) -> Self {
        MediaFailure::new(e.code(), FetchError::permanent(e.to_string()))
    }
}

impl From<BlobError> for MediaFailure {
    fn from(e: BlobError) -> Self {
        let err = if e.is_retryable() {
            FetchError::retryable(format!("cannot store the blob: {e}"))
        } else {
            // A misconfigured store is not the file's fault: keep retrying
            // (with backoff) until an operator fixes it.
            FetchError::retryable(format!("the blob store refused the upload: {e}"))
        };
        MediaFailure::new("store_failed", err)
    }
}

impl From<sea_orm::DbErr> for MediaFailure {
    fn from(e: sea_orm::DbErr) -> Self {
        MediaFailure::new(
            "internal",
            FetchError::retryable(format!("database error: {e}")),
        )
    }
}

fn download_failure(err: FetchError) -> MediaFailure {
    let code = if err.message.contains("too large") {
        "too_large"
    } else {
        "download_failed"
    };
    MediaFailure::new(code, err)
}

/// The apalis entry point.
pub async fn handle_media(
    job: MediaJob,
    ctx: Data<Arc<WorkerCtx>>,
    task_id: TaskId,
) -> Result<(), BoxDynError> {
    let span = tracing::info_span!(
        "job",
        job.id = %task_id,
        job.kind = "media",
        media.id = job.media_id,
        content.id = tracing::field::Empty,
        request.id = job.request_id.as_deref().unwrap_or(""),
        platform = tracing::field::Empty,
    );
    process_media(&ctx, &job)
        .instrument(span)
        .await
        .map(|_| ())
        .map_err(|e| {
            warn!(error = ?e, media.id = job.media_id, "media job hit an internal error; the queue will redeliver it");
            BoxDynError::from(e.to_string())
        })
}

/// One media attempt. Errors are our own (database) failures only.
pub async fn process_media(ctx: &WorkerCtx, job: &MediaJob) -> anyhow::Result<MediaOutcome> {
    // One media host at a time up to the limit (see `crate::limits`).
    use sea_orm::EntityTrait;
    let row = vaultstream_core::db::entities::media::Entity::find_by_id(job.media_id)
        .one(&ctx.db)
        .await?;
    let _permit = match row.map(|m| crate::limits::host_key("media", &m.original_url)) {
        Some(k) => match ctx.limits.try_acquire(&k) {
            Some(p) => Some(p),
            None => {
                tracing::debug!(upstream = %k, "media host busy; trying again shortly");
                ctx.queue
                    .enqueue_media(job.clone(), Some(Duration::from_secs(1)))
                    .await?;
                return Ok(crate::metrics::unclaimed(
                    JobKind::Media,
                    MediaOutcome::Rescheduled,
                ));
            }
        },
        None => None,
    };
    let Some(claim) = dbm::claim(&ctx.db, job.media_id, ctx.lease).await? else {
        if let Some(wait) = dbm::early_by(&ctx.db, job.media_id).await? {
            ctx.queue.enqueue_media(job.clone(), Some(wait)).await?;
            return Ok(crate::metrics::unclaimed(
                JobKind::Media,
                MediaOutcome::Rescheduled,
            ));
        }
        tracing::debug!("nothing to claim: stale or duplicate media message");
        return Ok(crate::metrics::unclaimed(
            JobKind::Media,
            MediaOutcome::Stale,
        ));
    };
    let (platform, claimed_at) = (claim.platform.clone(), std::time::Instant::now());
    let res = process_claimed(ctx, job, claim).await;
    crate::metrics::finished(JobKind::Media, &platform, claimed_at, &res);
    res
}

/// The claimed attempt: archive, then record, retry or dead-letter.
async fn process_claimed(
    ctx: &WorkerCtx,
    job: &MediaJob,
    claim: MediaClaim,
) -> anyhow::Result<MediaOutcome> {
    let span = tracing::Span::current();
    span.record("content.id", claim.media.content_id);
    span.record("platform", claim.platform.as_str());
    info!(attempt = claim.attempt, role = %claim.media.role, "media started");
    let started = std::time::Instant::now();

    let heartbeat = spawn_heartbeat(ctx, &claim);
    let result = archive(ctx, &claim).await;
    drop(heartbeat);
    let duration_ms = started.elapsed().as_millis() as u64;

    match result {
        Ok((archived, uploaded)) => {
            if !dbm::complete(&ctx.db, &claim, &archived).await? {
                warn!("lease lost before the media result was stored; dropping it");
                return Ok(MediaOutcome::LeaseLost);
            }
            info!(
                duration_ms,
                blob = %archived.blob_key,
                bytes = archived.bytes,
                uploaded,
                "media archived"
            );
            crate::publish::schedule(ctx, claim.media.content_id).await;
            Ok(MediaOutcome::Archived { uploaded })
        }
        Err(f) if f.err.class.is_retryable() && (claim.attempt as u32) < ctx.max_attempts => {
            crate::metrics::failure(JobKind::Media, &claim.platform, f.err.class);
            let delay = backoff::delay(ctx.backoff_base_ms, claim.attempt as u32, &f.err);
            let next_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            if !dbm::fail_retry(&ctx.db, &claim, &f.err, f.code, next_at).await? {
                return Ok(MediaOutcome::LeaseLost);
            }
            warn!(
                duration_ms,
                error.class = %f.err.class,
                error.code = f.code,
                error = %f.err.message,
                attempt = claim.attempt,
                retry_in_ms = delay.as_millis() as u64,
                "media failed; retrying later"
            );
            if let Err(e) = ctx.queue.enqueue_media(job.clone(), Some(delay)).await {
                warn!(error = %e, "could not queue the media retry; the reconciler will");
            }
            Ok(MediaOutcome::Retrying {
                attempt: claim.attempt,
                delay,
            })
        }
        Err(f) => {
            crate::metrics::failure(JobKind::Media, &claim.platform, f.err.class);
            let payload = serde_json::to_value(job)?;
            if !dbm::fail_dead(&ctx.db, &claim, &f.err, f.code, payload).await? {
                return Ok(MediaOutcome::LeaseLost);
            }
            warn!(
                duration_ms,
                error.class = %f.err.class,
                error.code = f.code,
                error = %f.err.message,
                attempt = claim.attempt,
                "media failed for good: dead-lettered (the item stays pulled)"
            );
            crate::publish::schedule(ctx, claim.media.content_id).await;
            Ok(MediaOutcome::DeadLettered)
        }
    }
}

fn spawn_heartbeat(ctx: &WorkerCtx, claim: &MediaClaim) -> Heartbeat {
    let db = ctx.db.clone();
    let (id, token, lease) = (claim.media.id, claim.token.clone(), ctx.lease);
    Heartbeat::spawn(
        async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match dbm::heartbeat(&db, id, &token, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        warn!("media lease lost while working");
                        return;
                    }
                    Err(e) => warn!(error = %e, "media lease heartbeat failed"),
                }
            }
        }
        .in_current_span(),
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Archive the claimed file; `(result, uploaded)`.
async fn archive(ctx: &WorkerCtx, claim: &MediaClaim) -> Result<(Archived, bool), MediaFailure> {
    let m = &ctx.media;
    let video = claim.media.role == "video";
    // This row was archived before (an operator re-ran it): keep its blob.
    if let Some(a) = reuse(m, &claim.media).await? {
        return Ok((a, false));
    }
    // Same URL archived before (another item): no download.
    if let Some(prev) = dbm::archived_from_url(&ctx.db, &claim.media.original_url, video).await?
        && let Some(a) = reuse(m, &prev).await?
    {
        return Ok((a, false));
    }
    if video {
        archive_video(ctx, claim).await
    } else {
        archive_image(ctx, claim).await
    }
}

/// An archived row's result, if its blob is still in the store.
async fn reuse(
    m: &MediaCtx,
    prev: &vaultstream_core::db::entities::media::Model,
) -> Result<Option<Archived>, MediaFailure> {
    let (Some(key), Some(sha), Some(bytes), Some(mime)) = (
        prev.blob_key.as_deref().and_then(BlobKey::parse),
        prev.sha256.clone(),
        prev.bytes,
        prev.mime.clone(),
    ) else {
        return Ok(None);
    };
    if m.store.head(&key).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(Archived {
        blob_key: key.to_string(),
        sha256: sha,
        source_sha256: prev.source_sha256.clone(),
        bytes,
        mime,
        width: prev.width,
        height: prev.height,
        duration_secs: prev.duration_secs,
    }))
}

async fn archive_image(
    ctx: &WorkerCtx,
    claim: &MediaClaim,
) -> Result<(Archived, bool), MediaFailure> {
    let m = &ctx.media;
    let fetched = m
        .fetcher
        .get_bytes(
            &claim.media.original_url,
            &claim.headers(),
            m.max_image_bytes,
        )
        .await
        .map_err(download_failure)?;
    let source_sha = sha256_hex(&fetched.bytes);
    let variant = m.variant();

    // These exact source bytes were transcoded before: reuse that blob.
    if let Some(b) = dbm::blob_for_source(&ctx.db, &source_sha, &variant).await?
        && let Some(key) = BlobKey::parse(&b.key)
        && m.store.head(&key).await?.is_some()
    {
        return Ok((
            Archived {
                blob_key: b.key,
                sha256: b.sha256,
                source_sha256: Some(source_sha),
                bytes: b.bytes,
                mime: b.mime,
                width: b.width,
                height: b.height,
                duration_secs: None,
            },
            false,
        ));
    }

    // A "GIF" that is really a video (Twitter's animated GIFs are MP4s):
    // keep the bytes as they are.
    if let Sniffed::Video(ext) = sniff(&fetched.bytes[..fetched.bytes.len().min(4096)]) {
        let key = BlobKey::new(&source_sha, ext)
            .ok_or_else(|| MediaFailure::new("internal", FetchError::permanent("bad blob key")))?;
        let mime = content_type_for_ext(ext);
        let bytes = fetched.bytes.len() as i64;
        let stored = m
            .store
            .put_bytes(&key, Bytes::from(fetched.bytes), mime)
            .await?;
        let a = Archived {
            blob_key: key.to_string(),
            sha256: source_sha,
            source_sha256: None,
            bytes,
            mime: mime.to_owned(),
            width: claim.media.width,
            height: claim.media.height,
            duration_secs: claim.media.duration_secs,
        };
        dbm::record_blob(&ctx.db, &a, None).await?;
        return Ok((a, stored == vaultstream_core::blob::Stored::Uploaded));
    }

    let opts = m.image.clone();
    let source = fetched.bytes;
    let t = tokio::task::spawn_blocking(move || transcode(&source, &opts))
        .await
        .map_err(|e| {
            MediaFailure::new(
                "internal",
                FetchError::retryable(format!("transcoder task failed: {e}")),
            )
        })??;
    let sha = sha256_hex(&t.bytes);
    let key = BlobKey::new(&sha, t.ext)
        .ok_or_else(|| MediaFailure::new("internal", FetchError::permanent("bad blob key")))?;
    let a = Archived {
        blob_key: key.to_string(),
        source_sha256: (sha != source_sha).then_some(source_sha),
        sha256: sha,
        bytes: t.bytes.len() as i64,
        mime: t.mime.to_owned(),
        width: Some(t.width as i32),
        height: Some(t.height as i32),
        duration_secs: None,
    };
    let stored = m
        .store
        .put_bytes(&key, Bytes::from(t.bytes), t.mime)
        .await?;
    dbm::record_blob(&ctx.db, &a, Some(&variant)).await?;
    Ok((a, stored == vaultstream_core::blob::Stored::Uploaded))
}

/// Deletes a staged file when dropped (success moves it or leaves it for us).
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Platforms whose direct video URLs expire or are bound to a session:
/// when the direct link fails for good, yt-dlp gets the item's page.
fn ytdlp_platform(platform: &str) -> bool {
    matches!(platform, "youtube" | "bilibili" | "zhihu" | "douyin")
}

async fn archive_video(
    ctx: &WorkerCtx,
    claim: &MediaClaim,
) -> Result<(Archived, bool), MediaFailure> {
    let m = &ctx.media;
    tokio::fs::create_dir_all(&m.staging)
        .await
        .map_err(|e| MediaFailure::from(BlobError::Io(e)))?;
    let url = claim.media.original_url.as_str();
    let headers = claim.headers();
    let direct = m
        .fetcher
        .download(url, &headers, &m.staging, m.max_video_bytes)
        .await;
    let dl = match direct {
        Ok(d) if container_of(&d).is_some() => d,
        // A page (or a playlist) rather than a file: yt-dlp knows it.
        Ok(d) => {
            let _ = tokio::fs::remove_file(&d.path).await;
            ytdlp(m, url, &headers).await?
        }
        Err(e)
            if e.class == ErrorClass::Permanent
                && !e.message.contains("too large")
                && ytdlp_platform(&claim.platform) =>
        {
            warn!(error = %e.message, "direct video link failed; trying yt-dlp on the item's page");
            ytdlp(m, &claim.canonical_url, &Default::default()).await?
        }
        Err(e) => return Err(download_failure(e)),
    };
    let staged = Staged(dl.path.clone());
    let Some(ext) = container_of(&dl) else {
        return Err(MediaFailure::new(
            "not_a_video",
            FetchError::permanent(format!(
                "the download from {} is not a video file we recognise",
                host_of(&dl.final_url)
            )),
        ));
    };
    let key = BlobKey::new(&dl.sha256, ext)
        .ok_or_else(|| MediaFailure::new("internal", FetchError::permanent("bad blob key")))?;
    let mime = content_type_for_ext(ext);
    let stored = m.store.put_file(&key, &staged.0, mime).await?;
    drop(staged);
    let a = Archived {
        blob_key: key.to_string(),
        sha256: dl.sha256,
        source_sha256: None,
        bytes: dl.bytes as i64,
        mime: mime.to_owned(),
        width: claim.media.width,
        height: claim.media.height,
        duration_secs: claim.media.duration_secs,
    };
    dbm::record_blob(&ctx.db, &a, None).await?;
    Ok((a, stored == vaultstream_core::blob::Stored::Uploaded))
}

async fn ytdlp(
    m: &MediaCtx,
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<Download, MediaFailure> {
    m.fetcher
        .ytdlp_download(url, headers, &m.staging, m.max_video_bytes)
        .await
        .map_err(|e| {
            let code = if e.message.contains("too large") {
                "too_large"
            } else {
                "ytdlp_failed"
            };
            MediaFailure::new(code, e)
        })
}

/// The container a download holds, from its first bytes (and, for
/// formats without a clear signature, its Content-Type).
fn container_of(d: &Download) -> Option<&'static str> {
    match sniff(&d.head) {
        Sniffed::Video(ext) => Some(ext),
        Sniffed::Image(f) => f.extensions_str().first().copied().and_then(static_ext),
        _ => match d
            .content_type
            .as_deref()
            .map(|c| c.split(';').next().unwrap_or(c).trim())
        {
            Some("video/mp4") => Some("mp4"),
            Some("video/webm") => Some("webm"),
            Some("video/quicktime") => Some("mov"),
            _ => None,
        },
    }
}

fn static_ext(e: &str) -> Option<&'static str> {
    ["gif", "webp", "png", "jpg", "jpeg"]
        .into_iter()
        .find(|k| *k == e)
}

fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "the media host".to_owned())
}

/// Remove staged files and yt-dlp work dirs a crashed worker left behind
/// (older than an hour).
pub fn clean_staging(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if old {
            let p = e.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
}
