//! Worker processes as operators run them: the real `vaultstream worker`
//! binary, several at once, killed with SIGKILL mid-batch. Items are
//! submitted into the real database and queue; the Twitter adapter fetches
//! from a scripted upstream on 127.0.0.1 that counts every request.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use vaultstream_core::db::entities::content;
use vaultstream_core::queue::{JobQueue, ParseJob};
use vaultstream_queue::ApalisQueue;
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::proc::{Proc, store_and_queue_tweets, store_tweet};
use vaultstream_testkit::upstream::Upstream;
use vaultstream_testkit::wait;

fn spawn_worker(env: &TestEnv, upstream: &Upstream) -> Proc {
    let mut cmd = vaultstream(env);
    cmd.env("VAULTSTREAM_UPSTREAM_OVERRIDES", upstream.overrides())
        .env("VAULTSTREAM_LOG_LEVEL", "warn")
        .env("VAULTSTREAM_WORKER_CONCURRENCY", "8")
        .env("VAULTSTREAM_LEASE_MS", "3000")
        .env("VAULTSTREAM_REQUEUE_AFTER_MS", "2000")
        .env("VAULTSTREAM_RECONCILE_INTERVAL_MS", "500")
        .env("VAULTSTREAM_BACKOFF_BASE_MS", "100")
        .arg("worker")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Proc(cmd.spawn().expect("spawn vaultstream worker"))
}

struct Setup {
    env: TestEnv,
    upstream: Upstream,
    db: DatabaseConnection,
}

/// The binary with this deployment's settings and nothing of the caller's.
fn vaultstream(env: &TestEnv) -> Command {
    vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), env)
}

/// Migrate, then store and queue `n` tweet items (ids `base..base+n`).
async fn setup(stack: Stack, n: u64, delay: Duration) -> (Setup, Vec<String>) {
    let upstream = Upstream::start().await;
    upstream.set_delay(delay);
    let env = TestEnv::new(stack).await;
    let settings = env.settings();
    let db = vaultstream_core::db::connect_migrated(&settings)
        .await
        .expect("migrated database");
    let queue = ApalisQueue::open(&settings).await.expect("queue");
    let ids: Vec<String> = (0..n).map(|i| (1_000_000 + i).to_string()).collect();
    store_and_queue_tweets(&db, &queue, ids.clone()).await;
    (Setup { env, upstream, db }, ids)
}

async fn count_status(db: &DatabaseConnection, status: &str) -> u64 {
    content::Entity::find()
        .filter(content::Column::Status.eq(status))
        .count(db)
        .await
        .expect("count")
}

async fn wait_until(
    db: &DatabaseConnection,
    what: &str,
    done: impl Fn(u64, u64) -> bool,
    within: Duration,
) {
    wait::until(within, what, || async {
        let pulled = count_status(db, "pulled").await;
        let failed = count_status(db, "failed").await;
        if done(pulled, failed) {
            return Ok(());
        }
        let waiting = count_status(db, "unprocessed").await;
        let processing = count_status(db, "processing").await;
        Err(format!(
            "pulled {pulled}, failed {failed}, unprocessed {waiting}, processing {processing}"
        ))
    })
    .await;
}

/// Two worker processes share 500 items: every item is pulled, and no item
/// is fetched twice (the lease fences duplicate deliveries).
async fn two_workers_share_the_work(stack: Stack, n: u64) {
    let (s, ids) = setup(stack, n, Duration::from_millis(10)).await;
    let a = spawn_worker(&s.env, &s.upstream);
    let b = spawn_worker(&s.env, &s.upstream);
    wait_until(
        &s.db,
        "two workers",
        |p, f| p + f == n,
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(count_status(&s.db, "pulled").await, n);
    let twice: Vec<&String> = ids
        .iter()
        .filter(|t| s.upstream.served_ok(t) != 1)
        .collect();
    assert!(
        twice.is_empty(),
        "fetched other than once: {:?}",
        &twice[..twice.len().min(10)]
    );
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_redis_process_500_items_once_each() {
    two_workers_share_the_work(Stack::PostgresRedis, 500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_on_the_embedded_queue() {
    two_workers_share_the_work(Stack::Embedded, 150).await;
}

/// `kill -9` a worker mid-batch, start another: every item ends `pulled`,
/// nothing stays `processing`, and only the jobs that were in flight at
/// the kill are fetched a second time.
async fn killed_worker_loses_nothing(stack: Stack) {
    let n = 200;
    let (s, ids) = setup(stack, n, Duration::from_millis(150)).await;
    let mut first = spawn_worker(&s.env, &s.upstream);
    wait_until(
        &s.db,
        "before the kill",
        |p, _| p >= n / 4,
        Duration::from_secs(120),
    )
    .await;
    let _ = first.0.kill(); // SIGKILL: no chance to clean up
    let _ = first.0.wait();
    let in_flight = count_status(&s.db, "processing").await;
    assert!(in_flight > 0, "the kill landed mid-batch");

    let second = spawn_worker(&s.env, &s.upstream);
    wait_until(
        &s.db,
        "after the restart",
        |p, f| p + f == n,
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(count_status(&s.db, "pulled").await, n, "every item pulled");
    assert_eq!(count_status(&s.db, "processing").await, 0);
    let repeated = ids.iter().filter(|t| s.upstream.served_ok(t) > 1).count() as u64;
    assert!(
        repeated <= 8,
        "only jobs in flight at the kill (concurrency 8) may run twice; {repeated} did"
    );
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_worker_on_redis_loses_nothing() {
    killed_worker_loses_nothing(Stack::PostgresRedis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_worker_on_the_embedded_queue_loses_nothing() {
    killed_worker_loses_nothing(Stack::Embedded).await;
}

/// SplitMix64: seeded randomness a failing drill can be replayed with.
struct SeededRng(u64);

impl SeededRng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Kill drill on the production stack: 500 items, jobs in flight, the
/// worker SIGKILLed three times at seeded random moments (a new one started
/// each time). Every item ends `pulled`, stored once (one row, one source,
/// one set of media), and only jobs in flight at a kill are fetched again:
/// at most 3 × the worker concurrency. `VAULTSTREAM_DRILL_SEED` replays a run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn worker_killed_three_times_during_500_jobs_loses_nothing() {
    use std::collections::{HashMap, HashSet};
    use vaultstream_core::db::entities::{content_source, dead_letter, media};

    let n = 500u64;
    let concurrency = 8u64; // spawn_worker's VAULTSTREAM_WORKER_CONCURRENCY
    let seed = std::env::var("VAULTSTREAM_DRILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0003);
    eprintln!("kill drill: seed {seed}");
    let mut rng = SeededRng(seed);
    // 200 ms per fetch: at most ~40 items/s with 8 slots, so three random
    // moments of up to 2 s each land well before the batch is done.
    let (s, ids) = setup(Stack::PostgresRedis, n, Duration::from_millis(200)).await;

    let mut worker = spawn_worker(&s.env, &s.upstream);
    for kill in 1..=3 {
        // The new worker is up and working, then a random moment later…
        let before = count_status(&s.db, "pulled").await;
        wait_until(
            &s.db,
            "the new worker makes progress",
            |p, _| p > before,
            Duration::from_secs(60),
        )
        .await;
        let wait = Duration::from_millis(rng.range(300, 2000));
        tokio::time::sleep(wait).await;
        // …SIGKILL: no chance to clean up.
        let _ = worker.0.kill();
        let _ = worker.0.wait();
        let pulled = count_status(&s.db, "pulled").await;
        let in_flight = count_status(&s.db, "processing").await;
        eprintln!(
            "kill {kill} after {wait:?}: pulled {pulled}, processing {in_flight} (with earlier kills' expired leases)"
        );
        assert!(pulled < n, "kill {kill} landed before the batch was done");
        assert!(in_flight > 0, "kill {kill} landed with jobs in flight");
        worker = spawn_worker(&s.env, &s.upstream);
    }
    wait_until(
        &s.db,
        "after the third restart",
        |p, f| p + f == n,
        Duration::from_secs(180),
    )
    .await;
    drop(worker);

    // Every item pulled; nothing stuck, nothing dead-lettered.
    assert_eq!(count_status(&s.db, "pulled").await, n, "every item pulled");
    assert_eq!(count_status(&s.db, "failed").await, 0);
    assert_eq!(count_status(&s.db, "processing").await, 0);
    assert_eq!(count_status(&s.db, "unprocessed").await, 0);
    let letters = dead_letter::Entity::find().count(&s.db).await.unwrap();
    assert_eq!(letters, 0, "a healthy upstream leaves no dead letters");

    // Stored once: one row per tweet, one source per row, one set of media.
    let rows = content::Entity::find().all(&s.db).await.unwrap();
    assert_eq!(rows.len() as u64, n);
    let tweets: HashSet<&str> = rows.iter().map(|r| r.platform_id.as_str()).collect();
    let expected: HashSet<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(tweets, expected, "one row per tweet id");
    assert!(
        rows.iter()
            .all(|r| r.text.as_deref().is_some_and(|t| !t.is_empty())),
        "every row holds the parsed tweet"
    );
    let sources = content_source::Entity::find().all(&s.db).await.unwrap();
    let mut per_item: HashMap<i64, u32> = HashMap::new();
    for src in &sources {
        *per_item.entry(src.content_id).or_default() += 1;
    }
    assert_eq!(per_item.len() as u64, n);
    assert!(
        per_item.values().all(|c| *c == 1),
        "one source per item: {sources:?}"
    );
    let files = media::Entity::find().all(&s.db).await.unwrap();
    let mut per_item: HashMap<i64, HashSet<(i32, String)>> = HashMap::new();
    for m in &files {
        assert!(
            per_item
                .entry(m.content_id)
                .or_default()
                .insert((m.position, m.original_url.clone())),
            "media stored twice: {m:?}"
        );
    }
    let sizes: HashSet<usize> = per_item.values().map(HashSet::len).collect();
    assert_eq!(per_item.len() as u64, n, "every item has its media rows");
    assert_eq!(sizes.len(), 1, "the same media for every item: {sizes:?}");

    // Only jobs in flight at a kill may run again. A request cut off by
    // the kill counts too: `hits` is every FxTwitter request received.
    let rerun: Vec<(&String, u32, u32)> = ids
        .iter()
        .map(|t| (t, s.upstream.hits(t), s.upstream.served_ok(t)))
        .filter(|(_, hits, _)| *hits > 1)
        .collect();
    let served_twice = rerun.iter().filter(|(_, _, ok)| *ok > 1).count();
    eprintln!(
        "kill drill: {} of {n} tweets requested more than once, {served_twice} answered more than once (bound {}): {:?}",
        rerun.len(),
        3 * concurrency,
        rerun
    );
    assert!(
        ids.iter().all(|t| s.upstream.served_ok(t) >= 1),
        "every tweet was fetched"
    );
    assert!(
        rerun.len() as u64 <= 3 * concurrency,
        "only jobs in flight at the three kills may run twice"
    );
}

/// `all` with JSON logs: the request id of the submitting HTTP call travels
/// into the job, and the job's log lines carry job.id, content.id, platform.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn job_logs_carry_the_request_id_as_json() {
    use std::io::{BufRead, BufReader};
    let upstream = Upstream::start().await;
    let env = TestEnv::new(Stack::Embedded).await;
    let mut child = Proc(
        vaultstream(&env)
            .env("VAULTSTREAM_UPSTREAM_OVERRIDES", upstream.overrides())
            .env("VAULTSTREAM_LOG_FORMAT", "json")
            .env("VAULTSTREAM_LOG_LEVEL", "info")
            .args(["--bind", "127.0.0.1:0", "all"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let stderr = child.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("log line");
        let v: serde_json::Value = serde_json::from_str(&line).expect("every log line is JSON");
        lines.push(v.clone());
        if let Some(a) = v["address"].as_str() {
            break a.to_owned();
        }
        assert!(Instant::now() < deadline, "no listening line");
    };
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("http://{addr}/api/v1/shares"))
        .header("x-request-id", "req-trace-42")
        .json(&serde_json::json!({"url": "https://x.com/a/status/777"}))
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status().as_u16(), 201);
    assert_eq!(resp.headers()["x-request-id"], "req-trace-42");
    let id = resp.json::<serde_json::Value>().await.unwrap()["content_id"]
        .as_i64()
        .unwrap();
    let done = loop {
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("job logs");
        let v: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        lines.push(v.clone());
        if v["message"]
            .as_str()
            .is_some_and(|m| m.contains("parse done"))
        {
            break v;
        }
    };
    let span = &done["span"];
    assert_eq!(span["content.id"].as_i64(), Some(id), "{done}");
    assert_eq!(span["platform"], "twitter", "{done}");
    assert_eq!(span["request.id"], "req-trace-42", "{done}");
    assert!(
        span["job.id"].as_str().is_some_and(|j| !j.is_empty()),
        "{done}"
    );
    let job_lines: Vec<_> = lines
        .iter()
        .filter(|l| l["span"]["name"] == "job")
        .collect();
    assert!(job_lines.len() >= 2, "start and end of the job are logged");
    for l in job_lines {
        assert_eq!(l["span"]["content.id"].as_i64(), Some(id), "{l}");
    }
}

/// A burst of submissions larger than the queue's high-water mark never
/// builds a Redis backlog beyond it (apalis-redis 1.0 dies fetching ~20k
/// due jobs at once); the rest waits in the database and the reconciler
/// feeds it in as workers drain the queue. Nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_backlog_stays_bounded_and_drains() {
    let upstream = Upstream::start().await;
    let mut env = TestEnv::new(Stack::PostgresRedis).await;
    env.set("QUEUE_HIGH_WATER", "40");
    let settings = env.settings();
    let db = vaultstream_core::db::connect_migrated(&settings)
        .await
        .expect("migrated database");
    let queue = ApalisQueue::open(&settings).await.expect("queue");
    let n = 300u64;
    let mut max_depth = 0;
    for i in 0..n {
        let content_id = store_tweet(&db, &(5_000_000 + i).to_string()).await;
        let job = ParseJob {
            content_id,
            request_id: None,
        };
        queue
            .enqueue_parse(job, None)
            .await
            .expect("enqueue or defer");
        max_depth = max_depth.max(queue.depth().await.unwrap().unwrap());
    }
    assert!(
        max_depth <= 40,
        "Redis backlog bounded by the high-water mark: {max_depth}"
    );
    assert!(
        max_depth >= 30,
        "the queue was used up to the mark: {max_depth}"
    );

    let s = Setup { env, upstream, db };
    let mut w = spawn_worker(&s.env, &s.upstream);
    // The deferred items are fed in by the reconciler (REQUEUE_AFTER_MS 2 s).
    wait_until(&s.db, "drain", |p, f| p + f == n, Duration::from_secs(120)).await;
    assert_eq!(count_status(&s.db, "pulled").await, n);
    let _ = w.0.kill();
}

/// `vaultstream dlq list|retry`: the operator's dead-letter queue from a shell.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dlq_list_and_retry_from_the_cli() {
    let (s, _) = setup(Stack::Embedded, 2, Duration::ZERO).await;
    for id in [1i64, 2] {
        let claim = vaultstream_core::db::items::claim(&s.db, id, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("claim");
        let err = vaultstream_core::parsed::FetchError::permanent("gone").with_detail("HTTP 404");
        let payload = serde_json::json!({"content_id": id});
        assert!(
            vaultstream_core::db::items::fail_dead(&s.db, &claim, &err, payload)
                .await
                .unwrap()
        );
    }
    let cli = |args: &[&str]| {
        vaultstream(&s.env)
            .env("VAULTSTREAM_LOG_LEVEL", "warn")
            .args(args)
            .output()
            .expect("run")
    };
    let out = cli(&["dlq", "list", "--json"]);
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r["error_type"] == "permanent" && r["error_detail"] == "HTTP 404")
    );

    let out = cli(&["dlq", "retry", "--id", &rows[0]["id"].to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("retried 1 item"));
    let out = cli(&["dlq", "retry", "--all", "--platform", "twitter"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("retried 1 item"));
    let out = cli(&["dlq", "list", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 0);
    assert_eq!(
        count_status(&s.db, "unprocessed").await,
        2,
        "both items start a fresh round"
    );
    let out = cli(&["dlq", "retry"]);
    assert_eq!(out.status.code(), Some(2), "retry needs --id or --all");
}

/// `VAULTSTREAM_METRICS_BIND`: a worker-only process serves its own job
/// counters and the database gauges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_serves_its_metrics() {
    let (s, _) = setup(Stack::Embedded, 3, Duration::ZERO).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = vaultstream(&s.env);
    cmd.env("VAULTSTREAM_UPSTREAM_OVERRIDES", s.upstream.overrides())
        .env("VAULTSTREAM_METRICS_BIND", format!("127.0.0.1:{port}"))
        .env("VAULTSTREAM_LOG_LEVEL", "warn")
        .arg("worker")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let _worker = Proc(cmd.spawn().expect("spawn vaultstream worker"));
    wait_until(&s.db, "3 pulled", |p, _| p == 3, Duration::from_secs(60)).await;
    let url = format!("http://127.0.0.1:{port}/metrics");
    let what = format!("job metrics at {url}");
    let text = wait::until(Duration::from_secs(20), what, || async {
        if let Ok(r) = reqwest::get(&url).await
            && r.status().is_success()
        {
            let t = r.text().await.unwrap();
            if t.contains("outcome=\"done\"") {
                return Ok(t);
            }
        }
        Err("no job outcome yet")
    })
    .await;
    assert!(text.contains("vaultstream_jobs_total"), "{text}");
    assert!(text.contains("vaultstream_items"), "{text}");
}
