//! `export DIR|FILE.tar`: everything in an open layout, so nobody's archive
//! is locked in (the layout: `vaultstream_core::export`, README "Export").
//! A path ending in `.tar` gets one tar stream; anything else is a
//! directory. `--resume` continues an interrupted directory export.

use std::path::PathBuf;
use std::process::ExitCode;

use vaultstream_core::Settings;
use vaultstream_core::export::dir::DirSink;
use vaultstream_core::export::tar::TarSink;
use vaultstream_core::export::{self, Filter, Start, Totals};

use super::progress::Progress;
use super::{EXIT_RUNTIME, EXIT_USAGE};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write (created; must be empty unless --resume), or
    /// a FILE.tar to write one tar archive.
    #[arg(value_name = "DIR|FILE.tar")]
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

pub async fn run(settings: &Settings, args: &Args) -> ExitCode {
    let filter = match Filter::parse(
        args.platform.as_deref(),
        args.tag.as_deref(),
        args.since.as_deref(),
    ) {
        Ok(f) => f,
        Err(message) => {
            eprintln!("vaultstream: --{message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let tar = args.dir.extension().is_some_and(|e| e == "tar");
    if tar && args.resume {
        eprintln!("vaultstream: --resume continues a directory export, not a .tar");
        return ExitCode::from(EXIT_USAGE);
    }
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
    let mut progress = Progress::new("items exported");
    let on_page = |done, total| progress.update(done, total);
    let result: anyhow::Result<Totals> = if tar {
        write_tar(&db, blobs.as_ref(), args, &filter, on_page).await
    } else {
        match DirSink::open(&args.dir, args.resume) {
            Ok((mut sink, start)) => {
                export::run(
                    &db,
                    blobs.as_ref(),
                    &filter,
                    start,
                    !args.no_blobs,
                    &mut sink,
                    on_page,
                )
                .await
            }
            Err(e) => Err(e),
        }
    };
    match result {
        Ok(t) => {
            eprintln!(
                "exported {} items to {} ({} files, {} MiB written this run; {} media files not in the blob store)",
                t.items,
                args.dir.display(),
                t.blob_files,
                t.blob_bytes >> 20,
                t.missing
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("vaultstream: export failed: {e:#}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// The tar goes to `FILE.tar.part`, renamed when complete: a `.tar` under
/// its name is always whole.
async fn write_tar(
    db: &sea_orm::DatabaseConnection,
    blobs: &dyn vaultstream_core::blob::BlobStore,
    args: &Args,
    filter: &Filter,
    progress: impl FnMut(u64, u64),
) -> anyhow::Result<Totals> {
    if args.dir.exists() {
        anyhow::bail!("{} exists already", args.dir.display());
    }
    let part = args.dir.with_extension("tar.part");
    let file =
        tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::create(&part).await?);
    let mut sink = TarSink::new(file)?;
    let t = export::run(
        db,
        blobs,
        filter,
        Start::default(),
        !args.no_blobs,
        &mut sink,
        progress,
    )
    .await?;
    drop(sink);
    tokio::fs::rename(&part, &args.dir).await?;
    Ok(t)
}
