//! `submit <link-or-text>...`: the CLI channel of intake.

use std::io::Read;
use std::process::ExitCode;

use vaultstream_adapters::intake::{self, IntakeError, Share};
use vaultstream_core::Settings;
use vaultstream_core::content::{Channel, normalise_tags};
use vaultstream_core::queue::JobQueue;

use super::{EXIT_RUNTIME, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Links or whole share texts; each is one submission. "-" reads one text from stdin.
    #[arg(required = true, value_name = "LINK-OR-TEXT")]
    texts: Vec<String>,
    /// Tag the submissions (repeatable).
    #[arg(long = "tag", short = 't', value_name = "TAG")]
    tags: Vec<String>,
    /// A note kept with the submissions.
    #[arg(long)]
    note: Option<String>,
    /// Print one JSON object per submission instead of a table row.
    #[arg(long)]
    json: bool,
}

pub async fn run(settings: &Settings, args: &Args) -> ExitCode {
    // A bad tag is refused once, before anything is opened.
    if let Err(e) = normalise_tags(&args.tags) {
        eprintln!("vaultstream: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    let database = match super::serve::open_db(settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    let linker = super::serve::linker(settings);
    // Queue new items now; if the queue is unreachable the item is still
    // stored and a worker's reconciler queues it later.
    let queue = super::serve::open_queue(settings).await.ok();
    let mut refused = 0usize;
    let mut failed = 0usize;
    for text in &args.texts {
        let text = if text == "-" {
            let mut buf = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut buf) {
                eprintln!("vaultstream: cannot read stdin: {e}");
                return ExitCode::from(EXIT_RUNTIME);
            }
            buf
        } else {
            text.clone()
        };
        let share = Share {
            text,
            tags: args.tags.clone(),
            note: args.note.clone(),
            channel: Channel::Cli,
            submitted_by: std::env::var("USER").ok(),
            request_id: None,
        };
        match intake::accept(
            &linker,
            &database,
            queue.as_ref().map(|q| q as &dyn JobQueue),
            share,
        )
        .await
        {
            Err(IntakeError::Refused(e)) => {
                eprintln!("refused  {}: {}", e.code, e.message);
                refused += 1;
            }
            Ok(r) => {
                if args.json {
                    println!("{}", serde_json::to_string(&r).unwrap_or_default());
                } else {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        r.content_id,
                        r.platform,
                        r.platform_id,
                        if r.created { "created" } else { "known" },
                        r.canonical_url
                    );
                }
            }
            Err(IntakeError::Store(e)) => {
                eprintln!("failed   {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        ExitCode::from(EXIT_RUNTIME)
    } else if refused > 0 {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}
