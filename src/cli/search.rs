//! `search`: query the archive from a shell, and `search reindex` to
//! (re)build the full-text index of every item.

use std::process::ExitCode;

use vaultstream_core::Settings;
use vaultstream_core::db::search;

use super::progress::Progress;
use super::{EXIT_RUNTIME, EXIT_USAGE};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// The query: words, "phrases", -exclusions, OR, platform: tag: author:
    /// kind: status: before: after: has: (see README, "Search").
    #[arg(value_name = "QUERY")]
    query: Option<String>,
    /// Most hits to print.
    #[arg(long, default_value_t = 20)]
    limit: u64,
    /// One JSON object per hit instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Rebuild the search index of every item (after upgrading, or to
    /// repair it); prints progress.
    Reindex {
        /// Items per transaction.
        #[arg(long, default_value_t = 500)]
        batch: u64,
    },
}

pub async fn run(settings: &Settings, args: &Args) -> ExitCode {
    let db = match super::serve::open_db(settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    if let Some(Action::Reindex { batch }) = &args.action {
        let mut progress = Progress::new("indexed");
        let started = std::time::Instant::now();
        return match search::reindex(&db, *batch, |done, total| progress.update(done, total)).await
        {
            Ok(n) => {
                eprintln!(
                    "search index rebuilt: {n} items in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vaultstream: reindex failed: {e}");
                ExitCode::from(EXIT_RUNTIME)
            }
        };
    }
    let Some(q) = args.query.as_deref() else {
        eprintln!("vaultstream: give a query, e.g. vaultstream search '地铁 platform:weibo'");
        return ExitCode::from(EXIT_USAGE);
    };
    let parsed = match search::parse(q) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("vaultstream: {}: {}", e.code, e.message);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let hits = match search::search(&db, &parsed, args.limit.clamp(1, 200), 0).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("vaultstream: search failed: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    for h in &hits.hits {
        if args.json {
            println!("{}", serde_json::to_string(h).unwrap_or_default());
            continue;
        }
        let title = h.item.title.as_deref().unwrap_or(&h.item.display_title);
        println!(
            "{}\t{}\t{}\t{}",
            h.item.id, h.item.platform, title, h.item.canonical_url
        );
        for field in ["title", "text", "notes"] {
            if let Some(s) = h.highlights.get(field).filter(|_| field != "title") {
                println!("\t{}", terminal_marks(s));
            }
        }
    }
    if hits.hits.is_empty() {
        eprintln!("no items match");
    }
    ExitCode::SUCCESS
}

/// A snippet for a terminal: `<mark>` as bold, HTML entities back to text.
fn terminal_marks(s: &str) -> String {
    let bold = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (on, off) = if bold {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    s.replace("<mark>", on)
        .replace("</mark>", off)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
