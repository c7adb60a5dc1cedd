//! Content-addressed blob storage: S3/MinIO or local disk.
//!
//! Every archived media file is stored once under
//! `blobs/sha256/<2 hex>/<2 hex>/<sha256>.<ext>`, where the hash is of the
//! *stored* bytes. Writers call [`BlobStore::put_bytes`] or
//! [`BlobStore::put_file`]; both check whether the key already exists first
//! and upload nothing when it does (the answer says which happened).
//!
//! - [`local::LocalStore`]: files under `<data_dir>/`, written to a temp
//!   file, fsynced and renamed into place (a reader never sees half a blob).
//! - [`s3::S3Store`]: rust-s3, path-style, custom endpoint and region;
//!   files are streamed with multipart upload, never read whole.

pub mod local;
pub mod s3;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::Settings;

/// `blobs/sha256/ab/cd/<64 hex>.<ext>`: validated, so it is safe to join
/// onto a directory or put in a URL.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobKey(String);

impl BlobKey {
    /// The key for bytes whose SHA-256 is `sha256_hex` (64 lowercase hex
    /// digits) with extension `ext` (1–5 lowercase ASCII letters/digits).
    /// `None` if either is malformed.
    pub fn new(sha256_hex: &str, ext: &str) -> Option<Self> {
        let hex_ok = sha256_hex.len() == 64
            && sha256_hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let ext_ok = (1..=5).contains(&ext.len())
            && ext
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase());
        (hex_ok && ext_ok).then(|| {
            BlobKey(format!(
                "blobs/sha256/{}/{}/{sha256_hex}.{ext}",
                &sha256_hex[..2],
                &sha256_hex[2..4]
            ))
        })
    }

    /// Parse a key as stored or as it appears in a URL path (with or without
    /// a leading `/`). Anything that is not exactly the canonical form
    /// (wrong fan-out directories, upper case, `..`) is `None`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.strip_prefix('/').unwrap_or(s);
        let rest = s.strip_prefix("blobs/sha256/")?;
        let (dirs, file) = rest.rsplit_once('/')?;
        let (hash, ext) = file.split_once('.')?;
        let key = Self::new(hash, ext)?;
        (key.0 == s && dirs.len() == 5).then_some(key)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64-hex SHA-256 in the key.
    pub fn sha256(&self) -> &str {
        let file = self.0.rsplit('/').next().unwrap_or_default();
        file.split('.').next().unwrap_or_default()
    }

    pub fn ext(&self) -> &str {
        self.0.rsplit('.').next().unwrap_or_default()
    }

    /// The MIME type served for this key's extension.
    pub fn content_type(&self) -> &'static str {
        content_type_for_ext(self.ext())
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// MIME type by extension, for the few kinds we store.
pub fn content_type_for_ext(ext: &str) -> &'static str {
    match ext {
        "webp" => "image/webp",
        "gif" => "image/gif",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "avif" => "image/avif",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "mov" => "video/quicktime",
        "flv" => "video/x-flv",
        "ts" => "video/mp2t",
        "m4a" => "audio/mp4",
        "mp3" => "audio/mpeg",
        _ => "application/octet-stream",
    }
}

/// What a put did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// The bytes were written.
    Uploaded,
    /// The key already existed; nothing was sent.
    AlreadyThere,
}

/// A blob being read: its size (known before the bytes, as a tar header
/// needs it) and the bytes.
pub struct BlobReader {
    pub size: u64,
    pub reader: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
}

/// A stored blob's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// Bad settings or a bucket we may not create: fix the configuration.
    #[error("blob store configuration: {0}")]
    Config(String),
    /// Network trouble, 5xx, timeouts: worth retrying.
    #[error("blob store unavailable: {0}")]
    Unavailable(String),
    /// Local disk errors (full, permissions).
    #[error("blob store I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Anything else the store refused (4xx other than 404).
    #[error("blob store refused: {0}")]
    Refused(String),
}

impl BlobError {
    /// Whether a job should try again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, BlobError::Unavailable(_) | BlobError::Io(_))
    }
}

/// Where blobs live. One instance per process, shared.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// `local` or `s3`.
    fn backend(&self) -> &'static str;

    /// The blob's size, or `None` when the key does not exist.
    async fn head(&self, key: &BlobKey) -> Result<Option<BlobInfo>, BlobError>;

    /// Store `bytes` under `key` unless it already exists.
    async fn put_bytes(
        &self,
        key: &BlobKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<Stored, BlobError>;

    /// Store the file at `path` under `key` unless it already exists,
    /// streaming it (multipart on S3; never read whole into memory). The
    /// file may be moved or left in place: the caller deletes `path` after.
    async fn put_file(
        &self,
        key: &BlobKey,
        path: &Path,
        content_type: &str,
    ) -> Result<Stored, BlobError>;

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;

    /// The whole blob, for small files a caller must hand on (e.g. photos
    /// uploaded to Telegram). `None` when the key does not exist.
    async fn get(&self, key: &BlobKey) -> Result<Option<Bytes>, BlobError>;

    /// A URL a client can fetch the blob from directly (S3: the public base
    /// URL when set, else presigned). Local disk: `None` (the API serves it).
    async fn redirect_url(&self, key: &BlobKey) -> Result<Option<String>, BlobError>;

    /// The file backing `key` (local disk only), for serving with Range.
    fn local_path(&self, key: &BlobKey) -> Option<PathBuf>;

    /// The blob's size and its bytes as a reader, for copying it on
    /// (exports): local disk streams the file; other stores hand over the
    /// one blob they fetched. `None` when the key does not exist.
    async fn open_read(&self, key: &BlobKey) -> Result<Option<BlobReader>, BlobError> {
        if let Some(path) = self.local_path(key) {
            return match tokio::fs::File::open(&path).await {
                Ok(f) => {
                    let size = f.metadata().await?.len();
                    Ok(Some(BlobReader {
                        size,
                        reader: Box::pin(f),
                    }))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        Ok(self.get(key).await?.map(|bytes| BlobReader {
            size: bytes.len() as u64,
            reader: Box::pin(std::io::Cursor::new(bytes)),
        }))
    }

    /// Reachable and writable? (health, doctor)
    async fn check(&self) -> Result<(), BlobError>;
}

/// Open the store the settings select: S3 when `VAULTSTREAM_S3_ENDPOINT`
/// is set (creating the bucket when allowed), else local disk under the
/// data dir.
pub async fn open(settings: &Settings) -> Result<Arc<dyn BlobStore>, BlobError> {
    match &settings.s3 {
        Some(s3) => Ok(Arc::new(s3::S3Store::open(s3).await?)),
        None => Ok(Arc::new(local::LocalStore::new(&settings.data_dir)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn key_layout_and_parse() {
        let k = BlobKey::new(H, "webp").unwrap();
        assert_eq!(k.as_str(), format!("blobs/sha256/9f/86/{H}.webp").as_str());
        assert_eq!(k.sha256(), H);
        assert_eq!(k.ext(), "webp");
        assert_eq!(k.content_type(), "image/webp");
        assert_eq!(BlobKey::parse(k.as_str()), Some(k.clone()));
        assert_eq!(BlobKey::parse(&format!("/{}", k.as_str())), Some(k));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            format!("blobs/sha256/00/86/{H}.webp"),
            format!("blobs/sha256/9f/86/{}.webp", H.to_uppercase()),
            format!("blobs/sha256/9f/86/../{H}.webp"),
            format!("blobs/sha256/9f/86/{H}.WEBP"),
            format!("blobs/sha256/9f/86/{H}.webp.exe"),
            format!("blobs/sha256/9f/86/{H}"),
            format!("blobs/sha256/9f86/{H}.webp"),
            format!("blobs/sha1/9f/86/{H}.webp"),
            "blobs/sha256/9f/86/abc.webp".to_owned(),
        ] {
            assert_eq!(BlobKey::parse(&bad), None, "{bad}");
        }
        assert_eq!(BlobKey::new(&H[1..], "webp"), None);
        assert_eq!(BlobKey::new(H, ""), None);
        assert_eq!(BlobKey::new(H, "toolong"), None);
    }
}
