//! Archiving one media file: reuse what was archived before, else
//! download, transcode (images) and store it content-addressed.
//!
//! Images: downloaded into memory (byte cap); the blob the same source
//! bytes already produced is reused, else sniffed, decoded with pixel
//! limits and encoded as WebP (in `spawn_blocking`) →
//! `blobs/sha256/ab/cd/<h>.webp`. Videos: streamed to a staging file while
//! hashed (the direct URL, or yt-dlp when the URL is a page or the direct
//! link has expired) → `blobs/sha256/ab/cd/<h>.<ext>` (multipart on S3).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tracing::warn;
use vaultstream_adapters::media::Download;
use vaultstream_core::blob::{BlobError, BlobKey, content_type_for_ext};
use vaultstream_core::db::blobs::{self, Archived};
use vaultstream_core::db::media::{self as dbm, MediaClaim};
use vaultstream_core::error::MediaErrorCode::{self, *};
use vaultstream_core::parsed::{ErrorClass, FetchError};

use super::image::{ImageError, Sniffed, sniff, transcode};
use crate::ctx::{MediaCtx, WorkerCtx};
use crate::executor::Failure;

fn failure(code: MediaErrorCode, err: FetchError) -> Failure {
    Failure {
        err,
        code: Some(code),
    }
}

impl From<ImageError> for Failure {
    fn from(e: ImageError) -> Self {
        failure(image_code(&e), FetchError::permanent(e.to_string()))
    }
}

/// The per-media code of an image the transcoder refused.
fn image_code(e: &ImageError) -> MediaErrorCode {
    match e {
        ImageError::NotAnImage(_) => NotAnImage,
        ImageError::Unsupported(_) => UnsupportedImage,
        ImageError::TooLarge { .. } => ImageTooLarge,
        ImageError::Corrupt(_) => CorruptImage,
        ImageError::Encode(_) => EncodeFailed,
    }
}

impl From<BlobError> for Failure {
    fn from(e: BlobError) -> Self {
        let err = if e.is_retryable() {
            FetchError::retryable(format!("cannot store the blob: {e}"))
        } else {
            // A misconfigured store is not the file's fault: keep retrying
            // (with backoff) until an operator fixes it.
            FetchError::retryable(format!("the blob store refused the upload: {e}"))
        };
        failure(StoreFailed, err)
    }
}

impl From<sea_orm::DbErr> for Failure {
    fn from(e: sea_orm::DbErr) -> Self {
        failure(
            Internal,
            FetchError::retryable(format!("database error: {e}")),
        )
    }
}

fn download_failure(err: FetchError) -> Failure {
    let code = if err.too_large {
        TooLarge
    } else {
        DownloadFailed
    };
    failure(code, err)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Archive the claimed file; `(result, uploaded)`.
pub(super) async fn archive(
    ctx: &WorkerCtx,
    claim: &MediaClaim,
) -> Result<(Archived, bool), Failure> {
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
) -> Result<Option<Archived>, Failure> {
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

async fn archive_image(ctx: &WorkerCtx, claim: &MediaClaim) -> Result<(Archived, bool), Failure> {
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
    if let Some(b) = blobs::blob_for_source(&ctx.db, &source_sha, &variant).await?
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
            .ok_or_else(|| failure(Internal, FetchError::permanent("bad blob key")))?;
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
        blobs::record_blob(&ctx.db, &a, None).await?;
        return Ok((a, stored == vaultstream_core::blob::Stored::Uploaded));
    }

    let opts = m.image.clone();
    let source = fetched.bytes;
    let t = tokio::task::spawn_blocking(move || transcode(&source, &opts))
        .await
        .map_err(|e| {
            failure(
                Internal,
                FetchError::retryable(format!("transcoder task failed: {e}")),
            )
        })??;
    let sha = sha256_hex(&t.bytes);
    let key = BlobKey::new(&sha, t.ext)
        .ok_or_else(|| failure(Internal, FetchError::permanent("bad blob key")))?;
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
    blobs::record_blob(&ctx.db, &a, Some(&variant)).await?;
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

async fn archive_video(ctx: &WorkerCtx, claim: &MediaClaim) -> Result<(Archived, bool), Failure> {
    let m = &ctx.media;
    tokio::fs::create_dir_all(&m.staging)
        .await
        .map_err(|e| Failure::from(BlobError::Io(e)))?;
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
                && !e.too_large
                && ytdlp_platform(&claim.platform) =>
        {
            warn!(error = %e.message, "direct video link failed; trying yt-dlp on the item's page");
            ytdlp(m, &claim.canonical_url, &Default::default()).await?
        }
        Err(e) => return Err(download_failure(e)),
    };
    let staged = Staged(dl.path.clone());
    let Some(ext) = container_of(&dl) else {
        return Err(failure(
            NotAVideo,
            FetchError::permanent(format!(
                "the download from {} is not a video file we recognise",
                host_of(&dl.final_url)
            )),
        ));
    };
    let key = BlobKey::new(&dl.sha256, ext)
        .ok_or_else(|| failure(Internal, FetchError::permanent("bad blob key")))?;
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
    blobs::record_blob(&ctx.db, &a, None).await?;
    Ok((a, stored == vaultstream_core::blob::Stored::Uploaded))
}

async fn ytdlp(
    m: &MediaCtx,
    url: &str,
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<Download, Failure> {
    m.fetcher
        .ytdlp_download(url, headers, &m.staging, m.max_video_bytes)
        .await
        .map_err(|e| failure(if e.too_large { TooLarge } else { YtdlpFailed }, e))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The transcoder's own words for its refusals are the per-media codes.
    #[test]
    fn image_codes_match_the_transcoder() {
        let errors = [
            ImageError::NotAnImage("html".into()),
            ImageError::Unsupported("tiff".into()),
            ImageError::TooLarge {
                width: 1,
                height: 1,
                max_pixels: 0,
            },
            ImageError::Corrupt("eof".into()),
            ImageError::Encode("libwebp".into()),
        ];
        for e in errors {
            assert_eq!(image_code(&e).as_str(), e.code(), "{e:?}");
        }
    }
}
