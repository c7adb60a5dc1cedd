//! VaultStream's benchmarks, each beside the limit of the machine it runs
//! on, measured in the same run (see bench/README.md for the results).
//!
//! Layout:
//! - [`report`]: one result row per scenario variant: a JSON line and a
//!   Markdown table row; the machine's description.
//! - [`deploy`]: a throwaway deployment (PostgreSQL database or SQLite
//!   file, Redis namespace, S3 bucket) and the real `vaultstream` binary
//!   run against it as a child process, with its peak memory.
//! - [`load`]: an HTTP/1.1 load generator (N keep-alive connections).
//! - one module per scenario: [`ingest`], [`import`], [`queue`],
//!   [`images`], [`video`], [`e2e`], [`search`], [`refresh`].
//!
//! [`run`] runs the selected scenarios; `--quick` runs each one small, and
//! the test suite runs that, so the benchmark never rots.

pub mod deploy;
pub mod e2e;
pub mod images;
pub mod import;
pub mod ingest;
pub mod load;
pub mod queue;
pub mod refresh;
pub mod report;
pub mod search;
pub mod video;

use std::path::PathBuf;

pub use report::{Machine, Row};

/// Every scenario, in the order they run.
pub const SCENARIOS: &[&str] = &[
    "ingest", "import", "queue", "images", "video", "e2e", "search", "refresh",
];

/// What to run and how big.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Every scenario small (seconds, not minutes): for the test suite.
    pub quick: bool,
    /// Scenarios to run (names from [`SCENARIOS`]); empty means all.
    pub only: Vec<String>,
    /// The `vaultstream` binary to run as the API and worker processes.
    pub vaultstream: PathBuf,
    /// The photo corpus (`shared/fixtures/media`).
    pub photos: PathBuf,
    /// `bench/pillow_baseline.py`.
    pub pillow_script: PathBuf,
    /// Python with Pillow, for the baseline.
    pub python: String,
    /// Items in the search scenario's corpus (default: 3,000 quick,
    /// 1,000,000 full).
    pub search_items: Option<u64>,
    /// The search scenario without its baselines.
    pub search_ours_only: bool,
}

impl Opts {
    /// Defaults for a checkout: the binary next to this one, the corpus and
    /// script found above this crate's directory.
    pub fn for_checkout(quick: bool) -> Self {
        let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let photos = here
            .ancestors()
            .flat_map(|d| {
                [
                    d.join("shared/fixtures/media"),
                    d.join("../shared/fixtures/media"),
                ]
            })
            .find(|p| p.is_dir())
            .unwrap_or_else(|| here.join("../../shared/fixtures/media"));
        let vaultstream = std::env::current_exe()
            .ok()
            .and_then(|p| {
                let dir = p.parent()?;
                // A bench binary lives in target/<profile>/, a test binary in
                // target/<profile>/deps/.
                [dir.join("vaultstream"), dir.join("../vaultstream")]
                    .into_iter()
                    .find(|c| c.is_file())
            })
            .unwrap_or_else(|| PathBuf::from("vaultstream"));
        Opts {
            quick,
            only: Vec::new(),
            search_items: None,
            search_ours_only: false,
            vaultstream,
            photos,
            pillow_script: here.join("pillow_baseline.py"),
            python: std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned()),
        }
    }

    fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

/// Run the selected scenarios, printing each row as it is measured (a JSON
/// line on stdout, a table row on stderr), and return every row.
pub async fn run(opts: &Opts) -> anyhow::Result<(Machine, Vec<Row>)> {
    for s in &opts.only {
        anyhow::ensure!(
            SCENARIOS.contains(&s.as_str()),
            "unknown scenario {s:?} (known: {})",
            SCENARIOS.join(", ")
        );
    }
    let machine = Machine::read().await;
    eprintln!("{}", machine.describe());
    eprintln!("{}", report::TABLE_HEAD);
    let mut rows = Vec::new();
    let mut emit = |new: Vec<Row>| {
        for r in new {
            r.print();
            rows.push(r);
        }
    };
    if opts.wants("ingest") {
        emit(ingest::run(opts).await?);
    }
    if opts.wants("import") {
        emit(import::run(opts).await?);
    }
    if opts.wants("queue") {
        emit(queue::run(opts).await?);
    }
    if opts.wants("images") {
        emit(images::run(opts).await?);
    }
    if opts.wants("video") {
        emit(video::run(opts).await?);
    }
    if opts.wants("e2e") {
        emit(e2e::run(opts).await?);
    }
    if opts.wants("search") {
        emit(search::run(opts).await?);
    }
    if opts.wants("refresh") {
        emit(refresh::run(opts).await?);
    }
    Ok((machine, rows))
}
