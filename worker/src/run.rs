//! The worker process: an apalis worker on the configured queue, the
//! reconciler beside it, and a graceful stop — on shutdown no new job is
//! taken, in-flight jobs get `VAULTSTREAM_SHUTDOWN_TIMEOUT_MS` to finish,
//! and whatever is still running then keeps its lease until it expires and
//! another worker takes the item over. A queue worker that stops on its own
//! before shutdown (apalis gives up on a backend error, e.g. after a Redis
//! restart or flush) is started again ([`supervised`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use apalis::prelude::*;
use tokio::sync::watch;
use tracing::{info, warn};
use vaultstream_core::Settings;

use crate::media::handle_media;
use crate::parse::{WorkerCtx, handle_parse};
use crate::publish::handle_publish;
use crate::queue::{ApalisQueue, Transport};
use crate::reconcile;

async fn stopped(mut rx: watch::Receiver<bool>) -> Result<(), std::io::Error> {
    let _ = rx.wait_for(|s| *s).await;
    Ok(())
}

type Running = Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send>>;

/// Keep one apalis worker (parse, media or publish) running until
/// shutdown. apalis 1.0 ends a worker for good on the first failed poll of
/// its backend, and a restarted or flushed Redis has forgotten the
/// worker's registration, so every later poll fails ("worker not
/// registered"): unsupervised, one Redis restart stopped all job
/// processing. A worker that ends before shutdown is started again under a
/// new name (Redis may still count the old one as alive for a while),
/// after a pause that doubles from 1 s up to 30 s while it keeps failing.
/// The jobs it held are not lost: their rows' leases expire and the
/// reconciler queues them again.
async fn supervised(
    kind: &'static str,
    name: String,
    mut stop: watch::Receiver<bool>,
    start: impl Fn(String) -> Running,
) -> Result<(), WorkerError> {
    const FIRST_PAUSE: Duration = Duration::from_secs(1);
    const MAX_PAUSE: Duration = Duration::from_secs(30);
    /// A worker that ran this long before it stopped failed afresh.
    const HEALTHY_RUN: Duration = Duration::from_secs(60);
    let mut pause = FIRST_PAUSE;
    let mut generation = 0u64;
    loop {
        let worker = match generation {
            0 => name.clone(),
            n => format!("{name}-{n}"),
        };
        let began = Instant::now();
        let result = start(worker.clone()).await;
        if *stop.borrow() {
            return result;
        }
        if began.elapsed() >= HEALTHY_RUN {
            pause = FIRST_PAUSE;
        }
        let error = match &result {
            Ok(()) => "stopped without a shutdown".to_owned(),
            Err(e) => e.to_string(),
        };
        warn!(
            worker = %worker,
            kind,
            error = %error,
            restart_in_ms = pause.as_millis() as u64,
            "a worker stopped on its own; starting it again"
        );
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.wait_for(|s| *s) => return Ok(()),
        }
        pause = (pause * 2).min(MAX_PAUSE);
        generation += 1;
    }
}

/// Run workers until `shutdown` resolves.
pub async fn run_workers(
    settings: &Settings,
    ctx: Arc<WorkerCtx>,
    queue: ApalisQueue,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let reconciler = tokio::spawn(reconcile::run(
        ctx.clone(),
        Duration::from_millis(settings.reconcile_interval_ms),
        Duration::from_millis(settings.requeue_after_ms),
        rx.clone(),
    ));
    let name = format!(
        "{}-{}-{}",
        settings.queue_namespace,
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let poll = Duration::from_millis(settings.poll_interval_ms);
    let concurrency = settings.worker_concurrency;
    crate::media::job::clean_staging(&ctx.media.staging);
    info!(
        worker = %name,
        queue = queue.backend_name(),
        concurrency,
        media_concurrency = settings.media.concurrency,
        archive_media = ctx.media.archive,
        "worker started"
    );

    // The same worker on each backend; the storages differ in type only.
    // Each is supervised: started again if it stops before shutdown.
    macro_rules! worker_on {
        ($storage:expr, $kind:expr, $name:expr, $concurrency:expr, $handler:expr) => {{
            let (storage, ctx, stop) = ($storage, ctx.clone(), rx.clone());
            let start = move |name: String| -> Running {
                Box::pin(
                    WorkerBuilder::new(name)
                        .backend(storage.clone().poll_with_interval(poll))
                        .data(ctx.clone())
                        .concurrency($concurrency)
                        .build($handler)
                        .run_until(stopped(stop.clone())),
                )
            };
            Box::pin(supervised($kind, $name, rx.clone(), start)) as Running
        }};
    }
    let parse_name = format!("{name}-parse");
    let parse: Running = match queue.parse {
        Transport::Redis { storage, .. } => {
            worker_on!(storage, "parse", parse_name, concurrency, handle_parse)
        }
        Transport::Sqlite { storage, .. } => {
            worker_on!(storage, "parse", parse_name, concurrency, handle_parse)
        }
        Transport::Postgres { storage, .. } => {
            worker_on!(storage, "parse", parse_name, concurrency, handle_parse)
        }
    };
    // Media jobs (downloads, transcodes, uploads) have a pool of their own:
    // a slow video never holds a parse slot.
    let media_name = format!("{name}-media");
    let media_concurrency = settings.media.concurrency;
    let media: Running = match queue.media {
        Transport::Redis { storage, .. } => {
            worker_on!(
                storage,
                "media",
                media_name,
                media_concurrency,
                handle_media
            )
        }
        Transport::Sqlite { storage, .. } => {
            worker_on!(
                storage,
                "media",
                media_name,
                media_concurrency,
                handle_media
            )
        }
        Transport::Postgres { storage, .. } => {
            worker_on!(
                storage,
                "media",
                media_name,
                media_concurrency,
                handle_media
            )
        }
    };
    // Publishing (Telegram) has a small pool of its own: sends are paced
    // per chat anyway, and a Telegram outage never holds up archiving.
    let publish_name = format!("{name}-publish");
    let publish: Running = match queue.publish {
        Transport::Redis { storage, .. } => {
            worker_on!(storage, "publish", publish_name, 4, handle_publish)
        }
        Transport::Sqlite { storage, .. } => {
            worker_on!(storage, "publish", publish_name, 4, handle_publish)
        }
        Transport::Postgres { storage, .. } => {
            worker_on!(storage, "publish", publish_name, 4, handle_publish)
        }
    };
    let worker = async move {
        let (p, m, b) = tokio::join!(parse, media, publish);
        p.and(m).and(b)
    };
    let deadline = Duration::from_millis(settings.shutdown_timeout_ms);
    let result = tokio::select! {
        r = worker => r.map_err(|e| anyhow::anyhow!("worker stopped: {e}")),
        _ = async {
            let _ = stopped(rx.clone()).await;
            tokio::time::sleep(deadline).await;
        } => {
            warn!(deadline_ms = deadline.as_millis() as u64, "jobs still running at the shutdown deadline; their leases will expire and another worker will take them");
            Ok(())
        }
    };
    reconciler.abort();
    info!(worker = %name, "worker stopped");
    result
}
