//! `vaultstream-bench`: run VaultStream's benchmarks and print one JSON
//! line per result (stdout) and a Markdown table (stderr).

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "vaultstream-bench",
    about = "VaultStream's benchmarks (see bench/README.md)"
)]
struct Cli {
    /// Run every scenario small (seconds): what the test suite runs.
    #[arg(long)]
    quick: bool,
    /// Only these scenarios (ingest, import, queue, images, video, e2e, search); repeatable.
    #[arg(long = "only", value_name = "SCENARIO")]
    only: Vec<String>,
    /// The `vaultstream` binary (default: next to this one).
    #[arg(long, value_name = "PATH")]
    vaultstream: Option<std::path::PathBuf>,
    /// The photo corpus (default: shared/fixtures/media above the checkout).
    #[arg(long, value_name = "DIR")]
    photos: Option<std::path::PathBuf>,
    /// Items in the search scenario's corpus (default 1,000,000; 3,000
    /// with --quick).
    #[arg(long, value_name = "N")]
    search_items: Option<u64>,
    /// Run only our search in the search scenario, not the baselines
    /// (LIKE, FTS5 unicode61 / trigram, pg_trgm scan for minutes a query at
    /// 1,000,000 items).
    #[arg(long)]
    search_ours_only: bool,
    /// Also write the rows as a JSON array to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let mut opts = vaultstream_bench::Opts::for_checkout(cli.quick);
    opts.only = cli.only;
    opts.search_items = cli.search_items;
    opts.search_ours_only = cli.search_ours_only;
    if let Some(p) = cli.vaultstream {
        opts.vaultstream = p;
    }
    if let Some(p) = cli.photos {
        opts.photos = p;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vaultstream-bench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(vaultstream_bench::run(&opts)) {
        Ok((machine, rows)) => {
            if let Some(path) = cli.json {
                let doc = serde_json::json!({"machine": machine, "rows": rows});
                if let Err(e) = std::fs::write(&path, format!("{doc:#}\n")) {
                    eprintln!("vaultstream-bench: writing {}: {e}", path.display());
                    return std::process::ExitCode::FAILURE;
                }
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vaultstream-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
