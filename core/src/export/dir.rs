//! The export as a directory: `items.jsonl` appended a page at a time,
//! each blob copied under its key (via a `.part` file, renamed when
//! complete), `manifest.json` last. [`DirSink::open`] with `resume`
//! continues an interrupted export: it keeps the complete lines of
//! `items.jsonl`, continues after the last one, and skips files already
//! there with the right size.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{BlobWritten, Sink, Start};
use crate::blob::{BlobKey, BlobReader};

pub struct DirSink {
    dir: PathBuf,
    items: std::io::BufWriter<std::fs::File>,
}

impl DirSink {
    /// Open `dir` for an export: it must be empty or absent, unless
    /// `resume`, which continues what is there.
    pub fn open(dir: &Path, resume: bool) -> anyhow::Result<(Self, Start)> {
        let items_path = dir.join("items.jsonl");
        let start = if resume && items_path.exists() {
            let (after, lines) = resume_point(&items_path)?;
            Start {
                after,
                lines,
                files: count_files(&dir.join("blobs"))?,
            }
        } else {
            if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
                anyhow::bail!(
                    "{} is not empty (use --resume to continue an export there)",
                    dir.display()
                );
            }
            std::fs::create_dir_all(dir)?;
            Start::default()
        };
        let items = std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&items_path)?,
        );
        Ok((
            DirSink {
                dir: dir.to_owned(),
                items,
            },
            start,
        ))
    }
}

impl Sink for DirSink {
    async fn has_blob(&mut self, key: &BlobKey, size: u64) -> bool {
        std::fs::metadata(self.dir.join(key.as_str())).is_ok_and(|m| m.len() == size)
    }

    async fn blob(&mut self, key: &BlobKey, mut blob: BlobReader) -> anyhow::Result<BlobWritten> {
        let path = self.dir.join(key.as_str());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let tmp = path.with_extension("part");
        let mut out = tokio::fs::File::create(&tmp).await?;
        let n = tokio::io::copy(&mut blob.reader, &mut out).await?;
        out.flush().await?;
        drop(out);
        tokio::fs::rename(&tmp, &path).await?;
        Ok(BlobWritten::Written(n))
    }

    async fn line(&mut self, line: &[u8]) -> anyhow::Result<()> {
        self.items.write_all(line)?;
        self.items.write_all(b"\n")?;
        Ok(())
    }

    async fn page_done(&mut self) -> anyhow::Result<()> {
        self.items.flush()?;
        Ok(())
    }

    async fn finish(&mut self, mut manifest: serde_json::Value) -> anyhow::Result<()> {
        self.items.flush()?;
        let (sha, bytes) = sha256_of(&self.dir.join("items.jsonl"))?;
        manifest["files"] = serde_json::json!({"items.jsonl": {"sha256": sha, "bytes": bytes}});
        std::fs::write(
            self.dir.join("manifest.json"),
            serde_json::to_string_pretty(&manifest)? + "\n",
        )?;
        Ok(())
    }
}

/// The id of the last complete line of `items.jsonl` and the number of
/// complete lines, truncating a partial last line (an interrupted write).
fn resume_point(items: &Path) -> anyhow::Result<(i64, u64)> {
    let text = std::fs::read_to_string(items)?;
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        let f = std::fs::OpenOptions::new().write(true).open(items)?;
        f.set_len(complete as u64)?;
    }
    let mut last = 0;
    let mut lines = 0;
    for line in text[..complete].lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        last = v["id"].as_i64().unwrap_or(last);
        lines += 1;
    }
    Ok((last, lines))
}

/// SHA-256 (hex) and size of a file, streamed.
pub fn sha256_of(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h)?;
    Ok((hex::encode(h.finalize()), n))
}

fn count_files(dir: &Path) -> std::io::Result<u64> {
    if !dir.exists() {
        return Ok(0);
    }
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            n += count_files(&e.path())?;
        } else if e.path().extension().is_none_or(|x| x != "part") {
            n += 1;
        }
    }
    Ok(n)
}
