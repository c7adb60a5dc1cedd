//! Ingest: `POST /api/v1/shares` against the real `vaultstream api`
//! process, new links and already-known links, beside the storage's own
//! limit: the same SQL statements driven directly over a pool of the same
//! size at the same concurrency (and, on PostgreSQL, pgbench's single-row
//! `INSERT … ON CONFLICT DO NOTHING` when pgbench is installed).

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use sea_orm::sqlx;
use vaultstream_testkit::env::Stack;

use crate::Opts;
use crate::deploy::Deployment;
use crate::load::{self, LoadResult, MakeRequest};
use crate::report::Row;

/// Tweet ids of this run start here (any numeric id is a valid tweet link).
const FIRST_ID: u64 = 1_700_000_000_000_000_000;

struct Sizes {
    conns: usize,
    warmup: Duration,
    window: Duration,
}

fn sizes(opts: &Opts) -> Sizes {
    if opts.quick {
        Sizes {
            conns: 16,
            warmup: Duration::from_millis(300),
            window: Duration::from_secs(1),
        }
    } else {
        Sizes {
            conns: 64,
            warmup: Duration::from_secs(3),
            window: Duration::from_secs(20),
        }
    }
}

pub async fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for stack in [Stack::PostgresRedis, Stack::Embedded] {
        rows.extend(one_stack(opts, stack).await?);
    }
    Ok(rows)
}

fn stack_name(stack: Stack) -> &'static str {
    match stack {
        Stack::PostgresRedis => "PostgreSQL + Redis",
        Stack::Embedded => "embedded (SQLite + SQLite queue)",
        Stack::Postgres => "PostgreSQL + its queue",
        Stack::SqliteRedis => "SQLite + Redis",
    }
}

fn share(id: u64) -> (Method, String, Option<String>) {
    (
        Method::POST,
        "/api/v1/shares".to_owned(),
        Some(format!(r#"{{"url":"https://x.com/bench/status/{id}"}}"#)),
    )
}

async fn one_stack(opts: &Opts, stack: Stack) -> anyhow::Result<Vec<Row>> {
    let sz = sizes(opts);
    let dep = Deployment::new(stack).await;
    let db = dep.db().await?;
    let pool_size = dep.env.settings().database_max_connections;
    let (api, addr) = dep.spawn_api(opts, &[]).await?;

    // New links: every request a tweet nobody has shared yet.
    let new: MakeRequest = Arc::new(|n| share(FIRST_ID + n));
    let new_res = load::run(addr, sz.conns, sz.warmup, sz.window, new).await?;
    anyhow::ensure!(
        new_res.not(&[201]) == 0,
        "new shares answered other than 201: {:?}",
        new_res.statuses
    );
    // Known links: tweets of the run above, shared again (spread over all
    // of them, so the database reads are not all hot).
    let known_ids = new_res.sent.saturating_sub(sz.conns as u64 * 2).max(1);
    let known: MakeRequest =
        Arc::new(move |n| share(FIRST_ID + (n.wrapping_mul(7_919) % known_ids)));
    let known_res = load::run(addr, sz.conns, sz.warmup, sz.window, known).await?;
    anyhow::ensure!(
        known_res.not(&[200]) == 0,
        "known shares answered other than 200: {:?}",
        known_res.statuses
    );
    let api_peak_mb = api.peak_kb() as f64 / 1024.0;
    drop(api);

    // The storage's limit: the same statements, no HTTP, no queue.
    let raw_new = raw_sql(&db, stack, pool_size, &sz, RawKind::New).await?;
    let raw_known = raw_sql(
        &db,
        stack,
        pool_size,
        &sz,
        RawKind::Known { ids: known_ids },
    )
    .await?;
    let pgbench = if stack == Stack::PostgresRedis {
        pgbench(&dep, &sz).await
    } else {
        None
    };

    let name = stack_name(stack);
    let pg = stack == Stack::PostgresRedis;
    let mut rows = Vec::new();
    let ratio_new = new_res.per_s / raw_new.per_s;
    let mut row = http_row("new shares", name, &new_res, &sz)
        .num("api_peak_rss_mb", api_peak_mb)
        .num("raw_sql_per_s", raw_new.per_s)
        .num("raw_sql_p99_ms", raw_new.p99_ms)
        .baseline(
            format!(
                "same SQL, {} tasks on {pool_size} connections: {:.0}/s{}",
                sz.conns,
                raw_new.per_s,
                pgbench
                    .map(|t| format!("; pgbench 1-row upsert: {t:.0} tps"))
                    .unwrap_or_default()
            ),
            Some(ratio_new),
        );
    if let Some(t) = pgbench {
        row = row.num("pgbench_upsert_tps", t);
    }
    row = if pg {
        row.target(
            "≥ 5,000/s, p99 ≤ 50 ms, ≥ 0.5× raw SQL",
            new_res.per_s >= 5000.0 && new_res.p99_ms <= 50.0 && ratio_new >= 0.5,
        )
    } else {
        row.target("≥ 2,000/s", new_res.per_s >= 2000.0)
    };
    rows.push(row);

    let ratio_known = known_res.per_s / raw_known.per_s;
    let mut row = http_row("known shares", name, &known_res, &sz)
        .num("raw_sql_per_s", raw_known.per_s)
        .num("vs_new", known_res.per_s / new_res.per_s)
        .baseline(
            format!("same SQL: {:.0}/s", raw_known.per_s),
            Some(ratio_known),
        );
    if pg {
        row = row.target("≥ 2× new shares", known_res.per_s >= 2.0 * new_res.per_s);
    }
    rows.push(row);
    Ok(rows)
}

fn http_row(what: &str, stack: &str, r: &LoadResult, sz: &Sizes) -> Row {
    Row::new("ingest", format!("{what}, {stack}"))
        .metric("connections", sz.conns)
        .num("window_s", r.secs)
        .metric("requests", r.requests)
        .num("per_s", r.per_s)
        .num("p50_ms", r.p50_ms)
        .num("p99_ms", r.p99_ms)
        .num("max_ms", r.max_ms)
        .result(format!(
            "{:.0} req/s, p50 {:.1} ms, p99 {:.1} ms",
            r.per_s, r.p50_ms, r.p99_ms
        ))
}

#[derive(Clone, Copy)]
enum RawKind {
    New,
    Known { ids: u64 },
}

/// What `contents::submit` does, as plain SQL over a plain pool: on
/// PostgreSQL its one statement (`contents::SUBMIT_PG`), on SQLite the same
/// transaction: insert the item unless its (platform, platform_id) exists,
/// read its id when it did, record the submission as a source.
async fn raw_sql(
    db: &sea_orm::DatabaseConnection,
    stack: Stack,
    pool_size: u32,
    sz: &Sizes,
    kind: RawKind,
) -> anyhow::Result<LoadResult> {
    // Raw ids never collide with the HTTP run's new ones.
    const RAW_FIRST: u64 = 1_800_000_000_000_000_000;
    let id_for = move |n: u64| match kind {
        RawKind::New => RAW_FIRST + n,
        RawKind::Known { ids } => FIRST_ID + (n.wrapping_mul(7_919) % ids),
    };
    if matches!(stack, Stack::PostgresRedis | Stack::Postgres) {
        let url = db.get_postgres_connection_pool().connect_options().clone();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(pool_size)
            .connect_with((*url).clone())
            .await?;
        // PostgreSQL: the very statement `contents::submit` sends.
        let r = load::run_loop(sz.conns, sz.warmup, sz.window, move |n| {
            let pool = pool.clone();
            async move {
                let id = id_for(n).to_string();
                let url = format!("https://x.com/i/status/{id}");
                let now = chrono::Utc::now();
                let row = sqlx::query(vaultstream_core::db::contents::SUBMIT_PG)
                    .bind("twitter")
                    .bind(&id)
                    .bind(&url)
                    .bind("post")
                    .bind("unprocessed")
                    .bind(now)
                    .bind(&url)
                    .bind(&url)
                    .bind(None::<String>)
                    .bind("api")
                    .bind("[]")
                    .bind(None::<String>)
                    .bind(None::<String>)
                    .bind(None::<String>)
                    .fetch_one(&pool)
                    .await?;
                std::hint::black_box(row);
                Ok(())
            }
        })
        .await?;
        anyhow::ensure!(r.not(&[200]) == 0, "raw SQL errors: {:?}", r.statuses);
        Ok(r)
    } else {
        let pool = db.get_sqlite_connection_pool().clone();
        let _ = pool_size;
        let r = load::run_loop(sz.conns, sz.warmup, sz.window, move |n| {
            let pool = pool.clone();
            async move {
                let id = id_for(n).to_string();
                let url = format!("https://x.com/i/status/{id}");
                let now = chrono::Utc::now().to_rfc3339();
                let mut tx = pool.begin().await?;
                let inserted: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO contents (platform, platform_id, canonical_url, kind, status, \
                     failure_count, attempts, enqueued_at, created_at, updated_at) \
                     VALUES ('twitter', ?1, ?2, 'post', 'unprocessed', 0, 0, ?3, ?3, ?3) \
                     ON CONFLICT (platform, platform_id) DO NOTHING RETURNING id",
                )
                .bind(&id)
                .bind(&url)
                .bind(&now)
                .fetch_optional(&mut *tx)
                .await?;
                let content_id = match inserted {
                    Some((cid,)) => cid,
                    None => sqlx::query_as::<_, (i64,)>(
                        "SELECT id FROM contents WHERE platform = 'twitter' AND platform_id = ?1",
                    )
                    .bind(&id)
                    .fetch_one(&mut *tx)
                    .await?
                    .0,
                };
                sqlx::query(
                    "INSERT INTO content_sources (content_id, raw_text, submitted_url, channel, \
                     tags, created_at) VALUES (?1, ?2, ?2, 'api', '[]', ?3)",
                )
                .bind(content_id)
                .bind(&url)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }
        })
        .await?;
        anyhow::ensure!(r.not(&[200]) == 0, "raw SQL errors: {:?}", r.statuses);
        Ok(r)
    }
}

/// pgbench's single-row `INSERT … ON CONFLICT DO NOTHING` at the same
/// concurrency, on a scratch table of the deployment's database; `None`
/// when pgbench is not installed.
async fn pgbench(dep: &Deployment, sz: &Sizes) -> Option<f64> {
    let url = dep.env.pg.as_ref()?.url.clone();
    let script = dep.env.dir.path().join("upsert.sql");
    std::fs::write(
        &script,
        "\\set id random(1, 1000000000000)\n\
         INSERT INTO bench_upsert (platform, platform_id) VALUES ('twitter', :id) ON CONFLICT DO NOTHING;\n",
    )
    .ok()?;
    let psql = tokio::process::Command::new("psql")
        .arg(&url)
        .args(["-qc", "CREATE TABLE IF NOT EXISTS bench_upsert (id bigserial PRIMARY KEY, platform text NOT NULL, platform_id text NOT NULL, UNIQUE (platform, platform_id))"])
        .output()
        .await
        .ok()?;
    if !psql.status.success() {
        return None;
    }
    let secs = (sz.window.as_secs()).max(1).to_string();
    let out = tokio::process::Command::new("pgbench")
        .arg("-n")
        .args(["-c", &sz.conns.to_string(), "-j", "2", "-T", &secs, "-f"])
        .arg(&script)
        .arg(&url)
        .output()
        .await
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
}
