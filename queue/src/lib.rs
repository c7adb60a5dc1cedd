//! The apalis transport behind `core::queue::JobQueue`: what the API role,
//! the CLI, the bot and the workers push to (and the workers pull from).
//! Two modules besides this file: `coalesce` (immediate pushes to the
//! embedded SQLite queue that arrive together share one write) and `sqlite`
//! (those writes, many rows per `INSERT`).
//!
//! Three queues per deployment: `<namespace>:parse`, `<namespace>:media`
//! and `<namespace>:publish`.
//!
//! - Redis (`VAULTSTREAM_REDIS_URL`): apalis-redis, keys under
//!   `<namespace>:parse` / `<namespace>:media`. Results are not kept in Redis (the database has
//!   them), and apalis-redis's own retries are not relied on: the handler
//!   returns an error only when the database itself fails.
//! - Embedded, SQLite: apalis-sqlite in `<data_dir>/queue.db`, a file of
//!   its own (its durability is the queue's, not the archive's): WAL with
//!   `synchronous = NORMAL` on every connection.
//! - Embedded, PostgreSQL: apalis-postgres in the same database.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use apalis::prelude::*;
use apalis_postgres::{PgPool, PostgresStorage};
use apalis_redis::{ConnectionManager, RedisStorage};
use apalis_sqlite::{SqliteConnectOptions, SqlitePool, SqliteStorage};

mod coalesce;
mod sqlite;
use redis::AsyncCommands;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use vaultstream_core::Settings;
use vaultstream_core::queue::{JobKind, JobQueue, MediaJob, ParseJob, PublishJob, RefreshJob};

/// A bound on the Redis backlog. apalis-redis 1.0 moves every due job in
/// one Lua `unpack` and dies at ~20k; so immediate pushes beyond
/// `high_water` are deferred: the item waits in the database (it is due
/// there) and the reconciler feeds it in once the queue has drained.
///
/// The depth is read from Redis at most every 250 ms; pushes made since are
/// counted locally, so one process never overshoots the mark.
pub struct Backlog {
    high_water: u64,
    depth: AtomicU64,
    pushed_since: AtomicU64,
    read_at: Mutex<Option<Instant>>,
}

impl Backlog {
    fn new(high_water: u64) -> Self {
        Self {
            high_water,
            depth: AtomicU64::new(0),
            pushed_since: AtomicU64::new(0),
            read_at: Mutex::new(None),
        }
    }
}

/// One queue (one job type) on the configured backend.
#[derive(Clone)]
pub enum Transport<T> {
    Redis {
        storage: RedisStorage<T>,
        conn: ConnectionManager,
        config: apalis_redis::Config,
        /// Every key of this queue starts with it.
        name: String,
        backlog: Arc<Backlog>,
    },
    Sqlite {
        storage: SqliteStorage<T>,
        pool: SqlitePool,
        /// The queue's name (`Jobs.job_type`).
        queue: String,
        /// Immediate pushes arriving together share one write.
        pushes: Arc<coalesce::Coalescer<T>>,
    },
    Postgres {
        storage: PostgresStorage<T>,
        pool: PgPool,
    },
}

/// The queues of a deployment: parse jobs and media jobs, each with its
/// own workers so a slow video never holds up parsing.
#[derive(Clone)]
pub struct ApalisQueue {
    pub parse: Transport<ParseJob>,
    pub media: Transport<MediaJob>,
    pub publish: Transport<PublishJob>,
    pub refresh: Transport<RefreshJob>,
}

/// The parse queue's name: one namespace per deployment (tests use one each).
pub fn queue_name(settings: &Settings) -> String {
    format!("{}:parse", settings.queue_namespace)
}

/// The media queue's name.
pub fn media_queue_name(settings: &Settings) -> String {
    format!("{}:media", settings.queue_namespace)
}

/// The publish (Telegram) queue's name.
pub fn publish_queue_name(settings: &Settings) -> String {
    format!("{}:publish", settings.queue_namespace)
}

/// The refresh queue's name.
pub fn refresh_queue_name(settings: &Settings) -> String {
    format!("{}:refresh", settings.queue_namespace)
}

/// The connections both queues share.
enum Backend {
    Redis(ConnectionManager),
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl ApalisQueue {
    /// Connect to the queues the settings select, creating their tables.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let backend = if let Some(url) = &settings.redis_url {
            Backend::Redis(
                apalis_redis::connect(url.expose().as_str())
                    .await
                    .context("cannot connect to Redis (VAULTSTREAM_REDIS_URL)")?,
            )
        } else if settings.is_sqlite() {
            std::fs::create_dir_all(&settings.data_dir)
                .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
            let path = settings.data_dir.join("queue.db");
            // Every connection in WAL with `synchronous = NORMAL` (apalis'
            // setup sets its pragmas on one connection only; the others
            // would fsync every push): a power cut may lose the newest
            // messages, never corrupt the file, and a lost message is
            // re-queued by the reconciler from the row that is due.
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePool::connect_with(options)
                .await
                .with_context(|| format!("cannot open the embedded queue {}", path.display()))?;
            SqliteStorage::setup(&pool)
                .await
                .context("cannot set up the embedded queue")?;
            Backend::Sqlite(pool)
        } else {
            let pool = PgPool::connect(settings.database_url.expose())
                .await
                .context("cannot connect to PostgreSQL for the embedded queue")?;
            PostgresStorage::setup(&pool)
                .await
                .context("cannot set up the queue tables in PostgreSQL")?;
            Backend::Postgres(pool)
        };
        Ok(ApalisQueue {
            parse: Transport::on(&backend, queue_name(settings), settings.queue_high_water),
            media: Transport::on(
                &backend,
                media_queue_name(settings),
                settings.queue_high_water,
            ),
            publish: Transport::on(
                &backend,
                publish_queue_name(settings),
                settings.queue_high_water,
            ),
            refresh: Transport::on(
                &backend,
                refresh_queue_name(settings),
                settings.queue_high_water,
            ),
        })
    }

    pub fn backend_name(&self) -> &'static str {
        self.parse.backend_name()
    }

    /// Remove every key of this deployment's queues (Redis only; tests).
    pub async fn purge(&self) -> anyhow::Result<()> {
        self.parse.purge().await?;
        self.media.purge().await?;
        self.refresh.purge().await?;
        self.publish.purge().await
    }
}

impl<T> Transport<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + Unpin + 'static,
{
    fn on(backend: &Backend, name: String, high_water: u64) -> Self {
        match backend {
            Backend::Redis(conn) => {
                let config = apalis_redis::Config::default()
                    .queue(&name)
                    .persist_results(false)
                    .heartbeat_interval(Duration::from_secs(10))
                    .missed_heartbeats(3);
                let storage = RedisStorage::new(conn.clone()).with_config(config.clone());
                Transport::Redis {
                    storage,
                    conn: conn.clone(),
                    config,
                    name,
                    backlog: Arc::new(Backlog::new(high_water)),
                }
            }
            // Results must be persisted on the SQL backends: with
            // `persist_results(false)` apalis skips the ack, the row stays
            // `Running` forever and would be re-driven as an orphan after a
            // restart. Finished rows are pruned by `prune`.
            // A short heartbeat: with apalis-sqlite's 30 s default, an idle
            // worker was seen to pick up new jobs up to 30 s late.
            Backend::Sqlite(pool) => {
                let config = apalis_sqlite::Config::default()
                    .queue(&name)
                    .heartbeat_interval(Duration::from_secs(1))
                    .missed_heartbeats(10);
                let storage = SqliteStorage::new(pool).with_config(config);
                let (writer, queue) = (pool.clone(), name.clone());
                let pushes = coalesce::Coalescer::new(Arc::new(move |jobs: Vec<T>| {
                    let (pool, queue) = (writer.clone(), queue.clone());
                    Box::pin(async move { sqlite::push_now(&pool, &queue, &jobs).await })
                        as futures::future::BoxFuture<'static, anyhow::Result<()>>
                }));
                Transport::Sqlite {
                    storage,
                    pool: pool.clone(),
                    queue: name,
                    pushes,
                }
            }
            Backend::Postgres(pool) => {
                let config = apalis_postgres::Config::default()
                    .queue(&name)
                    .heartbeat_interval(Duration::from_secs(1))
                    .missed_heartbeats(10);
                Transport::Postgres {
                    storage: PostgresStorage::new(pool).with_config(config),
                    pool: pool.clone(),
                }
            }
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Transport::Redis { .. } => "redis",
            Transport::Sqlite { .. } => "sqlite",
            Transport::Postgres { .. } => "postgres",
        }
    }

    /// Jobs waiting in Redis: the last reading plus our pushes since.
    async fn redis_estimate(&self) -> anyhow::Result<u64> {
        let Transport::Redis { backlog, .. } = self else {
            return Ok(0);
        };
        let stale = backlog
            .read_at
            .lock()
            .map(|t| t.is_none_or(|t| t.elapsed() >= Duration::from_millis(250)))
            .unwrap_or(true);
        if stale {
            let depth = self.depth().await?.unwrap_or(0);
            backlog.depth.store(depth, Ordering::Relaxed);
            backlog.pushed_since.store(0, Ordering::Relaxed);
            if let Ok(mut t) = backlog.read_at.lock() {
                *t = Some(Instant::now());
            }
        }
        Ok(backlog.depth.load(Ordering::Relaxed) + backlog.pushed_since.load(Ordering::Relaxed))
    }

    /// Remove every key of this queue's namespace (Redis only; tests).
    pub async fn purge(&self) -> anyhow::Result<()> {
        if let Transport::Redis { conn, name, .. } = self {
            let mut conn = conn.clone();
            let pattern = format!("{name}*");
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let _: () = conn.del(keys).await?;
            }
        }
        Ok(())
    }

    /// Push a job to run now or after `delay`. An immediate Redis push
    /// beyond the high-water mark is skipped: the row is due in the
    /// database and the reconciler feeds it in later.
    pub async fn push(&self, job: T, delay: Option<Duration>) -> anyhow::Result<()> {
        let mut builder = TaskBuilder::new(job);
        if let Some(d) = delay {
            // apalis keeps run-at times in whole seconds and truncates; a
            // message due before the row's `next_attempt_at` would find
            // nothing to claim. Round up so it is never early.
            let due = SystemTime::now() + d;
            let secs = due
                .duration_since(UNIX_EPOCH)
                .map(|t| t.as_secs() + u64::from(t.subsec_nanos() > 0))
                .unwrap_or(0);
            builder = builder.run_at_timestamp(secs);
        }
        let task = builder.build();
        if let (Transport::Redis { backlog, .. }, None) = (self, delay) {
            if self.redis_estimate().await? >= backlog.high_water {
                tracing::debug!(
                    "queue at its high-water mark; the reconciler will feed this job in"
                );
                return Ok(());
            }
            backlog.pushed_since.fetch_add(1, Ordering::Relaxed);
        }
        match self {
            Transport::Redis { storage, .. } => storage
                .clone()
                .push_task(task)
                .await
                .map_err(|e| anyhow::anyhow!("redis push: {e}")),
            Transport::Sqlite { pushes, .. } if delay.is_none() => pushes.push(task.args).await,
            Transport::Sqlite { storage, .. } => storage
                .clone()
                .push_task(task)
                .await
                .map_err(|e| anyhow::anyhow!("sqlite queue push: {e}")),
            Transport::Postgres { storage, .. } => storage
                .clone()
                .push_task(task)
                .await
                .map_err(|e| anyhow::anyhow!("postgres queue push: {e}")),
        }
    }

    /// Push many jobs to run now in one go: one transaction on the SQL
    /// backends, one script on Redis. Beyond Redis's high-water mark
    /// nothing is pushed (the rows are due; the reconciler feeds them in).
    pub async fn push_many(&self, jobs: Vec<T>) -> anyhow::Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let n = jobs.len() as u64;
        let tasks = |jobs: Vec<T>| {
            futures::stream::iter(jobs.into_iter().map(|j| TaskBuilder::new(j).build()))
        };
        match self {
            Transport::Redis {
                storage, backlog, ..
            } => {
                if self.redis_estimate().await? >= backlog.high_water {
                    tracing::debug!(
                        jobs = n,
                        "queue at its high-water mark; the reconciler will feed these jobs in"
                    );
                    return Ok(());
                }
                backlog.pushed_since.fetch_add(n, Ordering::Relaxed);
                storage
                    .clone()
                    .push_all(tasks(jobs))
                    .await
                    .map_err(|e| anyhow::anyhow!("redis push: {e}"))
            }
            Transport::Sqlite { pool, queue, .. } => sqlite::push_now(pool, queue, &jobs).await,
            Transport::Postgres { storage, .. } => storage
                .clone()
                .push_all(tasks(jobs))
                .await
                .map_err(|e| anyhow::anyhow!("postgres queue push: {e}")),
        }
    }

    /// Jobs waiting (Redis only; the SQL backends return `None`).
    pub async fn depth(&self) -> anyhow::Result<Option<u64>> {
        match self {
            // apalis-redis 1.0's metrics calls are broken: count ourselves.
            Transport::Redis { conn, config, .. } => {
                let mut conn = conn.clone();
                let active: u64 = conn.llen(config.active_jobs_list()).await?;
                let scheduled: u64 = conn.zcard(config.scheduled_jobs_set()).await?;
                Ok(Some(active + scheduled))
            }
            Transport::Sqlite { .. } | Transport::Postgres { .. } => Ok(None),
        }
    }

    pub fn high_water(&self) -> Option<u64> {
        match self {
            Transport::Redis { backlog, .. } => Some(backlog.high_water),
            _ => None,
        }
    }
}

#[async_trait::async_trait]
impl JobQueue for ApalisQueue {
    async fn enqueue_parse(&self, job: ParseJob, delay: Option<Duration>) -> anyhow::Result<()> {
        self.parse.push(job, delay).await
    }

    async fn enqueue_parse_many(&self, jobs: Vec<ParseJob>) -> anyhow::Result<()> {
        self.parse.push_many(jobs).await
    }

    async fn enqueue_media(&self, job: MediaJob, delay: Option<Duration>) -> anyhow::Result<()> {
        self.media.push(job, delay).await
    }

    async fn enqueue_publish(
        &self,
        job: PublishJob,
        delay: Option<Duration>,
    ) -> anyhow::Result<()> {
        self.publish.push(job, delay).await
    }

    async fn enqueue_refresh(
        &self,
        job: RefreshJob,
        delay: Option<Duration>,
    ) -> anyhow::Result<()> {
        self.refresh.push(job, delay).await
    }

    async fn depth_of(&self, kind: JobKind) -> anyhow::Result<Option<u64>> {
        match kind {
            JobKind::Parse => self.parse.depth().await,
            JobKind::Media => self.media.depth().await,
            JobKind::Publish => self.publish.depth().await,
            JobKind::Refresh => self.refresh.depth().await,
        }
    }

    fn backend(&self) -> &'static str {
        self.backend_name()
    }

    fn high_water(&self) -> Option<u64> {
        self.parse.high_water()
    }

    /// Both queues live in the same tables on the SQL backends.
    async fn prune(&self, older_than: Duration) -> anyhow::Result<u64> {
        let secs = older_than.as_secs() as i64;
        match &self.parse {
            // Redis keeps no results (`persist_results(false)`).
            Transport::Redis { .. } => Ok(0),
            Transport::Sqlite { pool, .. } => {
                let done = sea_orm::sqlx::query(
                    "DELETE FROM Jobs WHERE status IN ('Done', 'Killed') \
                     AND done_at IS NOT NULL AND done_at < strftime('%s', 'now') - ?1",
                )
                .bind(secs)
                .execute(pool)
                .await?;
                Ok(done.rows_affected())
            }
            Transport::Postgres { pool, .. } => {
                let done = sea_orm::sqlx::query(
                    "DELETE FROM apalis.jobs WHERE status IN ('Done', 'Killed') \
                     AND done_at IS NOT NULL AND done_at < now() - make_interval(secs => $1)",
                )
                .bind(secs as f64)
                .execute(pool)
                .await?;
                Ok(done.rows_affected())
            }
        }
    }
}
