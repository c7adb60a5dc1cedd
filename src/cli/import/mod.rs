//! `import FILE`: bring links from elsewhere. The format is detected:
//!
//! - **Browser bookmarks**: the Netscape bookmark file every browser
//!   exports (`<!DOCTYPE NETSCAPE-Bookmark-file-1>`; each `<A HREF>` is a
//!   link, its `TAGS` attribute and the folders (`<H3>`) around it become
//!   tags, a `<DD>` after it its note).
//! - **Pocket's CSV export**: `title,url,time_added,tags,status`, tags
//!   separated by `|`.
//! - **Karakeep's, Linkwarden's and Omnivore's JSON exports**: links with
//!   their tags, lists/collections (as tags), notes and original times.
//! - **A plain list**: one link or share text per line (`#` comments and
//!   blank lines skipped).
//! - **Our own export** (a directory or a `.tar`): restored whole, not
//!   re-fetched ([`archive`]).
//!
//! The parsers are in [`formats`], one file per format.
//!
//! Every entry goes through the same intake as a share (identity dedups
//! it; the link guard refuses private addresses), so nothing is fetched
//! beyond what a share does; new items are queued for the workers. The end
//! is a summary (new, already archived, refused) and a CSV report of every
//! entry with its outcome, next to the input unless `--report` says where.

mod archive;
mod formats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vaultstream_core::Settings;

use super::import_submit::{Failed, Link, Tally, submit_all};
use super::progress::Progress;
use super::{EXIT_RUNTIME, EXIT_USAGE};
use formats::detect;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The file: a vaultstream export (DIR or .tar), browser bookmarks
    /// (HTML), Pocket's CSV, Karakeep's, Linkwarden's or Omnivore's JSON,
    /// or a list of links.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where to write the per-entry report (CSV); default FILE.report.csv.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Tag every imported link with this too (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
}

fn default_report(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".report.csv");
    file.with_file_name(name)
}

pub async fn run(settings: &Settings, args: &Args) -> ExitCode {
    if let Some(source) = archive::detect(&args.file) {
        let report = args
            .report
            .clone()
            .unwrap_or_else(|| default_report(&args.file));
        return archive::run(settings, source, &report).await;
    }
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("vaultstream: cannot read {}: {e}", args.file.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let Ok(text) = String::from_utf8(bytes) else {
        eprintln!(
            "vaultstream: {} is not UTF-8 text (bookmarks HTML, a CSV or a list of links)",
            args.file.display()
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let format = detect(&text);
    let entries = match format.parse(&text) {
        Ok(e) => e,
        Err(message) => {
            eprintln!("vaultstream: {}: {message}", args.file.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err(e) = vaultstream_core::content::normalise_tags(&args.tags) {
        eprintln!("vaultstream: --tag: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    let db = match super::serve::open_db(settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    let linker = super::serve::linker(settings);
    let queue = super::serve::open_queue(settings).await.ok();
    eprintln!(
        "importing {} links from {} ({})",
        entries.len(),
        args.file.display(),
        format.name()
    );
    let report_path = args
        .report
        .clone()
        .unwrap_or_else(|| default_report(&args.file));
    let mut report =
        String::from("line,outcome,content_id,platform,platform_id,code,message,text\n");
    let mut progress = Progress::new("links imported");
    let total = entries.len() as u64;
    let links = entries
        .into_iter()
        .map(|e| {
            let mut tags = e.tags;
            tags.extend(args.tags.iter().cloned());
            // A folder name that is not a valid tag must not refuse the link:
            // keep the tags that pass on their own.
            tags.retain(|t| {
                vaultstream_core::content::normalise_tags(std::slice::from_ref(t)).is_ok()
            });
            Link {
                line: e.line,
                text: e.text,
                tags,
                note: e.note,
                added_at: e.added_at,
            }
        })
        .collect();
    let tally = match submit_all(
        &linker,
        &db,
        queue
            .as_ref()
            .map(|q| q as &dyn vaultstream_core::queue::JobQueue),
        links,
        &format!("import:{}", format.name()),
        &mut report,
        &mut progress,
    )
    .await
    {
        Ok(t) => t,
        Err(Failed { line, error }) => {
            eprintln!("vaultstream: the database failed at the batch from line {line}: {error}");
            let _ = std::fs::write(&report_path, &report);
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let Tally {
        new,
        known,
        refused,
        deferred,
        ..
    } = tally;
    if let Err(e) = std::fs::write(&report_path, &report) {
        eprintln!("vaultstream: cannot write {}: {e}", report_path.display());
        return ExitCode::from(EXIT_RUNTIME);
    }
    eprintln!(
        "imported {total} links: {new} new, {known} already archived, {refused} refused; report: {}",
        report_path.display()
    );
    if deferred > 0 {
        eprintln!(
            "{deferred} new items wait in the database for the workers; they are queued as the queue drains"
        );
    }
    ExitCode::SUCCESS
}
