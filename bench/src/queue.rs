//! Queue: no-op jobs through our queue machinery (the Transport's push with
//! its backlog bound, the Redis storage as we configure it, a worker built
//! the way `worker::run` builds them: our poll interval and concurrency)
//! beside raw apalis-redis with its defaults, on the same Redis, in the
//! same run. Producers and the worker run at once; the rate is jobs done
//! per second from the first push to the last job finished.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use apalis_redis::RedisStorage;
use vaultstream_core::queue::ParseJob;
use vaultstream_queue::ApalisQueue;
use vaultstream_queue::Transport;
use vaultstream_testkit::env::{Stack, TestEnv};

use crate::Opts;
use crate::report::Row;

/// Producers pushing at once.
const PRODUCERS: u64 = 8;

async fn noop(_job: ParseJob, done: Data<Arc<AtomicU64>>) -> Result<(), BoxDynError> {
    done.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

struct Measured {
    per_s: f64,
    push_per_s: f64,
    secs: f64,
}

pub async fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    // apalis-redis 1.0 moves due jobs with one Lua `unpack` that fails near
    // 20k: keep every run below it.
    let jobs: u64 = if opts.quick { 2_000 } else { 15_000 };
    let rounds = if opts.quick { 1 } else { 3 };
    let mut ours = Vec::new();
    let mut raw = Vec::new();
    for _ in 0..rounds {
        ours.push(through_ours(jobs).await?);
        raw.push(through_raw(jobs).await?);
    }
    let best = |v: &[Measured]| {
        v.iter()
            .max_by(|a, b| a.per_s.total_cmp(&b.per_s))
            .map(|m| (m.per_s, m.push_per_s, m.secs))
            .unwrap_or_default()
    };
    let (o, o_push, o_secs) = best(&ours);
    let (r, r_push, r_secs) = best(&raw);
    let ratio = o / r;
    let concurrency = TestEnv::new(Stack::PostgresRedis)
        .await
        .settings()
        .worker_concurrency;
    Ok(vec![
        Row::new(
            "queue",
            format!("{jobs} no-op jobs, Redis, {PRODUCERS} producers, best of {rounds}"),
        )
        .metric("jobs", jobs)
        .metric("worker_concurrency", concurrency)
        .num("per_s", o)
        .num("push_per_s", o_push)
        .num("secs", o_secs)
        .num("raw_per_s", r)
        .num("raw_push_per_s", r_push)
        .num("raw_secs", r_secs)
        .result(format!("{o:.0} jobs/s (push alone {o_push:.0}/s)"))
        .baseline(
            format!("raw apalis-redis: {r:.0} jobs/s (push alone {r_push:.0}/s)"),
            Some(ratio),
        )
        .target("≥ 8,000 jobs/s, ≥ 0.65× raw", o >= 8000.0 && ratio >= 0.65),
    ])
}

/// Push `jobs` with [`PRODUCERS`] tasks while `worker_done` counts them done.
async fn drive<P, Fut>(jobs: u64, push: P, done: Arc<AtomicU64>) -> anyhow::Result<Measured>
where
    P: Fn(ParseJob) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let start = Instant::now();
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let push = push.clone();
        producers.push(tokio::spawn(async move {
            let mut i = p;
            while i < jobs {
                push(ParseJob {
                    content_id: i as i64 + 1,
                    request_id: None,
                })
                .await?;
                i += PRODUCERS;
            }
            anyhow::Ok(())
        }));
    }
    for p in producers {
        p.await??;
    }
    let pushed = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    while done.load(Ordering::Relaxed) < jobs {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {jobs} jobs done after 2 minutes",
            done.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(Measured {
        per_s: jobs as f64 / secs,
        push_per_s: jobs as f64 / pushed.as_secs_f64(),
        secs,
    })
}

async fn through_ours(jobs: u64) -> anyhow::Result<Measured> {
    let mut env = TestEnv::new(Stack::PostgresRedis).await;
    env.set("QUEUE_HIGH_WATER", (jobs + 1).to_string());
    let settings = env.settings();
    let queue = ApalisQueue::open(&settings).await?;
    let Transport::Redis { storage, .. } = queue.parse.clone() else {
        anyhow::bail!("the queue is not on Redis");
    };
    let done = Arc::new(AtomicU64::new(0));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let worker = WorkerBuilder::new(format!("{}-bench-ours", settings.queue_namespace))
        .backend(storage.poll_with_interval(Duration::from_millis(settings.poll_interval_ms)))
        .data(done.clone())
        .concurrency(settings.worker_concurrency)
        .build(noop);
    let running = tokio::spawn(worker.run_until(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
        Ok::<(), std::io::Error>(())
    }));
    let transport = queue.parse.clone();
    let m = drive(
        jobs,
        move |job| {
            let t = transport.clone();
            async move { t.push(job, None).await }
        },
        done,
    )
    .await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), running).await;
    drop(env);
    m
}

async fn through_raw(jobs: u64) -> anyhow::Result<Measured> {
    let env = TestEnv::new(Stack::PostgresRedis).await;
    let conn = apalis_redis::connect(vaultstream_testkit::env::redis_url()).await?;
    let config = apalis_redis::Config::default().queue(format!("{}:raw", env.namespace));
    let storage: RedisStorage<ParseJob> = RedisStorage::new(conn).with_config(config);
    let done = Arc::new(AtomicU64::new(0));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let worker = WorkerBuilder::new(format!("{}-bench-raw", env.namespace))
        .backend(storage.clone())
        .data(done.clone())
        .concurrency(env.settings().worker_concurrency)
        .build(noop);
    let running = tokio::spawn(worker.run_until(async move {
        let _ = stop_rx.wait_for(|s| *s).await;
        Ok::<(), std::io::Error>(())
    }));
    let m = drive(
        jobs,
        move |job| {
            let mut s = storage.clone();
            async move {
                s.push(job)
                    .await
                    .map_err(|e| anyhow::anyhow!("raw push: {e}"))?;
                Ok(())
            }
        },
        done,
    )
    .await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), running).await;
    drop(env);
    m
}
