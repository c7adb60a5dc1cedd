//! Video: a large file served by a local server, archived by a real
//! `vaultstream worker` process through the media step into the S3 server
//! (Garage on loopback): MB/s and the worker's peak resident memory, at two
//! sizes, to show memory stays flat as the file grows. Beside it, the
//! source's own rate: the same bytes read by a plain client into nothing.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::IntoResponse;
use axum::routing::get;
use futures::StreamExt;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use vaultstream_core::db::entities::media;
use vaultstream_core::queue::{JobQueue, ParseJob};
use vaultstream_core::status::MediaStatus;
use vaultstream_queue::ApalisQueue;
use vaultstream_testkit::env::Stack;

use crate::Opts;
use crate::deploy::{Deployment, wait_for};
use crate::report::Row;

const CHUNK: usize = 64 * 1024;

/// The file's bytes, chunk by chunk: an MP4 `ftyp` box, then noise (so
/// nothing along the way can compress it).
fn chunk(i: u64) -> bytes::Bytes {
    let mut x = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(CHUNK);
    while v.len() < CHUNK {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    if i == 0 {
        v[..24].copy_from_slice(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2");
    }
    bytes::Bytes::from(v)
}

/// A page with an `og:video` of `size` bytes at `/h/media.example.net/film-<size>.mp4`.
async fn start_source() -> anyhow::Result<String> {
    let app = Router::new()
        .route(
            "/h/example.com/film/{size}",
            get(
                |axum::extract::Path(size): axum::extract::Path<u64>| async move {
                    let page = format!(
                        r#"<!doctype html><html><head><title>Film {size}</title>
<meta property="og:title" content="Film {size}">
<meta property="og:video" content="https://media.example.net/film-{size}.mp4">
<meta property="og:video:type" content="video/mp4"></head>
<body><article><p>A long film for the video benchmark.</p></article></body></html>"#
                    );
                    ([("content-type", "text/html; charset=utf-8")], page).into_response()
                },
            ),
        )
        .route(
            "/h/media.example.net/{file}",
            get(
                |axum::extract::Path(file): axum::extract::Path<String>| async move {
                    let size: u64 = file
                        .trim_start_matches("film-")
                        .trim_end_matches(".mp4")
                        .parse()
                        .unwrap_or(0);
                    let stream = futures::stream::iter(0..size / CHUNK as u64)
                        .map(|i| Ok::<_, std::io::Error>(chunk(i)));
                    (
                        [
                            ("content-type", "video/mp4".to_owned()),
                            ("content-length", size.to_string()),
                        ],
                        Body::from_stream(stream),
                    )
                        .into_response()
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

struct One {
    mb_per_s: f64,
    secs: f64,
    peak_mb: f64,
    source_mb_per_s: f64,
}

pub async fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    const MIB: u64 = 1024 * 1024;
    let sizes: [u64; 2] = if opts.quick {
        [8 * MIB, 32 * MIB]
    } else {
        [100 * MIB, 1024 * MIB]
    };
    let base = start_source().await?;
    let bucket = vaultstream_testkit::s3::server().bucket();
    let small = one(opts, &base, &bucket.env, sizes[0]).await?;
    let large = one(opts, &base, &bucket.env, sizes[1]).await?;
    let growth = large.peak_mb / small.peak_mb;
    let mut rows = Vec::new();
    for (size, r) in [(sizes[0], &small), (sizes[1], &large)] {
        let row = Row::new(
            "video",
            format!("{} MiB → S3 (Garage), 1 worker process", size / MIB),
        )
        .num("mb_per_s", r.mb_per_s)
        .num("secs", r.secs)
        .num("worker_peak_rss_mb", r.peak_mb)
        .num("source_mb_per_s", r.source_mb_per_s)
        .result(format!(
            "{:.0} MB/s, worker peak RSS {:.0} MiB",
            r.mb_per_s, r.peak_mb
        ))
        .baseline(
            format!("source read alone: {:.0} MB/s", r.source_mb_per_s),
            Some(r.mb_per_s / r.source_mb_per_s),
        );
        rows.push(if size == sizes[1] {
            row.num("peak_vs_small", growth).target(
                format!(
                    "peak ≤ 80 MB and flat (×{growth:.2} vs {} MiB)",
                    sizes[0] / MIB
                ),
                r.peak_mb <= 80.0 && growth <= 1.15,
            )
        } else {
            row.target("peak ≤ 80 MB", r.peak_mb <= 80.0)
        });
    }
    Ok(rows)
}

async fn one(opts: &Opts, base: &str, s3: &[(String, String)], size: u64) -> anyhow::Result<One> {
    let mut dep = Deployment::new(Stack::Embedded).await;
    dep.set("ARCHIVE_MEDIA", "true").set(
        "UPSTREAM_OVERRIDES",
        format!("example.com={base}/h/example.com,media.example.net={base}/h/media.example.net"),
    );
    dep.set("MEDIA_MAX_VIDEO_BYTES", (4u64 << 30).to_string());
    for (k, v) in s3 {
        dep.set(k, v.clone());
    }
    let db = dep.db().await?;
    let queue = ApalisQueue::open(&dep.env.settings()).await?;
    let worker = dep.spawn(opts, "worker", &[("LOG_LEVEL", "warn".to_owned())])?;
    // Let the worker start before the clock does.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let url = format!("https://example.com/film/{size}");
    let start = Instant::now();
    let content_id = vaultstream_testkit::proc::store_page(&db, &url).await;
    queue
        .enqueue_parse(
            ParseJob {
                content_id,
                request_id: None,
            },
            None,
        )
        .await?;
    let row = wait_for(
        "the video archived",
        Duration::from_secs(600),
        Duration::from_millis(50),
        || {
            let db = db.clone();
            async move {
                let m = media::Entity::find()
                    .filter(media::Column::Role.eq("video"))
                    .one(&db)
                    .await?;
                Ok(m.filter(|m| matches!(m.status.as_str(), "archived" | "failed")))
            }
        },
    )
    .await?;
    let secs = start.elapsed().as_secs_f64();
    let peak_mb = worker.peak_kb() as f64 / 1024.0;
    drop(worker);
    anyhow::ensure!(
        row.status == MediaStatus::Archived,
        "the video was not archived: {row:?}"
    );
    anyhow::ensure!(
        row.bytes == Some(size as i64),
        "stored {:?} bytes of {size}",
        row.bytes
    );

    // The source's own rate: the same bytes read and dropped.
    let t = Instant::now();
    let mut resp = reqwest::get(format!("{base}/h/media.example.net/film-{size}.mp4")).await?;
    let mut got = 0u64;
    while let Some(c) = resp.chunk().await? {
        got += c.len() as u64;
    }
    let source_secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(got == size, "source sent {got} of {size}");
    Ok(One {
        mb_per_s: size as f64 / 1e6 / secs,
        secs,
        peak_mb,
        source_mb_per_s: size as f64 / 1e6 / source_secs,
    })
}
