//! Redis flush drill: a real `vaultstream worker` process works through
//! 300 tweets (each with a photo to archive) on PostgreSQL + Redis, and
//! mid-run every Redis key of the deployment's namespace is deleted — what
//! an operator's `FLUSHDB`, or a Redis restarted without persistence, does
//! to it — twice: once while parse jobs are queued, once while only media
//! jobs are. The database is the source of truth: the reconciler must
//! queue again whatever was lost, and the worker must keep working on the
//! emptied Redis. Every item must end `pulled` and every photo `archived`,
//! nothing stuck, nothing dead-lettered.
//!
//! Only this test's namespace is deleted (`KEYS <namespace>*` + `DEL`),
//! never `FLUSHALL`: other tests share the Redis server.

use std::process::Stdio;
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use vaultstream_core::db::entities::{content, dead_letter, media};
use vaultstream_core::queue::{JobKind, JobQueue};
use vaultstream_queue::ApalisQueue;
use vaultstream_testkit::env::{Stack, TestEnv, redis_url};
use vaultstream_testkit::proc::{Proc, store_and_queue_tweets, store_tweet};
use vaultstream_testkit::replay::{Replay, Reply};
use vaultstream_testkit::upstream::FX_PHOTO;
use vaultstream_testkit::wait;

const ITEMS: u64 = 300;
const FIRST_ID: u64 = 7_000_000;
/// FxTwitter answers this slowly: parsing takes a few seconds.
const TWEET_DELAY: Duration = Duration::from_millis(60);
/// Photo downloads this slowly, with two media slots: media jobs queue up
/// behind parsing, so the second flush finds them queued.
const PHOTO_DELAY: Duration = Duration::from_millis(80);

fn photo_url(tweet: u64) -> String {
    format!("https://pbs.twimg.com/media/drill{tweet}.jpg")
}

/// Every tweet answers the recorded FxTwitter response with a photo URL
/// of its own; every photo is the same real JPEG.
fn routes(replay: &Replay) {
    let jpeg = std::fs::read(format!(
        "{}/../shared/fixtures/media/chelsea_small.jpg",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture photo");
    for tweet in FIRST_ID..FIRST_ID + ITEMS {
        let body = FX_PHOTO.replace(
            "https://pbs.twimg.com/media/Fe-jMcGWQAAFWoG.jpg",
            &photo_url(tweet),
        );
        assert_ne!(body, FX_PHOTO, "the fixture's photo URL was replaced");
        replay.route(
            &format!("api.fxtwitter.com/status/{tweet}"),
            Reply::json(body).delayed(TWEET_DELAY),
        );
        replay.route(
            photo_url(tweet).trim_start_matches("https://"),
            Reply::bytes("image/jpeg", jpeg.clone()).delayed(PHOTO_DELAY),
        );
    }
}

fn spawn_worker(env: &TestEnv, overrides: &str, log: &std::path::Path) -> Proc {
    let mut cmd = vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), env);
    let log = std::fs::File::create(log).expect("worker log");
    cmd.env("VAULTSTREAM_UPSTREAM_OVERRIDES", overrides)
        .env("VAULTSTREAM_LOG_LEVEL", "info")
        .arg("worker")
        .stdout(Stdio::null())
        .stderr(log);
    Proc(cmd.spawn().expect("spawn vaultstream worker"))
}

/// Delete every key of the namespace; returns how many there were.
fn flush_namespace(namespace: &str) -> usize {
    let client = redis::Client::open(redis_url()).expect("redis url");
    let mut conn = client.get_connection().expect("redis connection");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}*"))
        .query(&mut conn)
        .expect("KEYS");
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL").arg(&keys).query(&mut conn).expect("DEL");
    }
    let left: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}*"))
        .query(&mut conn)
        .expect("KEYS");
    // A worker may write a key back at once (a heartbeat); nothing queued
    // survives the DEL either way.
    assert!(left.len() <= 8, "keys left after the flush: {left:?}");
    keys.len()
}

async fn items(db: &DatabaseConnection, status: &str) -> u64 {
    content::Entity::find()
        .filter(content::Column::Status.eq(status))
        .count(db)
        .await
        .expect("count")
}

async fn files(db: &DatabaseConnection, status: &str) -> u64 {
    media::Entity::find()
        .filter(media::Column::Status.eq(status))
        .count(db)
        .await
        .expect("count")
}

async fn depth(queue: &ApalisQueue, kind: JobKind) -> u64 {
    queue
        .depth_of(kind)
        .await
        .expect("queue depth")
        .expect("Redis reports a depth")
}

async fn state(db: &DatabaseConnection) -> String {
    let mut s = String::new();
    for st in ["unprocessed", "processing", "pulled", "failed"] {
        s += &format!("items {st} {}; ", items(db, st).await);
    }
    for st in ["pending", "processing", "archived", "failed"] {
        s += &format!("files {st} {}; ", files(db, st).await);
    }
    let open = content::Entity::find()
        .filter(content::Column::Status.is_in(["unprocessed", "processing"]))
        .all(db)
        .await
        .expect("items");
    for c in open.iter().take(5) {
        s += &format!(
            "\nitem {} {} attempts {} lease_until {:?} enqueued_at {:?}",
            c.id, c.status, c.attempts, c.lease_until, c.enqueued_at
        );
    }
    let open = media::Entity::find()
        .filter(media::Column::Status.is_in(["pending", "processing"]))
        .all(db)
        .await
        .expect("files");
    for m in open.iter().take(5) {
        s += &format!(
            "\nfile {} {} attempts {} lease_until {:?} enqueued_at {:?}",
            m.id, m.status, m.attempts, m.lease_until, m.enqueued_at
        );
    }
    s
}

fn tail(log: &std::path::Path) -> String {
    let s = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = s
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("reconciler"))
        .collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Poll until `done` holds (bounded), then return the elapsed time.
async fn until(
    db: &DatabaseConnection,
    log: &std::path::Path,
    what: &str,
    within: Duration,
    done: impl AsyncFn() -> bool,
) {
    wait::until(within, what, || async {
        if done().await {
            return Ok(());
        }
        Err(format!("{}\nworker log:\n{}", state(db).await, tail(log)))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flushed_redis_loses_no_item_and_no_media() {
    let started = Instant::now();
    let replay = Replay::start(&["api.fxtwitter.com", "pbs.twimg.com"]).await;
    routes(&replay);
    let mut env = TestEnv::new(Stack::PostgresRedis).await;
    env.set("ARCHIVE_MEDIA", "true")
        .set("WORKER_CONCURRENCY", "8")
        .set("MEDIA_CONCURRENCY", "2")
        .set("LEASE_MS", "3000")
        .set("REQUEUE_AFTER_MS", "1500")
        .set("RECONCILE_INTERVAL_MS", "300")
        .set("BACKOFF_BASE_MS", "100");
    let settings = env.settings();
    let db = vaultstream_core::db::connect_migrated(&settings)
        .await
        .expect("migrated database");
    let queue = ApalisQueue::open(&settings).await.expect("queue");
    store_and_queue_tweets(
        &db,
        &queue,
        (FIRST_ID..FIRST_ID + ITEMS).map(|t| t.to_string()),
    )
    .await;
    let log = env.dir.path().join("worker.log");
    let _worker = spawn_worker(&env, &replay.overrides(), &log);

    // Flush 1: some items pulled, parse jobs still queued.
    let db_ = &db;
    until(
        &db,
        &log,
        "a quarter pulled",
        Duration::from_secs(60),
        async || items(db_, "pulled").await >= ITEMS / 4,
    )
    .await;
    let parse_depth_1 = depth(&queue, JobKind::Parse).await;
    let media_depth_1 = depth(&queue, JobKind::Media).await;
    let pulled_1 = items(&db, "pulled").await;
    let keys_1 = flush_namespace(&env.namespace);
    // Items not yet taken: their messages were only in Redis, so only the
    // reconciler (nothing else queues parse jobs) can bring them back.
    let waiting_1 = items(&db, "unprocessed").await;
    assert!(
        parse_depth_1 > 0 && waiting_1 > 0,
        "parse jobs were queued when Redis was flushed (depth {parse_depth_1}, \
         {waiting_1} items waiting)"
    );

    // Flush 2: every item pulled, media jobs still queued.
    until(
        &db,
        &log,
        "every item pulled",
        Duration::from_secs(60),
        async || items(db_, "pulled").await == ITEMS,
    )
    .await;
    let media_depth_2 = depth(&queue, JobKind::Media).await;
    let archived_2 = files(&db, "archived").await;
    let keys_2 = flush_namespace(&env.namespace);
    let waiting_2 = files(&db, "pending").await;
    assert!(
        media_depth_2 > 0 && waiting_2 > 0,
        "media jobs were queued when Redis was flushed again (depth {media_depth_2}, \
         {waiting_2} files waiting, {archived_2} archived)"
    );

    // Everything settles from the database alone.
    until(
        &db,
        &log,
        "every photo archived",
        Duration::from_secs(90),
        async || {
            files(db_, "archived").await == ITEMS
                && items(db_, "pulled").await == ITEMS
                && files(db_, "pending").await + files(db_, "processing").await == 0
        },
    )
    .await;
    let settled = started.elapsed();
    assert_eq!(items(&db, "processing").await, 0, "no item stuck");
    assert_eq!(items(&db, "unprocessed").await, 0);
    assert_eq!(items(&db, "failed").await, 0);
    assert_eq!(files(&db, "failed").await, 0);
    assert_eq!(
        media::Entity::find().count(&db).await.expect("count"),
        ITEMS,
        "one photo per tweet"
    );
    let dead = dead_letter::Entity::find().all(&db).await.expect("dlq");
    assert!(dead.is_empty(), "dead letters: {dead:#?}");

    // The reconciler is what brought the lost jobs back.
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let requeued_items = text
        .matches("reconciler queued items that were due")
        .count();
    let requeued_files = text
        .matches("reconciler queued media files that were due")
        .count();
    assert!(requeued_items > 0, "the reconciler re-queued lost items");
    assert!(requeued_files > 0, "the reconciler re-queued lost media");
    let refetched = (FIRST_ID..FIRST_ID + ITEMS)
        .filter(|t| replay.hits_on(&format!("api.fxtwitter.com/status/{t}")) > 1)
        .count();
    eprintln!(
        "Redis drill: flush 1 at {pulled_1}/{ITEMS} pulled ({waiting_1} waiting) dropped \
         {keys_1} keys (parse depth {parse_depth_1}, media depth {media_depth_1}); flush 2 \
         at {archived_2}/{ITEMS} archived ({waiting_2} waiting) dropped {keys_2} keys \
         (media depth {media_depth_2}); \
         reconciler passes that queued items: {requeued_items}, media: {requeued_files}; \
         {refetched} tweets fetched more than once; all settled after {:.1} s",
        settled.as_secs_f64()
    );
}

/// The worst moment for a flush: a worker died mid-job, the lease ran
/// out, the reconciler queued the row again — and that message is lost
/// too. The row (an item, and a media file) must still be queued again
/// once that message is stale, not left `processing` for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orphan_whose_requeued_message_was_flushed_is_queued_again() {
    use sea_orm::sea_query::Expr;
    let replay = Replay::start(&["api.fxtwitter.com", "pbs.twimg.com"]).await;
    routes(&replay);
    let mut env = TestEnv::new(Stack::PostgresRedis).await;
    env.set("ARCHIVE_MEDIA", "true")
        .set("LEASE_MS", "2000")
        .set("REQUEUE_AFTER_MS", "500")
        .set("RECONCILE_INTERVAL_MS", "200");
    let settings = env.settings();
    let db = vaultstream_core::db::connect_migrated(&settings)
        .await
        .expect("migrated database");
    let id = store_tweet(&db, &FIRST_ID.to_string()).await;
    let log = env.dir.path().join("worker.log");

    // Archive it once (the reconciler finds the new item).
    let worker = spawn_worker(&env, &replay.overrides(), &log);
    let db_ = &db;
    let done = async || items(db_, "pulled").await == 1 && files(db_, "archived").await == 1;
    until(&db, &log, "first run", Duration::from_secs(30), done).await;
    drop(worker);
    let before = content::Entity::find_by_id(id)
        .one(&db)
        .await
        .expect("item")
        .expect("exists");

    // Both rows as a dead worker and a lost re-queue leave them: leased
    // until 3 s ago, queued again 2 s ago (after the lease ran out), and
    // no message in Redis.
    content::Entity::update_many()
        .col_expr(content::Column::Status, Expr::value("processing"))
        .col_expr(content::Column::LeaseToken, Expr::value("dead-worker"))
        .col_expr(
            content::Column::LeaseUntil,
            Expr::cust("now() - interval '3 seconds'"),
        )
        .col_expr(
            content::Column::EnqueuedAt,
            Expr::cust("now() - interval '2 seconds'"),
        )
        .filter(content::Column::Id.eq(id))
        .exec(&db)
        .await
        .expect("orphan the item");
    media::Entity::update_many()
        .col_expr(media::Column::Status, Expr::value("processing"))
        .col_expr(media::Column::LeaseToken, Expr::value("dead-worker"))
        .col_expr(
            media::Column::LeaseUntil,
            Expr::cust("now() - interval '3 seconds'"),
        )
        .col_expr(
            media::Column::EnqueuedAt,
            Expr::cust("now() - interval '2 seconds'"),
        )
        .filter(media::Column::ContentId.eq(id))
        .exec(&db)
        .await
        .expect("orphan the file");
    flush_namespace(&env.namespace);

    let _worker = spawn_worker(&env, &replay.overrides(), &log);
    until(&db, &log, "orphans taken up", Duration::from_secs(30), done).await;
    let after = content::Entity::find_by_id(id)
        .one(&db)
        .await
        .expect("item")
        .expect("exists");
    assert!(
        after.attempts > before.attempts,
        "the item ran again: {before:?} → {after:?}"
    );
    let file = media::Entity::find()
        .filter(media::Column::ContentId.eq(id))
        .one(&db)
        .await
        .expect("file")
        .expect("exists");
    assert!(file.attempts >= 2, "the file ran again: {file:?}");
}
