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

use crate::ctx::WorkerCtx;
use crate::job::{Job, PerKind, each_kind, handle};
use crate::reconcile;
use vaultstream_queue::{ApalisQueue, Transport};

async fn stopped(mut rx: watch::Receiver<bool>) -> Result<(), std::io::Error> {
    let _ = rx.wait_for(|s| *s).await;
    Ok(())
}

type Running = Pin<Box<dyn Future<Output = Result<(), WorkerError>> + Send>>;

/// Keep one apalis worker (one job kind's pool) running until
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

/// Run workers until `shutdown` resolves: a pool per job kind, each on its
/// own queue (a slow video never holds a parse slot, a Telegram outage
/// never holds up archiving), and the reconciler.
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
    let login_task = tokio::spawn(crate::logins::run(
        ctx.clone(),
        settings.telegram.operators.clone(),
        Duration::from_secs(settings.login_check_interval_secs),
        rx.clone(),
    ));
    let name = format!(
        "{}-{}-{}",
        settings.queue_namespace,
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    crate::media::archive::clean_staging(&ctx.media.staging);
    info!(
        worker = %name,
        queue = queue.backend_name(),
        concurrency = settings.worker_concurrency,
        media_concurrency = settings.media.concurrency,
        archive_media = ctx.media.archive,
        "worker started"
    );
    let mut pools = Pools {
        settings,
        queue: &queue,
        ctx: &ctx,
        stop: &rx,
        name: &name,
        poll: Duration::from_millis(settings.poll_interval_ms),
        running: Vec::new(),
    };
    each_kind(&mut pools);
    let running = pools.running;
    let worker = async move {
        let ended = futures::future::join_all(running).await;
        ended
            .into_iter()
            .collect::<Result<Vec<()>, _>>()
            .map(|_| ())
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
    login_task.abort();
    info!(worker = %name, "worker stopped");
    result
}

/// Starts one supervised apalis worker per job kind.
struct Pools<'a> {
    settings: &'a Settings,
    queue: &'a ApalisQueue,
    ctx: &'a Arc<WorkerCtx>,
    stop: &'a watch::Receiver<bool>,
    name: &'a str,
    poll: Duration,
    running: Vec<Running>,
}

impl PerKind for Pools<'_> {
    fn kind<J: Job>(&mut self) {
        let pool = self.start::<J>();
        self.running.push(pool);
    }
}

impl Pools<'_> {
    /// Kind `J`'s pool: the same worker on each backend (the storages
    /// differ in type only), supervised.
    fn start<J: Job>(&self) -> Running {
        let name = format!("{}-{}", self.name, J::KIND);
        let (ctx, stop, poll) = (self.ctx.clone(), self.stop.clone(), self.poll);
        let concurrency = J::concurrency(self.settings);
        macro_rules! supervise {
            ($storage:expr) => {{
                let (storage, stop_worker) = ($storage, stop.clone());
                let start = move |name: String| -> Running {
                    Box::pin(
                        WorkerBuilder::new(name)
                            .backend(storage.clone().poll_with_interval(poll))
                            .data(ctx.clone())
                            .concurrency(concurrency)
                            .build(handle::<J>)
                            .run_until(stopped(stop_worker.clone())),
                    )
                };
                Box::pin(supervised(J::KIND.as_str(), name, stop, start)) as Running
            }};
        }
        match J::transport(self.queue).clone() {
            Transport::Redis { storage, .. } => supervise!(storage),
            Transport::Sqlite { storage, .. } => supervise!(storage),
            Transport::Postgres { storage, .. } => supervise!(storage),
        }
    }
}
