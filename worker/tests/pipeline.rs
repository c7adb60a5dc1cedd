//! The job pipeline end to end, in process: real database, real queue
//! (embedded SQLite / PostgreSQL, or Redis with a key namespace per test),
//! the real Twitter adapter against a scripted upstream on 127.0.0.1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::watch;
use vaultstream_core::content::{Channel, Status};
use vaultstream_core::db::contents::{self, NewSource};
use vaultstream_core::db::dead_letters::{DeadLetterFilter, list_dead_letters};
use vaultstream_core::db::entities::content;
use vaultstream_core::db::retry::retry_dead_letter;
use vaultstream_core::db::{self, items};
use vaultstream_core::platform::{ContentKind, Identity, Platform};
use vaultstream_core::queue::{JobQueue, ParseJob};
use vaultstream_core::status::DeadLetterState;
use vaultstream_queue::ApalisQueue;
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::upstream::{Behaviour, Upstream};
use vaultstream_testkit::wait;
use vaultstream_worker::{WorkerCtx, run_workers};

struct Harness {
    env: TestEnv,
    upstream: Upstream,
    db: DatabaseConnection,
    queue: ApalisQueue,
    stop: watch::Sender<bool>,
    worker: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Harness {
    async fn start(stack: Stack, tweak: impl FnOnce(&mut TestEnv)) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn,vaultstream_worker=info")
            .with_test_writer()
            .try_init();
        let upstream = Upstream::start().await;
        let mut env = TestEnv::new(stack).await;
        env.set("UPSTREAM_OVERRIDES", upstream.overrides())
            .set("BACKOFF_BASE_MS", "100")
            .set("MAX_ATTEMPTS", "3")
            .set("RECONCILE_INTERVAL_MS", "200")
            .set("REQUEUE_AFTER_MS", "3000")
            .set("LEASE_MS", "5000")
            .set("WORKER_CONCURRENCY", "8");
        tweak(&mut env);
        let settings = env.settings();
        let db = db::connect_migrated(&settings)
            .await
            .expect("connect and migrate");
        let queue = ApalisQueue::open(&settings).await.expect("queue");
        let ctx = Arc::new(WorkerCtx::from_settings(
            &settings,
            db.clone(),
            Arc::new(queue.clone()),
            vaultstream_core::blob::open(&settings)
                .await
                .expect("blob store"),
        ));
        let (stop, rx) = watch::channel(false);
        let q = queue.clone();
        let worker = tokio::spawn(async move {
            let mut rx = rx;
            run_workers(&settings, ctx, q, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await
        });
        Harness {
            env,
            upstream,
            db,
            queue,
            stop,
            worker: Some(worker),
        }
    }

    /// Store a tweet item as the API would; queue it unless `enqueue` is false.
    async fn submit(&self, tweet_id: &str, enqueue: bool) -> i64 {
        let identity = Identity {
            platform: Platform::Twitter,
            platform_id: tweet_id.to_owned(),
            canonical_url: format!("https://x.com/i/status/{tweet_id}"),
            kind: ContentKind::Post,
        };
        let s = contents::submit(
            &self.db,
            &identity,
            NewSource {
                raw_text: format!("https://x.com/a/status/{tweet_id}"),
                submitted_url: format!("https://x.com/a/status/{tweet_id}"),
                resolved_url: None,
                channel: Channel::Api,
                tags: vec![],
                note: None,
                submitted_by: None,
                request_id: Some(format!("req-{tweet_id}")),
            },
        )
        .await
        .expect("submit");
        if enqueue {
            self.queue
                .enqueue_parse(
                    ParseJob {
                        content_id: s.content.id,
                        request_id: Some(format!("req-{tweet_id}")),
                    },
                    None,
                )
                .await
                .expect("enqueue");
        }
        s.content.id
    }

    async fn item(&self, id: i64) -> content::Model {
        content::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .expect("query")
            .expect("item exists")
    }

    /// Wait until every item is `pulled` or `failed`.
    async fn settle(&self, ids: &[i64], within: Duration) -> Vec<content::Model> {
        wait::until(within, "items settled", || async {
            let mut items = Vec::new();
            for id in ids {
                items.push(self.item(*id).await);
            }
            let stuck: Vec<_> = items
                .iter()
                .filter(|i| i.status != Status::Pulled && i.status != Status::Failed)
                .map(|i| (i.id, i.platform_id.clone(), i.status, i.attempts))
                .collect();
            if stuck.is_empty() {
                Ok(items)
            } else {
                Err(stuck)
            }
        })
        .await
    }

    /// Stop the worker (as SIGTERM does) and wait for it to return.
    async fn stop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(w) = self.worker.take() {
            let _ = tokio::time::timeout(Duration::from_secs(40), w).await;
        }
        let _ = &self.env;
    }
}

async fn retries_and_classification(stack: Stack) {
    let mut h = Harness::start(stack, |_| {}).await;
    let up = h.upstream.clone();
    up.script("102", Behaviour::FailTimes(2));
    up.script("103", Behaviour::Always500);
    up.script("104", Behaviour::NotFound);
    up.script("105", Behaviour::RateLimitOnce(1));
    let mut ids = Vec::new();
    for t in ["101", "102", "103", "104", "105"] {
        ids.push(h.submit(t, true).await);
    }
    let items = h.settle(&ids, Duration::from_secs(60)).await;
    let by = |t: &str| items.iter().find(|i| i.platform_id == t).expect("item");

    let ok = by("101");
    assert_eq!(
        (ok.status.as_str(), ok.failure_count, ok.attempts),
        ("pulled", 0, 1)
    );
    assert!(
        ok.author_name.as_deref().is_some_and(|a| !a.is_empty()),
        "{ok:?}"
    );
    assert!(ok.pulled_at.is_some() && ok.raw_metadata.is_some());
    // Every terminal item has given up its lease.
    for i in &items {
        assert!(
            i.lease_token.is_none() && i.lease_until.is_none(),
            "lease kept: {i:?}"
        );
    }
    assert_eq!(up.hits("101"), 1);

    // Two 500s, then success: three attempts, spaced by growing backoff.
    let flaky = by("102");
    assert_eq!(
        (flaky.status.as_str(), flaky.failure_count, flaky.attempts),
        ("pulled", 2, 3)
    );
    assert_eq!(
        flaky.last_error_type.as_deref(),
        Some("retryable"),
        "failure history kept"
    );
    let t = up.hit_times("102");
    assert_eq!(t.len(), 3);
    let (g1, g2) = (t[1] - t[0], t[2] - t[1]);
    assert!(g1 >= Duration::from_millis(70), "first backoff {g1:?}");
    assert!(g2 >= Duration::from_millis(140), "second backoff {g2:?}");
    // The delayed message itself runs the retry (queue run-at times are
    // whole seconds), not the reconciler's rescue after REQUEUE_AFTER_MS (3 s).
    assert!(
        g1 < Duration::from_millis(2500) && g2 < Duration::from_millis(2500),
        "retries ran from their delayed messages: {g1:?}, {g2:?}"
    );

    // Always 500: the attempt limit, then the dead-letter queue.
    let dead = by("103");
    assert_eq!(
        (dead.status.as_str(), dead.failure_count, dead.attempts),
        ("failed", 3, 3)
    );
    assert_eq!(dead.last_error_type.as_deref(), Some("retryable"));
    assert!(dead.last_error.is_some() && dead.last_error_at.is_some());
    assert_eq!(up.hits("103"), 3);

    // 404: permanent, no retry.
    let gone = by("104");
    assert_eq!(
        (gone.status.as_str(), gone.failure_count, gone.attempts),
        ("failed", 1, 1)
    );
    assert_eq!(gone.last_error_type.as_deref(), Some("permanent"));
    assert_eq!(up.hits("104"), 1);

    // 429 with Retry-After: 1 → the next attempt waits at least a second.
    let limited = by("105");
    assert_eq!(
        (limited.status.as_str(), limited.failure_count),
        ("pulled", 1)
    );
    assert_eq!(limited.last_error_type.as_deref(), Some("rate_limited"));
    let t = up.hit_times("105");
    assert!(
        t[1] - t[0] >= Duration::from_millis(950),
        "Retry-After honoured: {:?}",
        t[1] - t[0]
    );

    let filter = DeadLetterFilter {
        state: Some(DeadLetterState::Open),
        limit: 50,
        ..Default::default()
    };
    let dls = list_dead_letters(&h.db, &filter).await.unwrap();
    assert_eq!(dls.len(), 2, "{dls:?}");
    let dl_dead = dls
        .iter()
        .find(|d| d.content_id == dead.id)
        .expect("dead letter for 103");
    assert_eq!(
        (dl_dead.attempts, dl_dead.error_type.as_str()),
        (3, "retryable")
    );
    assert_eq!(dl_dead.payload["content_id"].as_i64(), Some(dead.id));
    let dl_gone = dls
        .iter()
        .find(|d| d.content_id == gone.id)
        .expect("dead letter for 104");
    assert_eq!(dl_gone.error_type, "permanent");

    // The operator retries 103 after the upstream recovers: a fresh round
    // of attempts, failure history kept.
    up.script("103", Behaviour::Ok);
    let (content, requeued) = retry_dead_letter(&h.db, dl_dead.id)
        .await
        .unwrap()
        .expect("open");
    assert_eq!(content, dead.id);
    assert_eq!(requeued.items, vec![dead.id]);
    assert!(requeued.media.is_empty());
    requeued.enqueue(&h.queue).await;
    let again = h.settle(&[dead.id], Duration::from_secs(30)).await;
    assert_eq!(
        (
            again[0].status.as_str(),
            again[0].attempts,
            again[0].failure_count
        ),
        ("pulled", 1, 3)
    );
    assert!(
        retry_dead_letter(&h.db, dl_dead.id)
            .await
            .unwrap()
            .is_none(),
        "retried once"
    );
    let open = list_dead_letters(&h.db, &filter).await.unwrap();
    assert_eq!(open.len(), 1);
    h.stop().await;
}

/// Items whose queue message was lost (a crash between commit and push, a
/// flushed Redis) and items leased by a worker that died are found by the
/// reconciler and finished.
async fn nothing_accepted_is_lost(stack: Stack) {
    let mut h = Harness::start(stack, |e| {
        e.set("REQUEUE_AFTER_MS", "500").set("LEASE_MS", "1500");
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(h.submit(&format!("20{i}"), false).await);
    }
    // A "worker" that claims an item and dies without a word.
    let orphan = h.submit("299", false).await;
    let claim = items::claim(&h.db, orphan, Duration::from_millis(1500))
        .await
        .unwrap();
    assert!(claim.is_some());
    ids.push(orphan);
    let items = h.settle(&ids, Duration::from_secs(30)).await;
    assert!(
        items.iter().all(|i| i.status == Status::Pulled),
        "{items:?}"
    );
    for i in 0..10 {
        assert_eq!(h.upstream.served_ok(&format!("20{i}")), 1, "fetched once");
    }
    h.stop().await;
}

/// SIGTERM-style stop: the worker finishes what it holds, then returns.
async fn graceful_stop_finishes_in_flight_jobs(stack: Stack) {
    let mut h = Harness::start(stack, |_| {}).await;
    h.upstream.set_delay(Duration::from_millis(800));
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(h.submit(&format!("40{i}"), true).await);
    }
    // Wait until they are being worked on, then stop.
    wait::at_most(Duration::from_secs(20), || async {
        for id in &ids {
            if h.item(*id).await.status == Status::Processing {
                return true;
            }
        }
        false
    })
    .await;
    h.stop().await;
    let mut statuses = Vec::new();
    for id in &ids {
        statuses.push(h.item(*id).await.status);
    }
    assert!(
        statuses.iter().all(|s| *s != Status::Processing),
        "in-flight jobs finished before the worker returned: {statuses:?}"
    );
}

/// `VAULTSTREAM_UPSTREAM_CONCURRENCY`: with 8 worker slots and a limit of
/// 2, never more than 2 requests are at the platform at once, and every
/// item still ends pulled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_platform_gets_at_most_its_concurrency() {
    let mut h = Harness::start(Stack::Embedded, |e| {
        e.set("UPSTREAM_CONCURRENCY", "2");
    })
    .await;
    let delay = Duration::from_millis(300);
    h.upstream.set_delay(delay);
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(h.submit(&format!("60{i}"), true).await);
    }
    let items = h.settle(&ids, Duration::from_secs(60)).await;
    assert!(
        items.iter().all(|i| i.status == Status::Pulled),
        "{items:?}"
    );
    let mut starts: Vec<Instant> = (0..8)
        .flat_map(|i| h.upstream.hit_times(&format!("60{i}")))
        .collect();
    starts.sort();
    assert_eq!(starts.len(), 8, "each fetched once");
    // Each request takes `delay`: at most 2 may start within any window
    // shorter than that.
    let window = delay - Duration::from_millis(20);
    for (i, s) in starts.iter().enumerate() {
        let overlapping = starts[i..].iter().filter(|t| **t - *s < window).count();
        assert!(
            overlapping <= 2,
            "{overlapping} requests at once: {starts:?}"
        );
    }
    h.stop().await;
}

macro_rules! on_stacks {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::Stack::Embedded).await; })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::Stack::Postgres).await; })*
        }
        mod postgres_redis {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() { super::$name(super::Stack::PostgresRedis).await; })*
        }
    };
}

on_stacks!(
    retries_and_classification,
    nothing_accepted_is_lost,
    graceful_stop_finishes_in_flight_jobs,
);
