//! `export DIR`: everything in an open layout, so nobody's archive is
//! locked in.
//!
//! ```text
//! DIR/manifest.json          format, version, when, filters, counts, checksums
//! DIR/items.jsonl            one item per line: the same object as
//!                            GET /api/v1/contents/{id} (tags, sources,
//!                            parts, fields, media with blob keys), plus
//!                            `raw_metadata`: the item as the adapter parsed
//!                            it, `raw` inside it the upstream document
//! DIR/blobs/sha256/ab/cd/<sha256>.<ext>   every archived file, under its key
//! ```
//!
//! Items are written in id order, one page at a time (memory stays flat
//! however large the archive), each item's blobs right after it. `--resume`
//! continues an interrupted export: it keeps the complete lines of
//! `items.jsonl`, continues after the last one, and skips blobs already
//! present with the right size.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use sha2::{Digest, Sha256};
use vaultstream_core::Settings;
use vaultstream_core::blob::{BlobKey, BlobStore};
use vaultstream_core::db::contents;
use vaultstream_core::db::entities::{content, content_tag};
use vaultstream_core::platform::Platform;

use super::progress::Progress;
use super::{EXIT_RUNTIME, EXIT_USAGE};

/// Items read per query.
const PAGE: u64 = 200;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write (created; must be empty unless --resume).
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Only this platform's items.
    #[arg(long)]
    platform: Option<String>,
    /// Only items with this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Only items archived on or after this day (YYYY-MM-DD).
    #[arg(long, value_name = "YYYY-MM-DD")]
    since: Option<String>,
    /// Continue an interrupted export into the same directory.
    #[arg(long)]
    resume: bool,
    /// Items only, no media files.
    #[arg(long)]
    no_blobs: bool,
}

struct Filter {
    platform: Option<Platform>,
    tag: Option<String>,
    since: Option<chrono::DateTime<Utc>>,
}

impl Filter {
    fn query(&self) -> sea_orm::Select<content::Entity> {
        let mut q = content::Entity::find();
        if let Some(p) = self.platform {
            q = q.filter(content::Column::Platform.eq(p.as_str()));
        }
        if let Some(t) = &self.tag {
            q = q.filter(
                content::Column::Id.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(content_tag::Column::ContentId)
                        .from(content_tag::Entity)
                        .and_where(content_tag::Column::Tag.eq(t.as_str()))
                        .to_owned(),
                ),
            );
        }
        if let Some(s) = self.since {
            q = q.filter(content::Column::CreatedAt.gte(s));
        }
        q
    }
}

pub async fn run(settings: &Settings, args: &Args) -> ExitCode {
    let filter = match parse_filter(args) {
        Ok(f) => f,
        Err(message) => {
            eprintln!("vaultstream: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let db = match super::serve::open_db(settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    let blobs = match vaultstream_core::blob::open(settings).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("vaultstream: cannot open the blob store: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match export(&db, blobs.as_ref(), args, &filter).await {
        Ok(summary) => {
            eprintln!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vaultstream: export failed: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn parse_filter(args: &Args) -> Result<Filter, String> {
    let platform = args
        .platform
        .as_deref()
        .map(|p| {
            p.parse::<Platform>()
                .map_err(|_| format!("--platform: no platform `{p}`"))
        })
        .transpose()?;
    let since = args
        .since
        .as_deref()
        .map(|s| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
                .map_err(|_| format!("--since: `{s}` is not a date like 2026-01-31"))
        })
        .transpose()?;
    Ok(Filter {
        platform,
        tag: args
            .tag
            .as_deref()
            .map(|t| t.trim_start_matches('#').to_lowercase()),
        since,
    })
}

/// The id of the last complete line of `items.jsonl`, truncating a partial
/// last line (an interrupted write).
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

async fn export(
    db: &DatabaseConnection,
    blobs: &dyn BlobStore,
    args: &Args,
    filter: &Filter,
) -> anyhow::Result<String> {
    let dir = &args.dir;
    let items_path = dir.join("items.jsonl");
    let (mut after, mut written) = if args.resume && items_path.exists() {
        resume_point(&items_path)?
    } else {
        if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
            anyhow::bail!(
                "{} is not empty (use --resume to continue an export there)",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir)?;
        (0, 0)
    };
    let total = filter.query().count(db).await?;
    let mut out = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&items_path)?,
    );
    let mut progress = Progress::new("items exported");
    let (mut blob_files, mut blob_bytes, mut missing) = (0u64, 0u64, 0u64);
    loop {
        let ids: Vec<i64> = filter
            .query()
            .select_only()
            .column(content::Column::Id)
            .filter(content::Column::Id.gt(after))
            .order_by_asc(content::Column::Id)
            .limit(PAGE)
            .into_tuple()
            .all(db)
            .await?;
        let Some(&last) = ids.last() else { break };
        let raws: std::collections::HashMap<i64, Option<serde_json::Value>> =
            content::Entity::find()
                .select_only()
                .column(content::Column::Id)
                .column(content::Column::RawMetadata)
                .filter(content::Column::Id.is_in(ids.iter().copied()))
                .into_tuple::<(i64, Option<serde_json::Value>)>()
                .all(db)
                .await?
                .into_iter()
                .collect();
        for id in ids {
            let Some(view) = contents::get(db, id).await? else {
                continue;
            };
            if !args.no_blobs {
                for m in view.media.iter().flatten() {
                    let Some(key) = m.blob_key.as_deref().and_then(BlobKey::parse) else {
                        continue;
                    };
                    match copy_blob(blobs, &key, dir).await? {
                        Some(n) => {
                            blob_files += 1;
                            blob_bytes += n;
                        }
                        None => missing += 1,
                    }
                }
            }
            let mut line = serde_json::to_value(&view)?;
            line["raw_metadata"] = raws.get(&id).cloned().flatten().unwrap_or_default();
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
            written += 1;
        }
        // A page's lines reach the disk before the next page is read, so a
        // resumed export never repeats or skips an item.
        out.flush()?;
        after = last;
        progress.update(written, total.max(written));
    }
    drop(out);
    let (items_sha, items_bytes) = sha256_of(&items_path)?;
    let manifest = serde_json::json!({
        "format": "vaultstream-export",
        "version": 1,
        "exported_at": Utc::now(),
        "vaultstream": env!("CARGO_PKG_VERSION"),
        "filters": {
            "platform": filter.platform.map(|p| p.as_str()),
            "tag": filter.tag,
            "since": filter.since,
        },
        "items": written,
        "blobs": {"files": count_files(&dir.join("blobs"))?, "missing": missing},
        "files": {"items.jsonl": {"sha256": items_sha, "bytes": items_bytes}},
        "layout": "items.jsonl: one GET /api/v1/contents/{id} object per line plus raw_metadata (the parsed item, raw: the upstream document); \
                   blobs/sha256/ab/cd/<sha256>.<ext>: each file under its content address",
    });
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    Ok(format!(
        "exported {written} items to {} ({blob_files} files, {} MiB written this run; {missing} media files not in the blob store)",
        dir.display(),
        blob_bytes >> 20
    ))
}

/// Copy one blob under `dir/blobs/…` unless it is there already with its
/// size; `None` when the store does not have it. Returns bytes written.
async fn copy_blob(
    blobs: &dyn BlobStore,
    key: &BlobKey,
    dir: &Path,
) -> anyhow::Result<Option<u64>> {
    let path = dir.join(key.as_str());
    let Some(info) = blobs.head(key).await? else {
        return Ok(None);
    };
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == info.size) {
        return Ok(Some(0));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("part");
    if let Some(src) = blobs.local_path(key) {
        // Local disk: a streamed copy, whatever the file's size.
        tokio::fs::copy(&src, &tmp).await?;
    } else {
        let Some(bytes) = blobs.get(key).await? else {
            return Ok(None);
        };
        tokio::fs::write(&tmp, &bytes).await?;
    }
    tokio::fs::rename(&tmp, &path).await?;
    Ok(Some(info.size))
}

fn sha256_of(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let n = std::io::copy(&mut f, &mut h)?;
    Ok((hex::encode(h.finalize()), n))
}

fn count_files(dir: &Path) -> anyhow::Result<u64> {
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
