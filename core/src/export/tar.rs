//! The export as one tar stream (POSIX ustar, the `tar` crate's headers):
//! each blob as it is read from the store, then `items.jsonl` (spooled to
//! a temporary file while the blobs stream, so memory stays flat), then
//! `manifest.json` last — a tar that ends without its manifest is
//! incomplete.

use std::collections::HashSet;
use std::io::{Seek, Write};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{BlobWritten, Sink};
use crate::blob::{BlobKey, BlobReader};

/// Writes tar entries to `W` (a file, an HTTP body).
pub struct TarWriter<W> {
    out: W,
}

impl<W: AsyncWrite + Unpin + Send> TarWriter<W> {
    pub fn new(out: W) -> Self {
        TarWriter { out }
    }

    /// One regular file of `size` bytes read from `data`.
    pub async fn append(
        &mut self,
        path: &str,
        size: u64,
        data: &mut (dyn AsyncRead + Send + Unpin),
    ) -> std::io::Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_path(path)?;
        header.set_size(size);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
        header.set_cksum();
        self.out.write_all(header.as_bytes()).await?;
        let copied = tokio::io::copy(&mut data.take(size), &mut self.out).await?;
        if copied != size {
            return Err(std::io::Error::other(format!(
                "{path}: {copied} bytes where {size} were announced"
            )));
        }
        let pad = (512 - size % 512) % 512;
        self.out.write_all(&vec![0u8; pad as usize]).await?;
        Ok(())
    }

    /// The end-of-archive marker (two zero blocks); flushes.
    pub async fn finish(&mut self) -> std::io::Result<()> {
        self.out.write_all(&[0u8; 1024]).await?;
        self.out.flush().await
    }
}

/// The export [`Sink`] writing one tar stream.
pub struct TarSink<W> {
    tar: TarWriter<W>,
    /// `items.jsonl` until the end (a temporary file: flat memory).
    items: std::io::BufWriter<std::fs::File>,
    items_hash: Sha256,
    items_bytes: u64,
    /// Keys already in the tar (an item's file shared with another).
    written: HashSet<String>,
}

impl<W: AsyncWrite + Unpin + Send> TarSink<W> {
    pub fn new(out: W) -> std::io::Result<Self> {
        Ok(TarSink {
            tar: TarWriter::new(out),
            items: std::io::BufWriter::new(tempfile::tempfile()?),
            items_hash: Sha256::new(),
            items_bytes: 0,
            written: HashSet::new(),
        })
    }
}

impl<W: AsyncWrite + Unpin + Send> Sink for TarSink<W> {
    async fn has_blob(&mut self, key: &BlobKey, _size: u64) -> bool {
        self.written.contains(key.as_str())
    }

    async fn blob(&mut self, key: &BlobKey, mut blob: BlobReader) -> anyhow::Result<BlobWritten> {
        if !self.written.insert(key.as_str().to_owned()) {
            return Ok(BlobWritten::AlreadyThere);
        }
        self.tar
            .append(key.as_str(), blob.size, &mut blob.reader)
            .await?;
        Ok(BlobWritten::Written(blob.size))
    }

    async fn line(&mut self, line: &[u8]) -> anyhow::Result<()> {
        self.items.write_all(line)?;
        self.items.write_all(b"\n")?;
        self.items_hash.update(line);
        self.items_hash.update(b"\n");
        self.items_bytes += line.len() as u64 + 1;
        Ok(())
    }

    async fn page_done(&mut self) -> anyhow::Result<()> {
        Ok(())
    }

    async fn finish(&mut self, mut manifest: serde_json::Value) -> anyhow::Result<()> {
        self.items.flush()?;
        let mut file = self.items.get_ref().try_clone()?;
        file.rewind()?;
        let hash = hex::encode(std::mem::take(&mut self.items_hash).finalize());
        manifest["files"] = serde_json::json!({
            "items.jsonl": {"sha256": hash, "bytes": self.items_bytes}
        });
        let mut items = tokio::fs::File::from_std(file);
        self.tar
            .append("items.jsonl", self.items_bytes, &mut items)
            .await?;
        let bytes = serde_json::to_vec_pretty(&manifest)?;
        self.tar
            .append(
                "manifest.json",
                bytes.len() as u64,
                &mut std::io::Cursor::new(bytes),
            )
            .await?;
        self.tar.finish().await?;
        Ok(())
    }
}
