//! End to end: items with four photos each, submitted over HTTP to a real
//! `vaultstream api` process, parsed and archived by two `vaultstream
//! worker` processes into the S3 server, on PostgreSQL + Redis. The
//! platform is a local FxTwitter stand-in answering every tweet id with a
//! tweet of four photos; each photo URL serves one of the real photos of
//! the corpus with a per-URL tail after its end marker (decoders ignore
//! it), so every download is a new source file that must be transcoded.
//!
//! Measured: items/s from the first submission to the last item fully
//! archived, and per item the time from its submission to `pulled` (text
//! stored) and to all four photos archived (p50/p99).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use vaultstream_core::db::entities::{content, media};
use vaultstream_testkit::env::Stack;

use crate::Opts;
use crate::deploy::{Deployment, percentile, wait_for};
use crate::report::Row;

const PHOTOS_PER_ITEM: usize = 4;
const FIRST_ID: u64 = 1_650_000_000_000_000_000;

struct Source {
    photos: Vec<Vec<u8>>,
}

/// FxTwitter's answer for tweet `id`: four photos on pbs.twimg.com.
fn tweet(id: &str) -> String {
    let photos: Vec<serde_json::Value> = (0..PHOTOS_PER_ITEM)
        .map(|k| {
            serde_json::json!({
                "type": "photo",
                "url": format!("https://pbs.twimg.com/media/{id}-{k}.jpg"),
                "width": 1000, "height": 750,
            })
        })
        .collect();
    serde_json::json!({
        "code": 200, "message": "OK",
        "tweet": {
            "url": format!("https://x.com/bench/status/{id}"),
            "id": id,
            "text": format!("Benchmark tweet {id} with four photos"),
            "author": {"name": "Bench", "screen_name": "bench", "id": "42"},
            "created_at": "Wed Oct 05 18:40:30 +0000 2022",
            "created_timestamp": 1_664_995_230,
            "likes": 1, "retweets": 0, "replies": 0,
            "media": {"photos": photos},
        }
    })
    .to_string()
}

async fn start_upstream(photos_dir: &Path) -> anyhow::Result<String> {
    let mut files: Vec<_> = std::fs::read_dir(photos_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_small.jpg"))
        .collect();
    files.sort();
    anyhow::ensure!(
        !files.is_empty(),
        "no *_small.jpg in {}",
        photos_dir.display()
    );
    let photos = files
        .iter()
        .map(std::fs::read)
        .collect::<Result<Vec<_>, _>>()?;
    let state = Arc::new(Source { photos });
    let app = Router::new()
        .route(
            "/h/api.fxtwitter.com/{*rest}",
            get(|UrlPath(rest): UrlPath<String>| async move {
                let id = rest.rsplit('/').next().unwrap_or("").to_owned();
                ([("content-type", "application/json")], tweet(&id)).into_response()
            }),
        )
        .route(
            "/h/pbs.twimg.com/media/{file}",
            get(
                |State(s): State<Arc<Source>>, UrlPath(file): UrlPath<String>| async move {
                    let name = file.trim_end_matches(".jpg");
                    let n = name
                        .bytes()
                        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
                    let mut body = s.photos[(n % s.photos.len() as u64) as usize].clone();
                    // After the JPEG's end: a tail unique to this URL.
                    body.extend_from_slice(name.as_bytes());
                    ([("content-type", "image/jpeg")], body).into_response()
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

pub async fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let items: u64 = if opts.quick { 20 } else { 1000 };
    let submitters = 16;
    let base = start_upstream(&opts.photos).await?;
    let bucket = vaultstream_testkit::s3::server().bucket();
    let mut dep = Deployment::new(Stack::PostgresRedis).await;
    dep.set("ARCHIVE_MEDIA", "true").set(
        "UPSTREAM_OVERRIDES",
        format!(
            "api.fxtwitter.com={base}/h/api.fxtwitter.com,pbs.twimg.com={base}/h/pbs.twimg.com"
        ),
    );
    for (k, v) in &bucket.env {
        dep.set(k, v.clone());
    }
    let db = dep.db().await?;
    let quiet = [("LOG_LEVEL", "warn".to_owned())];
    let (api, addr) = dep.spawn_api(opts, &quiet).await?;
    let workers = [
        dep.spawn(opts, "worker", &quiet)?,
        dep.spawn(opts, "worker", &quiet)?,
    ];
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Submit every item over HTTP, recording when each was accepted.
    let client = reqwest::Client::new();
    let start = Instant::now();
    let started_at = Utc::now();
    let mut tasks = Vec::new();
    for s in 0..submitters {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut accepted: Vec<(i64, DateTime<Utc>)> = Vec::new();
            let mut i = s;
            while i < items {
                let sent = Utc::now();
                let r = client
                    .post(format!("http://{addr}/api/v1/shares"))
                    .json(&serde_json::json!({"url": format!("https://x.com/bench/status/{}", FIRST_ID + i)}))
                    .send()
                    .await?;
                anyhow::ensure!(r.status().as_u16() == 201, "share answered {}", r.status());
                let v: serde_json::Value = r.json().await?;
                let id = v["content_id"].as_i64().ok_or_else(|| anyhow::anyhow!("no content_id in {v}"))?;
                accepted.push((id, sent));
                i += submitters;
            }
            anyhow::Ok(accepted)
        }));
    }
    let mut submitted: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for t in tasks {
        submitted.extend(t.await??);
    }
    let submit_secs = start.elapsed().as_secs_f64();

    let total_media = items * PHOTOS_PER_ITEM as u64;
    let within = Duration::from_secs(if opts.quick { 180 } else { 1800 });
    wait_for(
        "every photo archived",
        within,
        Duration::from_millis(100),
        || {
            let db = db.clone();
            async move {
                let pulled = content::Entity::find()
                    .filter(content::Column::Status.eq("pulled"))
                    .count(&db)
                    .await?;
                let archived = media::Entity::find()
                    .filter(media::Column::Status.eq("archived"))
                    .count(&db)
                    .await?;
                let failed = media::Entity::find()
                    .filter(media::Column::Status.eq("failed"))
                    .count(&db)
                    .await?;
                anyhow::ensure!(failed == 0, "{failed} photos failed");
                Ok((pulled == items && archived == total_media).then_some(()))
            }
        },
    )
    .await?;
    let secs = start.elapsed().as_secs_f64();
    let peaks: Vec<f64> = workers
        .iter()
        .map(|w| w.peak_kb() as f64 / 1024.0)
        .collect();
    drop(workers);
    drop(api);

    let rows = content::Entity::find().all(&db).await?;
    let mut to_pulled = Vec::new();
    for c in &rows {
        if let (Some(sent), Some(p)) = (submitted.get(&c.id), c.pulled_at) {
            to_pulled.push((p - *sent).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    let mut last_archived: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for m in media::Entity::find().all(&db).await? {
        if let Some(a) = m.archived_at {
            let e = last_archived.entry(m.content_id).or_insert(a);
            *e = (*e).max(a);
        }
    }
    let mut to_archived: Vec<f64> = last_archived
        .iter()
        .filter_map(|(id, a)| Some((*a - *submitted.get(id)?).num_microseconds()? as f64 / 1000.0))
        .collect();
    to_pulled.sort_by(f64::total_cmp);
    to_archived.sort_by(f64::total_cmp);
    let per_s = items as f64 / secs;
    let _ = started_at;
    Ok(vec![
        Row::new(
            "e2e",
            format!("{items} items × {PHOTOS_PER_ITEM} photos, API + 2 worker processes, PostgreSQL + Redis + S3"),
        )
        .metric("items", items)
        .num("items_per_s", per_s)
        .num("images_per_s", per_s * PHOTOS_PER_ITEM as f64)
        .num("secs", secs)
        .num("submit_secs", submit_secs)
        .num("pulled_p50_ms", percentile(&to_pulled, 50.0))
        .num("pulled_p99_ms", percentile(&to_pulled, 99.0))
        .num("archived_p50_ms", percentile(&to_archived, 50.0))
        .num("archived_p99_ms", percentile(&to_archived, 99.0))
        .num("worker_peak_rss_mb", peaks.iter().copied().fold(0.0, f64::max))
        .result(format!(
            "{per_s:.1} items/s ({:.1} photos/s); submit→pulled p50 {:.0} ms, p99 {:.0} ms; submit→all photos archived p50 {:.1} s, p99 {:.1} s",
            per_s * PHOTOS_PER_ITEM as f64,
            percentile(&to_pulled, 50.0),
            percentile(&to_pulled, 99.0),
            percentile(&to_archived, 50.0) / 1000.0,
            percentile(&to_archived, 99.0) / 1000.0,
        ))
        .baseline("the images scenario's rate bounds this: 4 photos per item", None),
    ])
}
