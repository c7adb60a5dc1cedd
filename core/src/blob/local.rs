//! Local-disk blob store: `<data_dir>/blobs/sha256/ab/cd/<sha256>.<ext>`.
//!
//! Every write goes to a temp file in `<data_dir>/blobs/.tmp/` (same
//! filesystem), is fsynced, renamed into place and the directory fsynced, so
//! a reader sees either no blob or the whole blob, also after a crash.
//! Concurrent writers of one key are harmless: the content is identical by
//! construction (the key is its hash) and rename replaces atomically.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{BlobError, BlobInfo, BlobKey, BlobStore, Stored};

/// Staging files older than this are leftovers of a crash: removed on open.
const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 3600);

/// Blobs as files under a data directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    staging: PathBuf,
}

impl LocalStore {
    /// Use `data_dir` (created when missing) and its `blobs/.tmp` staging
    /// directory.
    pub fn new(data_dir: &Path) -> Result<Self, BlobError> {
        let root = data_dir.to_path_buf();
        let staging = root.join("blobs").join(".tmp");
        fs::create_dir_all(&staging)?;
        remove_stale_temps(&staging);
        Ok(Self { root, staging })
    }

    /// Where `key` lives (whether or not it exists).
    pub fn path_of(&self, key: &BlobKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// The staging directory for temp files (`<data_dir>/blobs/.tmp`).
    pub fn staging_dir(&self) -> &Path {
        &self.staging
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        Ok(tokio::fs::try_exists(self.path_of(key)).await?)
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalStore {
    fn backend(&self) -> &'static str {
        "local"
    }

    async fn head(&self, key: &BlobKey) -> Result<Option<BlobInfo>, BlobError> {
        match tokio::fs::metadata(self.path_of(key)).await {
            Ok(m) if m.is_file() => Ok(Some(BlobInfo { size: m.len() })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Bytes>, BlobError> {
        match tokio::fs::read(self.path_of(key)).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn put_bytes(
        &self,
        key: &BlobKey,
        bytes: Bytes,
        _content_type: &str,
    ) -> Result<Stored, BlobError> {
        if self.exists(key).await? {
            return Ok(Stored::AlreadyThere);
        }
        let (root, staging, dest) = (self.root.clone(), self.staging.clone(), self.path_of(key));
        blocking(move || {
            let temp = TempFile::create(&root, &staging)?;
            {
                let mut f = temp.file()?;
                f.write_all(&bytes)?;
                f.sync_all()?;
            }
            temp.persist(&root, &dest)
        })
        .await?;
        Ok(Stored::Uploaded)
    }

    async fn put_file(
        &self,
        key: &BlobKey,
        path: &Path,
        _content_type: &str,
    ) -> Result<Stored, BlobError> {
        if self.exists(key).await? {
            return Ok(Stored::AlreadyThere);
        }
        let (root, staging, dest) = (self.root.clone(), self.staging.clone(), self.path_of(key));
        let src = path.to_path_buf();
        blocking(move || {
            // The caller may not have synced its file: do it before the
            // rename makes it visible under the key.
            File::open(&src)?.sync_all()?;
            // Best effort: the file may belong to someone else.
            let _ = set_readable(&src);
            ensure_dir(&root, parent(&dest)?)?;
            match fs::rename(&src, &dest) {
                Ok(()) => sync_dir(parent(&dest)?),
                Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                    // Another filesystem: stream a copy through staging.
                    let temp = TempFile::create(&root, &staging)?;
                    {
                        let mut from = File::open(&src)?;
                        let mut to = temp.file()?;
                        io::copy(&mut from, &mut to)?;
                        to.sync_all()?;
                    }
                    temp.persist(&root, &dest)
                }
                Err(e) => Err(e),
            }
        })
        .await?;
        Ok(Stored::Uploaded)
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn redirect_url(&self, _key: &BlobKey) -> Result<Option<String>, BlobError> {
        Ok(None)
    }

    fn local_path(&self, key: &BlobKey) -> Option<PathBuf> {
        Some(self.path_of(key))
    }

    async fn check(&self) -> Result<(), BlobError> {
        let (root, staging) = (self.root.clone(), self.staging.clone());
        blocking(move || {
            if !root.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("data dir {} does not exist", root.display()),
                ));
            }
            // Recreate the staging dir if someone removed it (it is ours),
            // but never the data dir itself: a vanished mount must show.
            ensure_dir(&root, &staging)?;
            let probe = staging.join(format!("probe-{}", uuid::Uuid::new_v4().simple()));
            let written = File::create_new(&probe).and_then(|mut f| {
                f.write_all(b"probe")?;
                f.sync_all()
            });
            let removed = fs::remove_file(&probe);
            written.and(removed)
        })
        .await
    }
}

/// Run blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(BlobError::from),
        Err(e) => Err(BlobError::Io(io::Error::other(format!(
            "blob write task failed: {e}"
        )))),
    }
}

/// A temp file in the staging dir, removed on drop unless persisted.
struct TempFile {
    path: PathBuf,
    persisted: bool,
}

impl TempFile {
    fn create(root: &Path, staging: &Path) -> io::Result<Self> {
        ensure_dir(root, staging)?;
        let path = staging.join(format!("{}.part", uuid::Uuid::new_v4().simple()));
        File::create_new(&path)?;
        let temp = Self {
            path,
            persisted: false,
        };
        set_readable(&temp.path)?;
        Ok(temp)
    }

    fn file(&self) -> io::Result<File> {
        fs::OpenOptions::new().write(true).open(&self.path)
    }

    /// Rename into `dest` (creating its directories) and fsync the
    /// directory entry.
    fn persist(mut self, root: &Path, dest: &Path) -> io::Result<()> {
        let dir = parent(dest)?;
        ensure_dir(root, dir)?;
        fs::rename(&self.path, dest)?;
        self.persisted = true;
        sync_dir(dir)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn parent(path: &Path) -> io::Result<&Path> {
    path.parent()
        .ok_or_else(|| io::Error::other(format!("{} has no parent directory", path.display())))
}

/// Create `dir` (below `root`) when missing, fsyncing the parent of every
/// directory created so the new entries survive a crash.
fn ensure_dir(root: &Path, dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cur = dir;
    while !cur.is_dir() && cur != root {
        missing.push(cur);
        match cur.parent() {
            Some(p) => cur = p,
            None => break,
        }
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => sync_dir(parent(d)?)?,
            // A concurrent writer made it first.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Blobs are served to whoever may read the data dir: `rw-r--r--` (temp
/// files from `tempfile` are created `rw-------`).
fn set_readable(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o644))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Best effort: drop staging files a crashed process left behind. Young
/// files may belong to a live writer in another process and are kept.
fn remove_stale_temps(staging: &Path) {
    let Ok(entries) = fs::read_dir(staging) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > STALE_TEMP_AGE);
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> BlobKey {
        BlobKey::new(&format!("{n:02x}").repeat(32), "bin").unwrap()
    }

    #[tokio::test]
    async fn writes_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path()).unwrap();
        store
            .put_bytes(&key(1), Bytes::from_static(b"one"), "x")
            .await
            .unwrap();
        let src = dir.path().join("src.bin");
        fs::write(&src, b"two").unwrap();
        store.put_file(&key(2), &src, "x").await.unwrap();
        store.check().await.unwrap();
        assert_eq!(fs::read_dir(store.staging_dir()).unwrap().count(), 0);
        assert_eq!(fs::read(store.path_of(&key(1))).unwrap(), b"one");
        assert_eq!(fs::read(store.path_of(&key(2))).unwrap(), b"two");
    }

    #[test]
    fn ensure_dir_creates_fan_out() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("blobs/sha256/ab/cd");
        ensure_dir(dir.path(), &deep).unwrap();
        assert!(deep.is_dir());
        ensure_dir(dir.path(), &deep).unwrap();
    }
}
