//! The worker process: an apalis worker on the configured queue, the
//! reconciler beside it, and a graceful stop — on shutdown no new job is
//! taken, in-flight jobs get `VAULTSTREAM_SHUTDOWN_TIMEOUT_MS` to finish,
//! and whatever is still running then keeps its lease until it expires and
//! another worker takes the item over.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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
    macro_rules! worker_on {
        ($storage:expr, $name:expr, $concurrency:expr, $handler:expr) => {
            Box::pin(
                WorkerBuilder::new($name)
                    .backend($storage.poll_with_interval(poll))
                    .data(ctx.clone())
                    .concurrency($concurrency)
                    .build($handler)
                    .run_until(stopped(rx.clone())),
            )
        };
    }
    type Running = std::pin::Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send>>;
    let parse_name = format!("{name}-parse");
    let parse: Running = match queue.parse {
        Transport::Redis { storage, .. } => {
            worker_on!(storage, parse_name.as_str(), concurrency, handle_parse)
        }
        Transport::Sqlite { storage, .. } => {
            worker_on!(storage, parse_name.as_str(), concurrency, handle_parse)
        }
        Transport::Postgres { storage, .. } => {
            worker_on!(storage, parse_name.as_str(), concurrency, handle_parse)
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
                media_name.as_str(),
                media_concurrency,
                handle_media
            )
        }
        Transport::Sqlite { storage, .. } => {
            worker_on!(
                storage,
                media_name.as_str(),
                media_concurrency,
                handle_media
            )
        }
        Transport::Postgres { storage, .. } => {
            worker_on!(
                storage,
                media_name.as_str(),
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
            worker_on!(storage, publish_name.as_str(), 4, handle_publish)
        }
        Transport::Sqlite { storage, .. } => {
            worker_on!(storage, publish_name.as_str(), 4, handle_publish)
        }
        Transport::Postgres { storage, .. } => {
            worker_on!(storage, publish_name.as_str(), 4, handle_publish)
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
