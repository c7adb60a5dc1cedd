//! Importing our own export (a directory or a `.tar`, see
//! `vaultstream_core::export`): first every line of `items.jsonl` is
//! checked (a bad one is an error naming its line, and nothing is
//! written); then every file under `blobs/` goes into the blob store, its
//! SHA-256 checked against its name on the way in (a mismatch stops the
//! import before any item); then each item is restored with its sources,
//! tags, versions, stats, upstream states and media rows, skipped when an
//! item with its identity is there already.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sha2::{Digest, Sha256};
use vaultstream_core::Settings;
use vaultstream_core::blob::BlobKey;
use vaultstream_core::export::record::Line;
use vaultstream_core::export::restore::{self, RestoreError};
use vaultstream_core::export::{FORMAT, VERSION};

use super::super::progress::Progress;
use super::super::{EXIT_RUNTIME, EXIT_USAGE};
use super::formats::csv_cell;

/// Where the export is.
#[derive(Debug, Clone)]
pub enum Source {
    Dir(PathBuf),
    Tar(PathBuf),
}

/// Our own export, if `path` is one: a directory with `items.jsonl`, or a
/// tar file (by its ustar magic).
pub fn detect(path: &Path) -> Option<Source> {
    if path.is_dir() {
        return path
            .join("items.jsonl")
            .is_file()
            .then(|| Source::Dir(path.to_owned()));
    }
    let mut head = [0u8; 263];
    let mut f = std::fs::File::open(path).ok()?;
    f.read_exact(&mut head).ok()?;
    (head[257..262] == *b"ustar").then(|| Source::Tar(path.to_owned()))
}

/// A failure: a bad file (usage, exit 2) or the deployment (exit 1).
enum Failure {
    Bad(String),
    Runtime(String),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Bad(e.to_string())
    }
}

pub async fn run(settings: &Settings, source: Source, report_path: &Path) -> ExitCode {
    match import(settings, &source, report_path).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Bad(m)) => {
            eprintln!("vaultstream: {m}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Runtime(m)) => {
            eprintln!("vaultstream: {m}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn name(source: &Source) -> String {
    match source {
        Source::Dir(p) | Source::Tar(p) => p.display().to_string(),
    }
}

/// Call `each(path, reader)` for every file of the export whose path
/// `want` accepts, in the order they are stored.
fn each_file(
    source: &Source,
    want: &dyn Fn(&str) -> bool,
    each: &mut dyn FnMut(&str, &mut dyn Read) -> Result<(), Failure>,
) -> Result<(), Failure> {
    match source {
        Source::Dir(dir) => {
            let mut stack = vec![dir.clone()];
            let mut files = Vec::new();
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d)? {
                    let p = e?.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if let Ok(rel) = p.strip_prefix(dir) {
                        files.push(rel.to_string_lossy().replace('\\', "/"));
                    }
                }
            }
            files.sort();
            for rel in files.into_iter().filter(|r| want(r)) {
                each(&rel, &mut std::fs::File::open(dir.join(&rel))?)?;
            }
        }
        Source::Tar(path) => {
            let mut archive = tar::Archive::new(std::fs::File::open(path)?);
            for entry in archive.entries()? {
                let mut entry = entry?;
                if entry.header().entry_type() != tar::EntryType::Regular {
                    continue;
                }
                let p = entry.path()?.to_string_lossy().into_owned();
                let p = p.trim_start_matches("./").to_owned();
                if want(&p) {
                    each(&p, &mut entry)?;
                }
            }
        }
    }
    Ok(())
}

/// Every line of `items.jsonl`, parsed; a bad one names its line.
fn each_line(
    source: &Source,
    each: &mut dyn FnMut(usize, Line) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut found = false;
    each_file(source, &|p| p == "items.jsonl", &mut |_, r| {
        found = true;
        for (n, line) in BufReader::new(r).lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let parsed: Line = serde_json::from_str(&line)
                .map_err(|e| Failure::Bad(format!("items.jsonl line {}: {e}", n + 1)))?;
            restore::check(&parsed)
                .map_err(|e| Failure::Bad(format!("items.jsonl line {}: {e}", n + 1)))?;
            each(n + 1, parsed)?;
        }
        Ok(())
    })?;
    if !found {
        return Err(Failure::Bad("the export has no items.jsonl".into()));
    }
    Ok(())
}

fn check_manifest(source: &Source) -> Result<(), Failure> {
    let mut manifest: Option<serde_json::Value> = None;
    each_file(source, &|p| p == "manifest.json", &mut |_, r| {
        let v = serde_json::from_reader(r)
            .map_err(|e| Failure::Bad(format!("manifest.json: line {}: {e}", e.line())))?;
        manifest = Some(v);
        Ok(())
    })?;
    let Some(m) = manifest else {
        return Err(Failure::Bad(
            "the export has no manifest.json (an interrupted export? finish it with --resume)"
                .into(),
        ));
    };
    if m["format"] != FORMAT {
        return Err(Failure::Bad(format!(
            "manifest.json: $.format is {}, not \"{FORMAT}\"",
            m["format"]
        )));
    }
    match m["version"].as_u64() {
        Some(v) if v == u64::from(VERSION) => Ok(()),
        Some(v) if v < u64::from(VERSION) => Err(Failure::Bad(format!(
            "manifest.json: $.version {v}: exports before version {VERSION} do not carry the stored rows an import needs; export again"
        ))),
        _ => Err(Failure::Bad(format!(
            "manifest.json: $.version {} is newer than this vaultstream reads ({VERSION})",
            m["version"]
        ))),
    }
}

/// What the reading thread hands over, in the export's order: the files
/// under `blobs/` (staged and checked), then the lines.
enum Msg {
    Blob(BlobKey, tempfile::TempPath),
    Line(usize, Box<Line>),
}

async fn import(settings: &Settings, source: &Source, report_path: &Path) -> Result<(), Failure> {
    check_manifest(source)?;
    // First pass: every line must read before anything is written.
    let mut total = 0u64;
    each_line(source, &mut |_, _| {
        total += 1;
        Ok(())
    })?;
    let db = super::super::serve::open_db(settings)
        .await
        .map_err(|_| Failure::Runtime("cannot open the database".into()))?;
    let blobs = vaultstream_core::blob::open(settings)
        .await
        .map_err(|e| Failure::Runtime(format!("cannot open the blob store: {e}")))?;
    eprintln!(
        "importing {total} items from {} (a vaultstream export)",
        name(source)
    );
    // Staged next to the store's own files (a rename, not a copy, on disk).
    let staging = settings.data_dir.join("import-staging");
    std::fs::create_dir_all(&staging)?;

    // Second pass, in one reading thread: files (hashed while staged),
    // then lines, through a short channel — flat memory at any size.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Msg, Failure>>(8);
    let src = source.clone();
    let staging_dir = staging.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let sent = each_file(
            &src,
            &|p| p.starts_with("blobs/") || p == "items.jsonl",
            &mut |path, r| {
                if path == "items.jsonl" {
                    for (n, line) in BufReader::new(r).lines().enumerate() {
                        let line = line?;
                        if line.trim().is_empty() {
                            continue;
                        }
                        let parsed: Line = serde_json::from_str(&line).map_err(|e| {
                            Failure::Bad(format!("items.jsonl line {}: {e}", n + 1))
                        })?;
                        if tx
                            .blocking_send(Ok(Msg::Line(n + 1, Box::new(parsed))))
                            .is_err()
                        {
                            return Ok(());
                        }
                    }
                    return Ok(());
                }
                let (key, tmp) = stage(&staging_dir, path, r)?;
                let _ = tx.blocking_send(Ok(Msg::Blob(key, tmp)));
                Ok(())
            },
        );
        if let Err(f) = sent {
            let _ = tx.blocking_send(Err(f));
        }
    });

    let mut report =
        String::from("line,outcome,content_id,platform,platform_id,code,message,text\n");
    let (mut new, mut known, mut files) = (0u64, 0u64, 0u64);
    let mut progress = Progress::new("items imported");
    let mut failed: Option<Failure> = None;
    while let Some(msg) = rx.recv().await {
        match msg {
            Err(f) => failed = Some(f),
            Ok(Msg::Blob(key, path)) => match blobs.put_file(&key, &path, key.content_type()).await
            {
                Ok(_) => files += 1,
                Err(e) => failed = Some(Failure::Runtime(format!("cannot store {key}: {e}"))),
            },
            Ok(Msg::Line(n, line)) => {
                let item = &line.stored.item;
                match restore::restore(&db, &line).await {
                    Ok(r) => {
                        if r.created {
                            new += 1;
                        } else {
                            known += 1;
                        }
                        report.push_str(&format!(
                            "{n},{},{},{},{},,,{}\n",
                            if r.created { "new" } else { "known" },
                            r.content_id,
                            item.platform,
                            csv_cell(&item.platform_id),
                            csv_cell(&item.canonical_url)
                        ));
                        progress.update(new + known, total);
                    }
                    Err(RestoreError::Invalid(m)) => {
                        failed = Some(Failure::Bad(format!("items.jsonl line {n}: {m}")));
                    }
                    Err(RestoreError::Db(e)) => {
                        failed = Some(Failure::Runtime(format!(
                            "the database failed at items.jsonl line {n}: {e}"
                        )));
                    }
                }
            }
        }
        if failed.is_some() {
            break;
        }
    }
    drop(rx);
    let _ = reader.await;
    let _ = std::fs::remove_dir(&staging);
    std::fs::write(report_path, &report)
        .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", report_path.display())))?;
    if let Some(f) = failed {
        return Err(f);
    }
    eprintln!(
        "imported {total} items: {new} new, {known} already archived, 0 refused; {files} files stored; report: {}",
        report_path.display()
    );
    Ok(())
}

/// One file of `blobs/` copied to a staging file, its SHA-256 checked
/// against its name.
fn stage(
    staging: &Path,
    path: &str,
    r: &mut dyn Read,
) -> Result<(BlobKey, tempfile::TempPath), Failure> {
    let key = BlobKey::parse(path).ok_or_else(|| {
        Failure::Bad(format!(
            "{path}: not a blob key (blobs/sha256/ab/cd/<sha256>.<ext>)"
        ))
    })?;
    let mut tmp = tempfile::NamedTempFile::new_in(staging)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])?;
    }
    tmp.flush()?;
    let sha = hex::encode(hasher.finalize());
    if sha != key.sha256() {
        return Err(Failure::Bad(format!(
            "{path}: its content's SHA-256 is {sha}, not the one its name says: the export is damaged"
        )));
    }
    Ok((key, tmp.into_temp_path()))
}
