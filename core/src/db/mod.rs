//! Database access: connecting (SQLite or PostgreSQL), migrating, and the
//! queries of each table group.
//!
//! Layout:
//! - [`entities`]: sea-orm entities mirroring the `migrations` crate.
//! - [`work`]: queued work — due, claim, lease, retry, reconciler queries —
//!   written once for every table below that jobs work on.
//! - [`contents`]: submissions, items, lists.
//! - [`batch`]: many submissions in one transaction (the batch intake,
//!   original times).
//! - [`group`]: group commit — single submissions arriving together share
//!   one transaction.
//! - [`items`]: an item's parse transitions (claim, store, retry, fail).
//! - [`media`]: media rows and their transitions.
//! - [`blobs`]: the blob registry and source hashes.
//! - [`dead_letters`]: jobs that failed for good.
//! - [`retry`]: an operator's retry of items, files and dead letters.
//! - [`push`]: push targets and pushed records.
//! - [`keys`]: API keys.
//! - [`logins`]: the login vault (per-platform cookies, encrypted at
//!   rest) and the health of every login.
//! - [`feeds`]: feeds (a saved filter behind a revocable token).
//! - [`search`]: the full-text index (FTS5 / tsvector) and search queries.
//! - [`previews`]: what a list's card shows of an item's media.
//! - [`tags`]: editing an item's tags (the search document kept current).
//! - [`refresh`]: fetching items again — versions, stats series,
//!   upstream state, the refresh policy.

pub mod batch;
pub mod blobs;
pub mod contents;
pub mod dead_letters;
pub mod entities;
pub mod feeds;
pub mod group;
pub mod history;
pub mod items;
pub mod keys;
pub mod logins;
pub mod media;
pub mod previews;
pub mod push;
pub mod refresh;
pub mod retry;
pub mod search;
pub mod tags;
pub mod work;

use std::path::PathBuf;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use vaultstream_migrations::{Migrator, MigratorTrait};

use crate::settings::{Settings, redact_url};

pub use sea_orm::DatabaseConnection as Db;

/// How much of a SQLite file is read through memory mapping (SQLite caps
/// it at 2 GiB unless built otherwise).
const SQLITE_MMAP_BYTES: u64 = 2 << 30;

/// Open the pool described by the settings. For SQLite the data directory is
/// created, WAL is on (readers never wait for the writer), `synchronous =
/// NORMAL` (durable across process crashes; WAL makes it safe), foreign keys
/// are enforced, a writer waits up to 10 s for the lock instead of
/// failing at once, and the file is read through memory mapping.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    let url = settings.database_url.expose().clone();
    let dir = settings
        .is_sqlite()
        .then(|| sqlite_path(&url))
        .flatten()
        .and_then(|p| p.parent().map(PathBuf::from))
        .filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir {
        std::fs::create_dir_all(&dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut opts = ConnectOptions::new(url.clone());
    opts.max_connections(settings.database_max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(15))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
                // Read the file through memory mapping (up to SQLite's
                // own limit, 2 GiB): a page read is a memory access
                // instead of a system call and a copy into each
                // connection's small page cache. Search with filters at
                // 1,000,000 items reads thousands of scattered pages per
                // query (bench/README.md).
                .pragma("mmap_size", SQLITE_MMAP_BYTES.to_string())
        });
    // Switching a fresh SQLite file to WAL takes its lock without waiting
    // for a busy one: processes opening it at the same moment may be told
    // "database is locked" once. Try again briefly before giving up.
    let mut attempt = 0;
    loop {
        match Database::connect(opts.clone()).await {
            Err(e) if settings.is_sqlite() && attempt < 20 && e.to_string().contains("locked") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            r => {
                break r.map_err(|e| {
                    DbErr::Custom(format!("cannot open database {}: {e}", redact_url(&url)))
                });
            }
        }
    }
}

/// The file behind a `sqlite:` URL, if it names one.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// A transaction that reads before it writes. On SQLite it takes the write
/// lock at `BEGIN` (IMMEDIATE): two at once queue up on the lock (the busy
/// timeout) instead of the second failing with "database is locked" once
/// the snapshot it read is stale. PostgreSQL ignores the mode.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Apply every pending migration, once across processes: several
/// processes started together on one database (an API and two workers on
/// a fresh install) must not fail because another one migrates at the same
/// moment. PostgreSQL: the migration runs under a transaction-scoped
/// advisory lock, so the others wait and then find nothing to do. SQLite
/// (no such lock): a failed attempt is retried while another process
/// finishes, and counts as done once nothing is pending.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
    /// An arbitrary constant naming VaultStream's migration lock.
    const LOCK: i64 = 0x7661_756c_7473_7472; // "vaultstr"
    const ATTEMPTS: u32 = 40;
    let mut attempt = 0;
    loop {
        let result = if db.get_database_backend() == DbBackend::Postgres {
            let lock = db.begin().await?;
            lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({LOCK})"))
                .await?;
            let r = Migrator::up(db, None).await;
            lock.commit().await?;
            r
        } else {
            Migrator::up(db, None).await
        };
        let Err(e) = result else { return Ok(()) };
        if pending_migrations(db).await.is_ok_and(|p| p.is_empty()) {
            return Ok(());
        }
        attempt += 1;
        if attempt >= ATTEMPTS {
            return Err(e);
        }
        tracing::info!(error = %e, attempt, "migrating failed (another process may be migrating); trying again");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// Open the pool and apply every pending migration. On SQLite the pool is
/// then opened afresh: a SQLite connection resolves an upsert's `ON
/// CONFLICT` target against the schema it cached when it last read it, at
/// prepare time — before it notices the schema changed — so a pooled
/// connection that read the schema before a migration added a unique index
/// fails its first `INSERT … ON CONFLICT` ("ON CONFLICT clause does not
/// match any PRIMARY KEY or UNIQUE constraint").
pub async fn connect_migrated(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    let db = connect(settings).await?;
    if !settings.is_sqlite() {
        // Even reading what is pending creates the bookkeeping table on a
        // fresh database: under the lock, like the rest.
        migrate_up(&db).await?;
        return Ok(db);
    }
    let pending = pending_migrations(&db).await?;
    if pending.is_empty() {
        return Ok(db);
    }
    migrate_up(&db).await?;
    db.close().await?;
    connect(settings).await
}

/// Roll back the last `steps` migrations.
pub async fn migrate_down(db: &DatabaseConnection, steps: u32) -> Result<(), DbErr> {
    Migrator::down(db, Some(steps)).await
}

/// Each known migration and whether it is applied.
pub async fn migration_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    let applied: Vec<String> = Migrator::get_applied_migrations(db)
        .await?
        .into_iter()
        .map(|m| m.name().to_owned())
        .collect();
    Ok(Migrator::migrations()
        .iter()
        .map(|m| {
            let name = m.name().to_owned();
            let done = applied.contains(&name);
            (name, done)
        })
        .collect())
}

/// Names of migrations not yet applied.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .into_iter()
        .map(|m| m.name().to_owned())
        .collect())
}

/// A cheap round trip, for health checks.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        _ => "other",
    }
}
