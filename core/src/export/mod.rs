//! Export: everything in an open, documented layout (README "Export"),
//! written to a directory ([`dir`]) or as one tar stream ([`tar`]) by the
//! same [`run`]. One line per item ([`record`]), each item's archived files
//! under their content address, a manifest with counts and checksums.
//! [`restore`] is the way back in (`vaultstream import`).
//!
//! ```text
//! manifest.json                          format, version, filters, counts, checksums
//! items.jsonl                            one item per line (see `record`)
//! blobs/sha256/ab/cd/<sha256>.<ext>      every archived file, under its key
//! ```
//!
//! Items are read in id order, a page at a time (memory stays flat however
//! large the archive), each item's files right before its line.

pub mod dir;
pub mod record;
pub mod restore;
pub mod tar;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::blob::{BlobKey, BlobReader, BlobStore};
use crate::db::entities::{content, content_tag};
use crate::platform::Platform;

/// `manifest.json`'s `format`.
pub const FORMAT: &str = "vaultstream-export";
/// `manifest.json`'s `version`: 2 added `stored` to each line.
pub const VERSION: u32 = 2;
/// Items read per query.
const PAGE: u64 = 200;

/// Which items: every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub platform: Option<Platform>,
    /// Normalised (lower case, no `#`).
    pub tag: Option<String>,
    /// Items archived (first submitted) at or after.
    pub since: Option<DateTime<Utc>>,
}

impl Filter {
    /// From the words a user gives (`--platform`, `--tag`, `--since`
    /// YYYY-MM-DD); an error names the bad one.
    pub fn parse(
        platform: Option<&str>,
        tag: Option<&str>,
        since: Option<&str>,
    ) -> Result<Self, String> {
        let platform = platform
            .map(|p| {
                p.parse::<Platform>()
                    .map_err(|_| format!("platform: no platform `{p}`"))
            })
            .transpose()?;
        let since = since
            .map(|s| {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
                    .map_err(|_| format!("since: `{s}` is not a date like 2026-01-31"))
            })
            .transpose()?;
        Ok(Filter {
            platform,
            tag: tag.map(|t| t.trim_start_matches('#').to_lowercase()),
            since,
        })
    }

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

    fn manifest(&self) -> serde_json::Value {
        serde_json::json!({
            "platform": self.platform.map(|p| p.as_str()),
            "tag": self.tag,
            "since": self.since,
        })
    }
}

/// What became of one blob.
pub enum BlobWritten {
    /// Written now, this many bytes.
    Written(u64),
    /// There already (a resumed export, a file shared by two items).
    AlreadyThere,
}

/// Where an export goes: a directory or a tar stream.
#[allow(async_fn_in_trait, reason = "used generically, never as dyn")]
pub trait Sink {
    /// Whether the blob is there already with this size (a resumed
    /// export; a file two items share).
    async fn has_blob(&mut self, key: &BlobKey, size: u64) -> bool;
    async fn blob(&mut self, key: &BlobKey, blob: BlobReader) -> anyhow::Result<BlobWritten>;
    /// One line of `items.jsonl` (without its newline).
    async fn line(&mut self, line: &[u8]) -> anyhow::Result<()>;
    /// A page of lines is complete (a directory makes them durable).
    async fn page_done(&mut self) -> anyhow::Result<()>;
    /// The manifest (the sink adds `files`: the checksums of what it wrote).
    async fn finish(&mut self, manifest: serde_json::Value) -> anyhow::Result<()>;
}

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Lines in `items.jsonl` (with those before a resume).
    pub items: u64,
    /// Files written by this run, and their bytes.
    pub blob_files: u64,
    pub blob_bytes: u64,
    /// Files the items name that the store does not have.
    pub missing: u64,
    /// Distinct files in the export.
    pub files_total: u64,
}

/// Where to start: after item `after`, with `lines` lines already written
/// and `files` files already there (a resumed export), or from scratch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Start {
    pub after: i64,
    pub lines: u64,
    pub files: u64,
}

/// Export the items `filter` selects into `sink`; `progress(done, total)`
/// after each page.
pub async fn run<S: Sink>(
    db: &DatabaseConnection,
    blobs: &dyn BlobStore,
    filter: &Filter,
    start: Start,
    with_blobs: bool,
    sink: &mut S,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<Totals> {
    let total = filter.query().count(db).await? + start.lines;
    let mut t = Totals {
        items: start.lines,
        files_total: start.files,
        ..Totals::default()
    };
    let mut after = start.after;
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
        for id in ids {
            let Some(line) = record::line(db, id).await? else {
                continue;
            };
            if with_blobs {
                for key in line["stored"]["media"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m["blob_key"].as_str())
                    .filter_map(BlobKey::parse)
                {
                    copy_blob(blobs, &key, sink, &mut t).await?;
                }
            }
            sink.line(&serde_json::to_vec(&line)?).await?;
            t.items += 1;
        }
        // A page's lines are complete before the next page is read, so a
        // resumed export never repeats or skips an item.
        sink.page_done().await?;
        after = last;
        progress(t.items, total.max(t.items));
    }
    progress(t.items, t.items);
    let manifest = serde_json::json!({
        "format": FORMAT,
        "version": VERSION,
        "exported_at": Utc::now(),
        "vaultstream": env!("CARGO_PKG_VERSION"),
        "filters": filter.manifest(),
        "items": t.items,
        "blobs": {"files": t.files_total, "missing": t.missing},
        "layout": "README.md, section Export: items.jsonl (one item per line: the API's item object, \
                   raw_metadata, stored), blobs/sha256/ab/cd/<sha256>.<ext> (each file under its \
                   content address), manifest.json (this file, written last)",
    });
    sink.finish(manifest).await?;
    Ok(t)
}

async fn copy_blob<S: Sink>(
    blobs: &dyn BlobStore,
    key: &BlobKey,
    sink: &mut S,
    t: &mut Totals,
) -> anyhow::Result<()> {
    let Some(info) = blobs.head(key).await? else {
        t.missing += 1;
        return Ok(());
    };
    if sink.has_blob(key, info.size).await {
        return Ok(());
    }
    let Some(reader) = blobs.open_read(key).await? else {
        t.missing += 1;
        return Ok(());
    };
    if let BlobWritten::Written(n) = sink.blob(key, reader).await? {
        t.blob_files += 1;
        t.blob_bytes += n;
        t.files_total += 1;
    }
    Ok(())
}
