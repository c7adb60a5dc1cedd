//! S3 outage drill: the blob store (a real Garage server, this test
//! binary's own) goes away for 10 s while a real `vaultstream worker`
//! process is archiving media on PostgreSQL + Redis, then comes back with
//! its data. Every media file must end archived — none failed, nothing
//! dead-lettered — every blob the database lists must be in the bucket
//! under its SHA-256 key with exactly those bytes, and the outage must
//! really have hit (media attempts failed on the store while it was down).
//!
//! Items are web pages on a replay server, three `og:image`s each, at
//! distinct URLs. The images are the real photos of `shared/fixtures/media`,
//! each served with one quantization-table entry nudged (a valid JPEG whose
//! pixels, hence its WebP, differ): every file is transcoded and uploaded
//! as a blob of its own, none is deduplicated away.
//!
//! Retry settings (why a 10 s outage is survived): `BACKOFF_BASE_MS=500`,
//! `MAX_ATTEMPTS=10`, `MEDIA_CONCURRENCY=4`. While S3 is down an attempt
//! takes over a second (rust-s3 retries a refused request once, after
//! 1 s) and its retry is queued behind the files not yet tried, so in this
//! drill a file fails once or twice (measured: at most 2 attempts). The
//! budget covers the worst case too: a file retried as soon as its backoff
//! allows waits 0.5, 1, 2, 4, 8 s (±25 % jitter), so six failed attempts
//! span at least 0.375 × (2⁶ − 1) ≈ 23 s, longer than the outage plus
//! Garage's stop and restart, and at least three attempts are left. The
//! longest wait in that range, about 20 s, bounds the recovery.
//!
//! Its own test binary: stopping Garage affects no other test.

use std::collections::{BTreeSet, HashMap};
use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use sha2::{Digest, Sha256};
use vaultstream_core::db::entities::{blob, content, dead_letter, media};
use vaultstream_core::error::MediaErrorCode;
use vaultstream_core::queue::{JobQueue, ParseJob};
use vaultstream_core::status::MediaStatus;
use vaultstream_queue::ApalisQueue;
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::proc::{Proc, store_page};
use vaultstream_testkit::replay::{Replay, Reply};
use vaultstream_testkit::wait;

/// Items, and images per item.
const ITEMS: usize = 40;
const PER_ITEM: usize = 3;
const FILES: usize = ITEMS * PER_ITEM;
/// The outage starts once this many files are archived.
const ARCHIVED_BEFORE: u64 = 20;
const OUTAGE: Duration = Duration::from_secs(10);
/// Each image answer is this slow, so the media phase outlasts the
/// moment the outage starts.
const IMAGE_DELAY: Duration = Duration::from_millis(150);

const PHOTOS: [&str; 8] = [
    "astronaut_small.jpg",
    "camera_small.jpg",
    "chelsea_small.jpg",
    "coffee_small.jpg",
    "hubble_small.jpg",
    "ihc_small.jpg",
    "retina_small.jpg",
    "rocket_small.jpg",
];

fn photo(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/../shared/fixtures/media/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// `jpeg` with entry `pos` (zigzag order, a low frequency) of its first
/// quantization table raised by one: still a valid JPEG, but its decoded
/// pixels differ from the original's and from every other `pos`.
fn nudged(jpeg: &[u8], pos: usize) -> Vec<u8> {
    assert!(pos < 64);
    let mut out = jpeg.to_vec();
    let mut i = 2; // after SOI
    while i + 5 <= out.len() {
        assert_eq!(out[i], 0xFF, "a JPEG marker at {i}");
        let marker = out[i + 1];
        let len = usize::from(u16::from_be_bytes([out[i + 2], out[i + 3]]));
        if marker == 0xDB {
            // Pq (precision) and Tq, then 64 entries of 1 or 2 bytes.
            let at = if out[i + 4] >> 4 == 0 {
                i + 5 + pos
            } else {
                i + 5 + 2 * pos + 1
            };
            out[at] = out[at].checked_add(1).expect("room to raise the entry");
            return out;
        }
        assert_ne!(marker, 0xDA, "no quantization table before the scan");
        i += 2 + len;
    }
    panic!("no quantization table")
}

fn page_url(i: usize) -> String {
    format!("https://example.com/drill/{i:03}")
}

fn image_url(i: usize, j: usize) -> String {
    format!("https://img.example.net/drill/{i:03}/{j}.jpg")
}

/// Pages and images on the replay server: image `k` is photo `k % 8`
/// nudged at position `k / 8`, so all of them differ.
fn routes(replay: &Replay) {
    let photos: Vec<Vec<u8>> = PHOTOS.iter().map(|p| photo(p)).collect();
    for i in 0..ITEMS {
        let metas: String = (0..PER_ITEM)
            .map(|j| {
                format!(
                    "<meta property=\"og:image\" content=\"{}\">\n",
                    image_url(i, j)
                )
            })
            .collect();
        let page = format!(
            "<!doctype html><html><head><title>Drill {i}</title>\n\
             <meta property=\"og:title\" content=\"Drill page {i}\">\n{metas}</head>\n\
             <body><article><p>Page {i} of the S3 outage drill, with its photos.</p>\
             </article></body></html>"
        );
        let url = page_url(i);
        replay.route(url.trim_start_matches("https://"), Reply::html(page));
        for j in 0..PER_ITEM {
            let k = i * PER_ITEM + j;
            let bytes = nudged(&photos[k % PHOTOS.len()], k / PHOTOS.len());
            let url = image_url(i, j);
            replay.route(
                url.trim_start_matches("https://"),
                Reply::bytes("image/jpeg", bytes).delayed(IMAGE_DELAY),
            );
        }
    }
}

fn spawn_worker(env: &TestEnv, log: &std::path::Path) -> Proc {
    let mut cmd = vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), env);
    let log = std::fs::File::create(log).expect("worker log");
    cmd.env("VAULTSTREAM_LOG_LEVEL", "warn")
        .arg("worker")
        .stdout(Stdio::null())
        .stderr(log);
    Proc(cmd.spawn().expect("spawn vaultstream worker"))
}

async fn media_rows(db: &DatabaseConnection) -> Vec<media::Model> {
    media::Entity::find().all(db).await.expect("media rows")
}

async fn count_media(db: &DatabaseConnection, status: MediaStatus) -> u64 {
    media::Entity::find()
        .filter(media::Column::Status.eq(status))
        .count(db)
        .await
        .expect("count")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The worker's log, for failure messages.
fn tail(log: &std::path::Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(log) {
        let _ = f.read_to_string(&mut s);
    }
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn media_survive_a_10s_s3_outage() {
    let started = Instant::now();
    let s3 = vaultstream_testkit::s3::server();
    let bucket = s3.bucket();
    let replay = Replay::start(&["example.com", "img.example.net"]).await;
    routes(&replay);

    let mut env = TestEnv::new(Stack::PostgresRedis).await;
    for (k, v) in &bucket.env {
        env.set(k, v.clone());
    }
    env.set("ARCHIVE_MEDIA", "true")
        .set("UPSTREAM_OVERRIDES", replay.overrides())
        .set("WORKER_CONCURRENCY", "4")
        .set("MEDIA_CONCURRENCY", "4")
        .set("BACKOFF_BASE_MS", "500")
        .set("MAX_ATTEMPTS", "10")
        .set("LEASE_MS", "10000")
        .set("REQUEUE_AFTER_MS", "5000")
        .set("RECONCILE_INTERVAL_MS", "500");
    let settings = env.settings();
    let db = vaultstream_core::db::connect_migrated(&settings)
        .await
        .expect("migrated database");
    let queue = ApalisQueue::open(&settings).await.expect("queue");
    for i in 0..ITEMS {
        let content_id = store_page(&db, &page_url(i)).await;
        let job = ParseJob {
            content_id,
            request_id: None,
        };
        queue.enqueue_parse(job, None).await.expect("enqueue");
    }
    let log = env.dir.path().join("worker.log");
    let worker = spawn_worker(&env, &log);

    // Run until some files are archived, then take S3 away.
    let what = format!("{ARCHIVED_BEFORE} files archived");
    wait::until(Duration::from_secs(60), what, || async {
        if count_media(&db, MediaStatus::Archived).await >= ARCHIVED_BEFORE {
            return Ok(());
        }
        Err(tail(&log))
    })
    .await;
    let down_ms = now_ms();
    s3.stop().await;
    let stopped_ms = now_ms();
    let archived_at_stop = count_media(&db, MediaStatus::Archived).await;
    let keys_before: BTreeSet<String> = media_rows(&db)
        .await
        .into_iter()
        .filter_map(|m| m.blob_key)
        .collect();
    assert!(
        (archived_at_stop as usize) < FILES,
        "the outage began with files still to archive ({archived_at_stop} of {FILES} archived)"
    );

    tokio::time::sleep(OUTAGE).await;
    let failing = media_rows(&db)
        .await
        .iter()
        .filter(|m| m.failure_count > 0)
        .count();
    let up_ms = now_ms();
    s3.restart().await;
    let restarted_ms = now_ms();
    assert!(
        failing > 0,
        "media attempts failed while S3 was down\n{}",
        tail(&log)
    );
    // Garage kept its data: what was stored before the outage is there.
    let keys_after: BTreeSet<String> = bucket.keys().into_iter().collect();
    let lost: Vec<&String> = keys_before.difference(&keys_after).collect();
    assert!(lost.is_empty(), "objects lost in the restart: {lost:?}");

    // Every file settles.
    let what = "every file settled after S3 came back";
    wait::until(Duration::from_secs(90), what, || async {
        let open = media::Entity::find()
            .filter(media::Column::Status.is_in([MediaStatus::Pending, MediaStatus::Processing]))
            .count(&db)
            .await
            .expect("count");
        let total = media::Entity::find().count(&db).await.expect("count");
        if open == 0 && total as usize == FILES {
            return Ok(());
        }
        Err(format!(
            "{open} of {total} files still open\n{}",
            tail(&log)
        ))
    })
    .await;
    let settled = started.elapsed();
    drop(worker);

    // Every item pulled, every file archived, nothing dead-lettered.
    let pulled = content::Entity::find()
        .filter(content::Column::Status.eq("pulled"))
        .count(&db)
        .await
        .expect("count");
    assert_eq!(pulled as usize, ITEMS, "every item pulled");
    let rows = media_rows(&db).await;
    let not_archived: Vec<String> = rows
        .iter()
        .filter(|m| m.status != MediaStatus::Archived)
        .map(|m| format!("{} {} {:?}", m.original_url, m.status, m.error_message))
        .collect();
    assert!(
        not_archived.is_empty(),
        "files not archived: {not_archived:#?}"
    );
    let dead = dead_letter::Entity::find().all(&db).await.expect("dlq");
    assert!(dead.is_empty(), "dead letters: {dead:#?}");

    // Every blob the database lists is in the bucket under its SHA-256
    // key, with exactly those bytes; and every file is a blob of its own.
    let in_bucket: BTreeSet<String> = bucket.keys().into_iter().collect();
    let mut checked: HashMap<String, String> = HashMap::new();
    for m in &rows {
        let (Some(key), Some(sha)) = (m.blob_key.as_deref(), m.sha256.as_deref()) else {
            panic!("archived without a blob: {m:?}");
        };
        assert_eq!(
            key,
            format!("blobs/sha256/{}/{}/{sha}.webp", &sha[..2], &sha[2..4]),
            "{m:?}"
        );
        assert_eq!(m.mime.as_deref(), Some("image/webp"), "{m:?}");
        assert!(in_bucket.contains(key), "{key} is not in the bucket");
        let body = bucket.get(key);
        assert_eq!(
            sha_hex(&body),
            sha,
            "{key}: the stored bytes hash to the key"
        );
        assert_eq!(m.bytes, Some(body.len() as i64), "{key}");
        checked.insert(key.to_owned(), sha.to_owned());
    }
    assert_eq!(checked.len(), FILES, "every file is a blob of its own");
    let blobs = blob::Entity::find().all(&db).await.expect("blobs");
    assert_eq!(blobs.len(), FILES, "one blob row per file");
    for b in &blobs {
        assert_eq!(checked.get(&b.key), Some(&b.sha256), "blob row {b:?}");
    }

    // The outage hit: files failed attempts on the store, only on the
    // store, and only while it was down (a job that found S3 gone may
    // record its failure a little after the restart began).
    let hit: Vec<&media::Model> = rows.iter().filter(|m| m.failure_count > 0).collect();
    assert!(!hit.is_empty(), "no media attempt failed during the outage");
    for m in &hit {
        assert_eq!(m.error_code, Some(MediaErrorCode::StoreFailed), "{m:?}");
        assert!(m.attempts > 1, "{m:?}");
        let at = m.last_error_at.expect("last_error_at").timestamp_millis();
        assert!(
            at >= down_ms && at <= restarted_ms + 2_000,
            "a store failure outside the outage ({down_ms}..{restarted_ms}): {m:?}"
        );
    }
    // Nothing can be archived without S3 (even a reused blob is checked
    // there first): no file was archived while it was down.
    let archived_during: Vec<&media::Model> = rows
        .iter()
        .filter(|m| {
            m.archived_at
                .is_some_and(|t| (stopped_ms + 2_000..up_ms).contains(&t.timestamp_millis()))
        })
        .collect();
    assert!(
        archived_during.is_empty(),
        "archived while S3 was down: {archived_during:#?}"
    );
    let archived_after = rows
        .iter()
        .filter(|m| m.archived_at.is_some_and(|t| t.timestamp_millis() >= up_ms))
        .count();
    assert!(archived_after > 0, "files were archived after S3 came back");
    let retries_logged = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("media failed; retrying later")
        .count();
    let max_attempts = rows.iter().map(|m| m.attempts).max().unwrap_or(0);
    eprintln!(
        "S3 drill: {FILES} files; {archived_at_stop} archived when S3 stopped \
         (stop took {} ms); {} files hit the outage ({} failed attempts, \
         {retries_logged} retries logged, at most {max_attempts} attempts for one file); \
         restart took {} ms; {archived_after} archived after it; all settled after {:.1} s",
        stopped_ms - down_ms,
        hit.len(),
        hit.iter().map(|m| m.failure_count).sum::<i32>(),
        restarted_ms - up_ms,
        settled.as_secs_f64(),
    );
}
