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

use crate::parse::{WorkerCtx, handle_parse};
use crate::queue::ApalisQueue;
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
    info!(worker = %name, queue = queue.backend_name(), concurrency, "worker started");

    let signal = stopped(rx.clone());
    // The same worker on each backend; the storages differ in type only.
    macro_rules! worker_on {
        ($storage:expr) => {
            Box::pin(
                WorkerBuilder::new(name.as_str())
                    .backend($storage.poll_with_interval(poll))
                    .data(ctx.clone())
                    .concurrency(concurrency)
                    .build(handle_parse)
                    .run_until(signal),
            )
        };
    }
    let worker: std::pin::Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send>> =
        match queue {
            ApalisQueue::Redis { storage, .. } => worker_on!(storage),
            ApalisQueue::Sqlite { storage, .. } => worker_on!(storage),
            ApalisQueue::Postgres { storage, .. } => worker_on!(storage),
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
