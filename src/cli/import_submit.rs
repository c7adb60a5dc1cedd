//! The importer's submission loop: links go through the batch intake
//! (`intake::accept_batch`) in batches of [`BATCH`] — one transaction each,
//! short links resolved concurrently — with their original times, and the
//! parse jobs of new items are queued only while the parse queue has room
//! below its high-water mark (the rest stay due in the database and the
//! reconciler feeds them in as the workers drain the queue), so 100,000
//! bookmarks never flood the queue. The progress bar shows the queue.
//!
//! [`IN_FLIGHT`] batches run at once (one identifying its links while
//! another is being stored), answered in file order: the report keeps the
//! file's order, and a database failure stops the import at the first
//! batch that failed. The ones before it are committed; the batches already
//! under way after it may be committed too without a report row (importing
//! the file again reports them as known).

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use vaultstream_adapters::intake::{self, Pace, Share};
use vaultstream_adapters::links::Linker;
use vaultstream_core::content::Channel;
use vaultstream_core::queue::JobQueue;

use super::progress::Progress;

/// Links per batch (one transaction each).
pub const BATCH: usize = 500;
/// Batches under way at once.
pub const IN_FLIGHT: usize = 3;

/// One link to submit, with where it came from in the file.
#[derive(Debug, Clone)]
pub struct Link {
    pub line: usize,
    pub text: String,
    pub tags: Vec<String>,
    pub note: Option<String>,
    /// When the user saved it in the tool it comes from.
    pub added_at: Option<DateTime<Utc>>,
}

/// What the import did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub new: u64,
    pub known: u64,
    pub refused: u64,
    /// New items queued during the import.
    pub queued: u64,
    /// New items left due in the database for the reconciler.
    pub deferred: u64,
}

/// The database failed on the batch starting at this line (batches before
/// it are committed, nothing of this one is; see the module's note on the
/// batches under way after it).
#[derive(Debug)]
pub struct Failed {
    pub line: usize,
    pub error: DbErr,
}

/// A CSV field, quoted when it must be.
pub fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Submit every link, appending one report row per link
/// (`line,outcome,content_id,platform,platform_id,code,message,text`).
pub async fn submit_all(
    linker: &Linker,
    db: &DatabaseConnection,
    queue: Option<&dyn JobQueue>,
    links: Vec<Link>,
    submitted_by: &str,
    report: &mut String,
    progress: &mut Progress,
) -> Result<Tally, Failed> {
    use futures::StreamExt as _;
    let total = links.len() as u64;
    let mut tally = Tally::default();
    let mut done = 0u64;
    let mut chunks = Vec::new();
    let mut links = links.into_iter().peekable();
    while links.peek().is_some() {
        chunks.push(links.by_ref().take(BATCH).collect::<Vec<Link>>());
    }
    let mut batches = futures::stream::iter(chunks.into_iter().map(|chunk| async move {
        let shares = chunk
            .iter()
            .map(|l| {
                let share = Share {
                    text: l.text.clone(),
                    tags: l.tags.clone(),
                    note: l.note.clone(),
                    channel: Channel::Cli,
                    submitted_by: Some(submitted_by.to_owned()),
                    request_id: None,
                };
                (share, l.added_at)
            })
            .collect();
        let result = intake::accept_batch(linker, db, queue, shares, Pace::Room).await;
        (chunk, result)
    }))
    .buffered(IN_FLIGHT);
    while let Some((chunk, result)) = batches.next().await {
        let result = result.map_err(|error| Failed {
            line: chunk.first().map(|l| l.line).unwrap_or(0),
            error,
        })?;
        tally.queued += result.queued as u64;
        tally.deferred += result.deferred as u64;
        for (l, r) in chunk.iter().zip(result.results) {
            let row = match r {
                Ok(r) => {
                    if r.created {
                        tally.new += 1;
                    } else {
                        tally.known += 1;
                    }
                    format!(
                        "{},{},{},{},{},,,{}\n",
                        l.line,
                        if r.created { "new" } else { "known" },
                        r.content_id,
                        r.platform,
                        csv_cell(&r.platform_id),
                        csv_cell(&l.text)
                    )
                }
                Err(err) => {
                    tally.refused += 1;
                    format!(
                        "{},refused,,,,{},{},{}\n",
                        l.line,
                        err.code,
                        csv_cell(&err.message),
                        csv_cell(&l.text)
                    )
                }
            };
            report.push_str(&row);
        }
        done += chunk.len() as u64;
        if let Some(q) = queue {
            let depth = q.depth().await.ok().flatten();
            progress.set_note(match (depth, q.high_water()) {
                (Some(d), Some(h)) => {
                    format!("queue {d}/{h}, {} waiting for the workers", tally.deferred)
                }
                _ => format!("{} queued", tally.queued),
            });
        }
        progress.update(done, total);
    }
    Ok(tally)
}
