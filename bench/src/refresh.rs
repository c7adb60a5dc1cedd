//! Refresh: re-archiving at the default settings, and what a refresh
//! backlog does to new shares. A real `vaultstream api` and one `vaultstream
//! worker` process on PostgreSQL + Redis (and on the embedded default);
//! the platform is a local FxTwitter stand-in whose counters grow on every
//! fetch (so every refresh stores a stats point) and whose text changes for
//! one tweet in ten on its second fetch (a new version).
//!
//! 1. `N` items are shared and pulled; their refreshes are scheduled by the
//!    default policy (first one an hour later).
//! 2. No backlog: `M` new shares at a steady pace; submit → pulled p50/p99.
//! 3. Every one of the `N` refreshes is made due at once, and `M` new
//!    shares arrive at the same pace while that backlog drains: submit →
//!    pulled p50/p99 again, beside step 2, and refreshes/s for the whole
//!    backlog (first due → last stored).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
};
use vaultstream_core::db::entities::{content, refresh};
use vaultstream_testkit::env::Stack;

use crate::Opts;
use crate::deploy::{Deployment, percentile, wait_for};
use crate::report::Row;

const FIRST_ID: u64 = 1_700_000_000_000_000_000;
const PACE: Duration = Duration::from_millis(50);

/// How often each tweet was fetched.
type Hits = Arc<Mutex<HashMap<String, u64>>>;

fn tweet(id: &str, fetch: u64) -> String {
    let edited = fetch >= 2 && id.ends_with('0');
    serde_json::json!({
        "code": 200, "message": "OK",
        "tweet": {
            "url": format!("https://x.com/bench/status/{id}"),
            "id": id,
            "text": format!("Benchmark tweet {id}{}", if edited { " (edited)" } else { "" }),
            "author": {"name": "Bench", "screen_name": "bench", "id": "42"},
            "created_at": "Wed Oct 05 18:40:30 +0000 2022",
            "created_timestamp": 1_664_995_230,
            "likes": 10 * fetch, "retweets": fetch, "replies": 0, "views": 100 * fetch,
        }
    })
    .to_string()
}

async fn start_upstream() -> anyhow::Result<String> {
    let hits: Hits = Arc::default();
    let app = Router::new()
        .route(
            "/h/api.fxtwitter.com/{*rest}",
            get(
                |State(hits): State<Hits>, UrlPath(rest): UrlPath<String>| async move {
                    let id = rest.rsplit('/').next().unwrap_or("").to_owned();
                    let fetch = {
                        let mut h = hits.lock().expect("hits");
                        let n = h.entry(id.clone()).or_default();
                        *n += 1;
                        *n
                    };
                    ([("content-type", "application/json")], tweet(&id, fetch)).into_response()
                },
            ),
        )
        .with_state(hits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

/// Share `ids` over HTTP, `parallel` at a time, or one every [`PACE`] when
/// `paced`; returns (content id, when sent).
async fn share(
    addr: std::net::SocketAddr,
    ids: std::ops::Range<u64>,
    paced: bool,
) -> anyhow::Result<Vec<(i64, DateTime<Utc>)>> {
    let client = reqwest::Client::new();
    let parallel = if paced { 1 } else { 16 };
    let ids: Vec<u64> = ids.collect();
    let mut tasks = Vec::new();
    for chunk in ids.chunks(ids.len().div_ceil(parallel).max(1)) {
        let (client, chunk) = (client.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            for id in chunk {
                let sent = Utc::now();
                let r = client
                    .post(format!("http://{addr}/api/v1/shares"))
                    .json(&serde_json::json!({"url": format!("https://x.com/bench/status/{}", FIRST_ID + id)}))
                    .send()
                    .await?;
                anyhow::ensure!(r.status().as_u16() == 201, "share answered {}", r.status());
                let v: serde_json::Value = r.json().await?;
                let cid = v["content_id"]
                    .as_i64()
                    .ok_or_else(|| anyhow::anyhow!("no content_id in {v}"))?;
                out.push((cid, sent));
                if paced {
                    tokio::time::sleep(PACE).await;
                }
            }
            anyhow::Ok(out)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// Wait until every item in `sent` is pulled; their submit → pulled times
/// in ms, sorted.
async fn pulled_latencies(
    db: &DatabaseConnection,
    sent: &[(i64, DateTime<Utc>)],
) -> anyhow::Result<Vec<f64>> {
    let ids: Vec<i64> = sent.iter().map(|(id, _)| *id).collect();
    let want = ids.len() as u64;
    wait_for(
        "the new shares pulled",
        Duration::from_secs(600),
        Duration::from_millis(50),
        || {
            let (db, ids) = (db.clone(), ids.clone());
            async move {
                let n = content::Entity::find()
                    .filter(content::Column::Id.is_in(ids))
                    .filter(content::Column::Status.eq("pulled"))
                    .count(&db)
                    .await?;
                Ok((n == want).then_some(()))
            }
        },
    )
    .await?;
    let when: HashMap<i64, DateTime<Utc>> = sent.iter().copied().collect();
    let mut out: Vec<f64> = content::Entity::find()
        .filter(content::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|c| {
            Some((c.pulled_at? - *when.get(&c.id)?).num_microseconds()? as f64 / 1000.0)
        })
        .collect();
    out.sort_by(f64::total_cmp);
    Ok(out)
}

async fn refreshed(db: &DatabaseConnection) -> anyhow::Result<u64> {
    Ok(refresh::Entity::find()
        .filter(refresh::Column::Rounds.gt(0))
        .count(db)
        .await?)
}

async fn one(opts: &Opts, stack: Stack, items: u64, new: u64) -> anyhow::Result<Vec<Row>> {
    let base = start_upstream().await?;
    let mut dep = Deployment::new(stack).await;
    dep.set(
        "UPSTREAM_OVERRIDES",
        format!("api.fxtwitter.com={base}/h/api.fxtwitter.com"),
    );
    let db = dep.db().await?;
    let quiet = [("LOG_LEVEL", "warn".to_owned())];
    let (api, addr) = dep.spawn_api(opts, &quiet).await?;
    let worker = dep.spawn(opts, "worker", &quiet)?;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 1. The archive: N pulled items, each with its refresh scheduled.
    let archive = share(addr, 0..items, false).await?;
    pulled_latencies(&db, &archive).await?;
    wait_for(
        "every refresh scheduled",
        Duration::from_secs(300),
        Duration::from_millis(100),
        || {
            let db = db.clone();
            async move {
                let n = refresh::Entity::find()
                    .filter(refresh::Column::Status.eq("waiting"))
                    .count(&db)
                    .await?;
                Ok((n == items).then_some(()))
            }
        },
    )
    .await?;

    // 2. New shares with no backlog.
    let calm = share(addr, items..items + new, true).await?;
    let calm = pulled_latencies(&db, &calm).await?;

    // 3. The whole archive due at once, and new shares meanwhile.
    let due = Instant::now();
    db.execute_unprepared(&format!(
        "UPDATE refreshes SET next_attempt_at = '{}', enqueued_at = NULL",
        (Utc::now() - chrono::Duration::minutes(1)).format("%Y-%m-%d %H:%M:%S%:z")
    ))
    .await?;
    let busy = share(addr, items + new..items + 2 * new, true).await?;
    let busy = pulled_latencies(&db, &busy).await?;
    let done_meanwhile = refreshed(&db).await?;
    wait_for(
        "the refresh backlog drained",
        Duration::from_secs(if opts.quick { 300 } else { 3600 }),
        Duration::from_millis(100),
        || {
            let db = db.clone();
            async move { Ok((refreshed(&db).await? >= items).then_some(())) }
        },
    )
    .await?;
    let secs = due.elapsed().as_secs_f64();
    let versions: u64 = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM content_versions WHERE version > 1",
        ))
        .await?
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0) as u64;
    let rss = worker.peak_kb() as f64 / 1024.0;
    drop(worker);
    drop(api);

    let label = match stack {
        Stack::PostgresRedis => "PostgreSQL + Redis",
        _ => "embedded (SQLite)",
    };
    let per_s = items as f64 / secs;
    Ok(vec![
        Row::new(
            "refresh",
            format!("{items} refreshes due at once, 1 worker process (REFRESH_CONCURRENCY default), {label}"),
        )
        .metric("items", items)
        .num("refreshes_per_s", per_s)
        .num("secs", secs)
        .metric("new_versions", versions)
        .num("worker_peak_rss_mb", rss)
        .result(format!(
            "{per_s:.1} refreshes/s; {versions} new versions recorded"
        ))
        .baseline("paced by the refresh pool (below new items), not by the database", None),
        Row::new(
            "refresh",
            format!("{new} new shares, one per {} ms, {label}", PACE.as_millis()),
        )
        .metric("shares", new)
        .num("calm_p50_ms", percentile(&calm, 50.0))
        .num("calm_p99_ms", percentile(&calm, 99.0))
        .num("backlog_p50_ms", percentile(&busy, 50.0))
        .num("backlog_p99_ms", percentile(&busy, 99.0))
        .metric("refreshes_done_meanwhile", done_meanwhile)
        .result(format!(
            "submit → pulled p50 {:.0} ms / p99 {:.0} ms with no backlog; {:.0} ms / {:.0} ms while {items} refreshes drain ({done_meanwhile} done meanwhile)",
            percentile(&calm, 50.0),
            percentile(&calm, 99.0),
            percentile(&busy, 50.0),
            percentile(&busy, 99.0),
        ))
        .baseline("the same shares with no backlog, same run", None),
    ])
}

pub async fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let (items, new) = if opts.quick { (60, 10) } else { (2000, 100) };
    let mut rows = one(opts, Stack::Embedded, items, new).await?;
    if !opts.quick {
        rows.extend(one(opts, Stack::PostgresRedis, items, new).await?);
    }
    Ok(rows)
}
