//! Search: a generated archive (realistic Chinese, English and mixed text,
//! sampled by frequency from the bundled word lists in `bench/data`, a
//! tenth of the Chinese written in traditional characters), indexed by
//! `search reindex`'s code, then a fixed query set by 8 concurrent
//! clients — on SQLite and on PostgreSQL. Beside it, in the same run and on
//! the same rows: `LIKE '%…%'` (today's `q=`), SQLite FTS5 with its
//! `unicode61` and `trigram` tokenizers, PostgreSQL `pg_trgm`; and the
//! recall of each on a labelled query set (the truth comes from the
//! generated text itself).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use vaultstream_core::db::search;
use vaultstream_testkit::env::{Stack, TestEnv};

use crate::Opts;
use crate::report::Row;

mod corpus;

use corpus::{Corpus, fill, labelled, query_set, truth};

const CLIENTS: usize = 8;

/// A way to search, timed and checked the same way as ours.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Ours,
    Like,
    Unicode61,
    Trigram,
    PgTrgm,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Ours => "ours (tokens + FTS5 / tsvector)",
            Method::Like => "LIKE '%…%' (today's q=)",
            Method::Unicode61 => "FTS5 unicode61",
            Method::Trigram => "FTS5 trigram",
            Method::PgTrgm => "pg_trgm (ILIKE, GIN)",
        }
    }
}

/// Print each timed query's plan (stderr): `EXPLAIN QUERY PLAN` on
/// SQLite, `EXPLAIN ANALYZE` on PostgreSQL. Set `VAULTSTREAM_BENCH_EXPLAIN`.
async fn explain(
    db: &DatabaseConnection,
    queries: &[(&'static str, String)],
) -> anyhow::Result<()> {
    let backend = db.get_database_backend();
    for (kind, q) in queries {
        let parsed = search::parse(q).map_err(|e| anyhow::anyhow!("{e}"))?;
        // PostgreSQL runs words window by window: its first window (every
        // query of the set has words).
        let first = if backend == DbBackend::Postgres {
            search::pg_first_window(db, &parsed, 21, 0).await?
        } else {
            None
        };
        let st = first.unwrap_or_else(|| search::ranked_statement(backend, &parsed, 21, 0));
        let prefix = if backend == DbBackend::Postgres {
            "EXPLAIN ANALYZE "
        } else {
            "EXPLAIN QUERY PLAN "
        };
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                format!("{prefix}{}", st.sql),
                st.values.map(|v| v.0).unwrap_or_default(),
            ))
            .await?;
        eprintln!("--- {kind}: {q}\n{}", st.sql);
        for r in rows {
            let line = r
                .try_get::<String>("", "QUERY PLAN")
                .or_else(|_| r.try_get::<String>("", "detail"))
                .unwrap_or_default();
            eprintln!("    {line}");
        }
    }
    Ok(())
}

/// Build a baseline's index; returns the seconds it took.
async fn build(db: &DatabaseConnection, m: Method) -> anyhow::Result<f64> {
    let started = Instant::now();
    let stmts: &[&str] = match m {
        Method::Unicode61 => &[
            "CREATE VIRTUAL TABLE bench_u61 USING fts5(title, text, content='contents', content_rowid='id')",
            "INSERT INTO bench_u61(bench_u61) VALUES ('rebuild')",
        ],
        Method::Trigram => &[
            "CREATE VIRTUAL TABLE bench_tri USING fts5(title, text, content='contents', content_rowid='id', tokenize='trigram')",
            "INSERT INTO bench_tri(bench_tri) VALUES ('rebuild')",
        ],
        Method::PgTrgm => &[
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            "CREATE INDEX bench_trgm ON contents USING gin ((coalesce(title, '') || ' ' || coalesce(text, '')) gin_trgm_ops)",
        ],
        _ => &[],
    };
    for s in stmts {
        db.execute_unprepared(s).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Ids a method finds for a query (`limit` of them at most).
async fn find(db: &DatabaseConnection, m: Method, q: &str, limit: u64) -> anyhow::Result<Vec<i64>> {
    if m == Method::Ours {
        let parsed = search::parse(q).map_err(|e| anyhow::anyhow!("{e}"))?;
        // The timed queries take the whole path (answers with snippets);
        // recall needs only the ids.
        if limit <= 20 {
            let hits = search::search(db, &parsed, limit, 0).await?;
            return Ok(hits.hits.iter().map(|h| h.item.id).collect());
        }
        let ranked = search::ranked(db, &parsed, limit, 0).await?;
        return Ok(ranked.into_iter().map(|(id, _)| id).collect());
    }
    let backend = db.get_database_backend();
    let word = q.trim_matches('"').split(" platform:").next().unwrap_or(q);
    let platform = q.split(" platform:").nth(1);
    let pat = format!("%{}%", word.to_lowercase());
    let fts = format!("\"{}\"", word.replace('"', "\"\""));
    let pfilter = |col: &str| match platform {
        Some(p) => format!(" AND {col}.platform = '{p}'"),
        None => String::new(),
    };
    let (sql, vals): (String, Vec<Value>) = match (m, backend) {
        (Method::Like, DbBackend::Postgres) => (
            format!(
                "SELECT id FROM contents c WHERE (LOWER(title) LIKE $1 OR LOWER(text) LIKE $1){} ORDER BY id DESC LIMIT {limit}",
                pfilter("c")
            ),
            vec![pat.into()],
        ),
        (Method::Like, _) => (
            format!(
                "SELECT id FROM contents c WHERE (LOWER(title) LIKE ? OR LOWER(text) LIKE ?){} ORDER BY id DESC LIMIT {limit}",
                pfilter("c")
            ),
            vec![pat.clone().into(), pat.into()],
        ),
        (Method::PgTrgm, _) => (
            format!(
                "SELECT id FROM contents c WHERE (coalesce(title, '') || ' ' || coalesce(text, '')) ILIKE $1{} ORDER BY id DESC LIMIT {limit}",
                pfilter("c")
            ),
            vec![pat.into()],
        ),
        (Method::Unicode61 | Method::Trigram, _) => {
            let table = if m == Method::Unicode61 {
                "bench_u61"
            } else {
                "bench_tri"
            };
            (
                format!(
                    "SELECT c.id AS id FROM {table} JOIN contents c ON c.id = {table}.rowid WHERE {table} MATCH ?{} ORDER BY rank LIMIT {limit}",
                    pfilter("c")
                ),
                vec![fts.into()],
            )
        }
        (Method::Ours, _) => unreachable!("handled above"),
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, vals))
        .await;
    // FTS5 refuses some queries outright (trigram: fewer than 3 characters
    // match nothing): that is "nothing found", not a failed benchmark.
    let rows = match rows {
        Ok(r) => r,
        Err(_) if matches!(m, Method::Trigram | Method::Unicode61) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<i64>("", "id").ok())
        .collect())
}

/// Latency of `rounds` passes over the query set by 8 clients: p50 and
/// p99 in ms over all queries, queries per second, and p50/p99 per kind of
/// query (in the query set's order).
async fn latency(
    db: &DatabaseConnection,
    m: Method,
    queries: &[(&'static str, String)],
    rounds: usize,
) -> anyhow::Result<(f64, f64, f64, Vec<(&'static str, f64, f64)>)> {
    let queries = Arc::new(queries.to_vec());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (db, queries) = (db.clone(), queries.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for r in 0..rounds {
                for k in 0..queries.len() {
                    let (kind, q) = &queries[(k + c + r) % queries.len()];
                    let t = Instant::now();
                    find(&db, m, q, 20).await?;
                    times.push((*kind, t.elapsed()));
                }
            }
            Ok::<_, anyhow::Error>(times)
        }));
    }
    let mut timed: Vec<(&'static str, Duration)> = Vec::new();
    for t in tasks {
        timed.extend(t.await??);
    }
    let qps = timed.len() as f64 / started.elapsed().as_secs_f64();
    let pct = |mut ds: Vec<Duration>, p: f64| {
        ds.sort_unstable();
        let i = ((ds.len() as f64 * p).ceil() as usize).saturating_sub(1);
        ds.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let all: Vec<Duration> = timed.iter().map(|(_, d)| *d).collect();
    let per_kind = queries
        .iter()
        .map(|(kind, _)| {
            let ds: Vec<Duration> = timed
                .iter()
                .filter(|(k, _)| k == kind)
                .map(|(_, d)| *d)
                .collect();
            (*kind, pct(ds.clone(), 0.50), pct(ds, 0.99))
        })
        .collect();
    Ok((pct(all.clone(), 0.50), pct(all, 0.99), qps, per_kind))
}

async fn db_bytes(db: &DatabaseConnection, what: &str) -> anyhow::Result<i64> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            format!("SELECT CAST(pg_total_relation_size('{what}') AS BIGINT) AS n")
        }
        _ => "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()"
            .to_owned(),
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| anyhow::anyhow!("no size"))?;
    Ok(row.try_get::<i64>("", "n")?)
}

pub async fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let n: u64 = opts
        .search_items
        .unwrap_or(if opts.quick { 3_000 } else { 1_000_000 })
        .max(100);
    let rounds = if opts.quick { 2 } else { 25 };
    let corpus = Corpus::new();
    let mut rows = Vec::new();
    for stack in [Stack::Embedded, Stack::Postgres] {
        let pg = stack == Stack::Postgres;
        let backend = if pg { "PostgreSQL" } else { "SQLite" };
        let env = TestEnv::new(stack).await;
        let db = vaultstream_core::db::connect_migrated(&env.settings()).await?;
        fill(&db, &corpus, n).await?;
        if !pg {
            db.execute_unprepared("VACUUM").await?;
        }
        let table_bytes = db_bytes(&db, "contents").await?;

        let started = Instant::now();
        let indexed = search::reindex(&db, 1000, |_, _| {}).await?;
        let build_s = started.elapsed().as_secs_f64();
        // Fresh statistics after the bulk load, as autovacuum (PostgreSQL)
        // or an operator's ANALYZE (SQLite) would give a live archive:
        // without them PostgreSQL guesses a platform holds 44 of 100,000
        // items and picks a plan for that.
        db.execute_unprepared("ANALYZE").await?;
        let index_bytes = if pg {
            db_bytes(&db, "search_docs").await?
        } else {
            db_bytes(&db, "").await? - table_bytes
        };
        let rate = indexed as f64 / build_s;
        rows.push(
            Row::new("search", format!("index build, {backend}, {n} items"))
                .num("items_per_s", rate)
                .num("build_s", build_s)
                .metric("index_mb", index_bytes / (1 << 20))
                .metric("table_mb", table_bytes / (1 << 20))
                .result(format!(
                    "{rate:.0} items/s; index {} MB beside {} MB of items ({:.2}×)",
                    index_bytes >> 20,
                    table_bytes >> 20,
                    index_bytes as f64 / table_bytes.max(1) as f64
                )),
        );

        let mut methods = vec![Method::Ours, Method::Like];
        if opts.search_ours_only {
            methods.truncate(1);
        } else if pg {
            methods.push(Method::PgTrgm);
        } else {
            methods.extend([Method::Unicode61, Method::Trigram]);
        }
        let queries = query_set(&corpus);
        let labels = labelled(&corpus);
        let truths: Vec<HashSet<i64>> = labels.iter().map(|w| truth(&corpus, n, w)).collect();
        let mut ours_p99 = 0.0;
        for m in methods {
            let build = build(&db, m).await?;
            let (p50, p99, qps, per_kind) = latency(&db, m, &queries, rounds).await?;
            if m == Method::Ours && std::env::var_os("VAULTSTREAM_BENCH_EXPLAIN").is_some() {
                explain(&db, &queries).await?;
            }
            let mut found = 0usize;
            let mut wanted = 0usize;
            let mut zh2_found = 0usize;
            let mut zh2_wanted = 0usize;
            for (w, t) in labels.iter().zip(&truths) {
                let ids: HashSet<i64> = find(&db, m, w, t.len() as u64 + 1000)
                    .await?
                    .into_iter()
                    .collect();
                let hit = t.intersection(&ids).count();
                found += hit;
                wanted += t.len();
                if w.chars().count() == 2 && !w.is_ascii() {
                    zh2_found += hit;
                    zh2_wanted += t.len();
                }
            }
            let recall = found as f64 / wanted.max(1) as f64;
            let zh2 = zh2_found as f64 / zh2_wanted.max(1) as f64;
            let mut row = Row::new("search", format!("queries, {backend}, {}", m.name()))
                .num("p50_ms", p50)
                .num("p99_ms", p99)
                .num("queries_per_s", qps)
                .num("recall", recall)
                .num("recall_zh2", zh2)
                .num("index_build_s", build)
                .result(format!(
                    "p50 {p50:.1} ms, p99 {p99:.1} ms; recall {:.0} % (two-character Chinese words {:.0} %)",
                    recall * 100.0,
                    zh2 * 100.0
                ));
            if m == Method::Ours {
                // Which kinds of query make the tail: p99 per kind.
                let mut worst = per_kind.clone();
                worst.sort_by(|a, b| b.2.total_cmp(&a.2));
                for (kind, k50, k99) in &per_kind {
                    let name: String = kind
                        .chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect();
                    row = row
                        .num(&format!("p50_ms_{name}"), *k50)
                        .num(&format!("p99_ms_{name}"), *k99);
                }
                if let Some((kind, _, k99)) = worst.first() {
                    row.result = format!("{}; slowest kind: {kind} (p99 {k99:.1} ms)", row.result);
                }
                ours_p99 = p99;
                row = row.target(format!("p99 ≤ 50 ms at {n} items, 8 clients"), p99 <= 50.0);
            } else if ours_p99 > 0.0 {
                row = row.baseline(format!("ours p99 {ours_p99:.1} ms"), Some(p99 / ours_p99));
            }
            rows.push(row);
        }
    }
    Ok(rows)
}
