//! Chaos drill: real `vaultstream worker` processes on the production stack
//! (PostgreSQL + Redis) fetch 200 tweets through a proxy that breaks 30 % of
//! upstream requests (5xx, hangs past the client timeout, TCP resets, 429s
//! with Retry-After). Transient faults never lose an item, never fail one
//! as permanent, and a 429's Retry-After is respected.
//! `VAULTSTREAM_DRILL_SEED` replays a run (faults are seeded per request),
//! `VAULTSTREAM_DRILL_LOG` sets the workers' log filter.

use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use vaultstream_core::content::Status;
use vaultstream_core::db::entities::{content, dead_letter};
use vaultstream_queue::ApalisQueue;
use vaultstream_testkit::chaos::{Chaos, ChaosConfig, Fault, Outcome};
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::proc::{Proc, store_and_queue_tweets};
use vaultstream_testkit::upstream::{FX_V2_PHOTO, Upstream};

const ITEMS: u64 = 200;
const MAX_ATTEMPTS: i32 = 4;
/// Faults for this seed include 429s on both endpoints followed by another
/// request, dead letters, and hangs in about a minute.
const DEFAULT_SEED: u64 = 1;

/// The binary with this deployment's settings and nothing of the caller's.
fn vaultstream(env: &TestEnv) -> Command {
    vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), env)
}

async fn count_status(db: &DatabaseConnection, status: &str) -> u64 {
    content::Entity::find()
        .filter(content::Column::Status.eq(status))
        .count(db)
        .await
        .expect("count")
}

fn fx_target(tweet: &str) -> String {
    format!("/2/thread/{tweet}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_ride_out_a_faulty_upstream() {
    let seed = std::env::var("VAULTSTREAM_DRILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("chaos drill: seed {seed}");
    let upstream = Upstream::start().await;
    upstream.set_delay(Duration::from_millis(20));
    let chaos = Chaos::start(
        &upstream.base,
        ChaosConfig {
            seed,
            fault_rate: 0.3,
            // The adapters' request timeout is 30 s: a hang outlasts it.
            hold: Duration::from_secs(45),
        },
    )
    .await;

    let mut env = TestEnv::new(Stack::PostgresRedis).await;
    env.set("MAX_ATTEMPTS", MAX_ATTEMPTS.to_string())
        .set("BACKOFF_BASE_MS", "100")
        .set("WORKER_CONCURRENCY", "32")
        // Hangs hold a slot for 30 s: let the others keep going.
        .set("UPSTREAM_CONCURRENCY", "32")
        .set("LEASE_MS", "3000")
        // Three processes share the PostgreSQL server with other tests.
        .set("DATABASE_MAX_CONNECTIONS", "8")
        .set("REQUEUE_AFTER_MS", "2000")
        .set("RECONCILE_INTERVAL_MS", "500")
        .set("UPSTREAM_OVERRIDES", chaos.overrides(&upstream.overrides()))
        // The workers' log filter; `VAULTSTREAM_DRILL_LOG=warn` shows retries.
        .set(
            "LOG_LEVEL",
            std::env::var("VAULTSTREAM_DRILL_LOG").unwrap_or_else(|_| "error".to_owned()),
        );
    let settings = env.settings();
    let db = vaultstream_core::db::connect_migrated(&settings)
        .await
        .expect("migrated database");
    let queue = ApalisQueue::open(&settings).await.expect("queue");
    let ids: Vec<String> = (0..ITEMS).map(|i| (2_000_000 + i).to_string()).collect();
    store_and_queue_tweets(&db, &queue, ids.clone()).await;

    let started = Instant::now();
    let workers: Vec<Proc> = (0..2)
        .map(|_| {
            Proc(
                vaultstream(&env)
                    .arg("worker")
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("spawn vaultstream worker"),
            )
        })
        .collect();
    let within = Duration::from_secs(170);
    loop {
        let pulled = count_status(&db, "pulled").await;
        let failed = count_status(&db, "failed").await;
        if pulled + failed == ITEMS {
            break;
        }
        assert!(
            started.elapsed() < within,
            "after {within:?}: pulled {pulled}, failed {failed}, unprocessed {}, processing {}; faults {:?}, passed {}",
            count_status(&db, "unprocessed").await,
            count_status(&db, "processing").await,
            chaos.counts(),
            chaos.passed(),
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    drop(workers);

    let log = chaos.log();
    let rows = content::Entity::find().all(&db).await.expect("rows");
    let letters = dead_letter::Entity::find().all(&db).await.expect("letters");
    let failed: Vec<&content::Model> = rows.iter().filter(|r| r.status == Status::Failed).collect();
    eprintln!(
        "chaos drill: {} requests in {elapsed:?}, passed {}, faults {:?}; pulled {}, failed {}, dead letters {}",
        log.len(),
        chaos.passed(),
        chaos.counts(),
        rows.iter().filter(|r| r.status == Status::Pulled).count(),
        failed.len(),
        letters.len(),
    );

    // Nothing lost or stuck.
    assert_eq!(rows.len() as u64, ITEMS);
    assert_eq!(count_status(&db, "processing").await, 0);
    assert_eq!(count_status(&db, "unprocessed").await, 0);

    // Every kind of fault was injected.
    for (fault, n) in chaos.counts() {
        assert!(n > 0, "no {fault:?} was injected");
    }

    // Failed items: transient faults only, so they ran out of attempts, and
    // each has exactly one open dead letter saying so.
    let transient = |class: Option<&str>| matches!(class, Some("retryable" | "rate_limited"));
    assert_eq!(
        letters.len(),
        failed.len(),
        "one dead letter per failed item"
    );
    for item in &failed {
        let of_item: Vec<&dead_letter::Model> =
            letters.iter().filter(|d| d.content_id == item.id).collect();
        assert_eq!(of_item.len(), 1, "dead letter of {}", item.platform_id);
        let dl = of_item[0];
        assert_eq!((dl.job_kind.as_str(), dl.state.as_str()), ("parse", "open"));
        assert!(
            transient(item.last_error_type.as_deref()) && transient(Some(&dl.error_type)),
            "{} failed as {:?} / {}: {:?} {:?}",
            item.platform_id,
            item.last_error_type,
            dl.error_type,
            dl.error_message,
            dl.error_detail,
        );
        assert_eq!(
            dl.attempts, MAX_ATTEMPTS,
            "{} dead-lettered with attempts left: {dl:?}",
            item.platform_id
        );
    }

    // Pulled items hold the tweet as the upstream served it.
    let fixture: serde_json::Value = serde_json::from_str(FX_V2_PHOTO).expect("fixture");
    let text = fixture["status"]["text"].as_str().expect("fixture text");
    let author = fixture["status"]["author"]["name"]
        .as_str()
        .expect("author");
    for item in rows.iter().filter(|r| r.status == Status::Pulled) {
        assert_eq!(item.text.as_deref(), Some(text), "{}", item.platform_id);
        assert_eq!(item.author_name.as_deref(), Some(author));
        assert!(item.raw_metadata.is_some() && item.pulled_at.is_some());
        assert!(item.lease_token.is_none() && item.next_attempt_at.is_none());
    }

    // One FxTwitter request per attempt that reached the upstream, each
    // broken one recorded as a failure; a pulled item's last one passed, a
    // failed item's all broke. (An attempt our own database fails before
    // the fetch, e.g. a pool timeout, counts as an attempt without a
    // request: the lease runs out and another worker picks the item up.)
    let mut by_target: BTreeMap<&str, Vec<(Instant, Outcome)>> = BTreeMap::new();
    for hit in &log {
        by_target
            .entry(hit.target.as_str())
            .or_default()
            .push((hit.at, hit.outcome));
    }
    let by_tweet: HashMap<&str, &content::Model> =
        rows.iter().map(|r| (r.platform_id.as_str(), r)).collect();
    let mut without_request = 0;
    for tweet in &ids {
        let item = by_tweet[tweet.as_str()];
        let target = fx_target(tweet);
        let hits = by_target.get(target.as_str()).cloned().unwrap_or_default();
        let passed = hits.iter().filter(|(_, o)| *o == Outcome::Passed).count();
        let broken = hits.len() - passed;
        assert!(
            hits.len() as i32 <= item.attempts && broken as i32 == item.failure_count,
            "{tweet}: {} attempts, {} failures recorded ({:?}); FxTwitter saw {hits:?}",
            item.attempts,
            item.failure_count,
            item.last_error_detail,
        );
        without_request += item.attempts - hits.len() as i32;
        if item.status == Status::Pulled {
            assert_eq!(passed, 1, "{tweet}: {hits:?}");
            assert_eq!(hits.last().map(|h| h.1), Some(Outcome::Passed));
            assert_eq!(upstream.served_ok(tweet), 1, "{tweet} fetched once");
        } else {
            assert_eq!(passed, 0, "{tweet} failed after a good answer: {hits:?}");
        }
    }
    eprintln!("chaos drill: {without_request} attempts ended before their request");

    // Retry-After: 1 — after a 429, the same endpoint is not asked again
    // for that tweet within a second (the FxTwitter → syndication fallback
    // is another host and may follow at once).
    let mut checked: BTreeMap<&str, u32> = BTreeMap::new();
    let mut early = Vec::new();
    for (target, hits) in &by_target {
        for pair in hits.windows(2) {
            if pair[0].1 == Outcome::Fault(Fault::RateLimited) {
                let endpoint = if target.starts_with("/2/") || target.starts_with("/status/") {
                    "FxTwitter"
                } else {
                    "syndication"
                };
                *checked.entry(endpoint).or_default() += 1;
                let gap = pair[1].0 - pair[0].0;
                if gap < Duration::from_millis(950) {
                    early.push(format!("{target} again after {gap:?}"));
                }
            }
        }
    }
    eprintln!("chaos drill: 429s followed by another request: {checked:?}; too early: {early:?}");
    assert_eq!(checked.len(), 2, "429s of both endpoints were retried");
    assert!(early.is_empty(), "Retry-After ignored: {early:?}");
}
