//! The embedded SQLite queue's immediate pushes, many rows per statement.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use apalis_sqlite::SqlitePool;

/// Jobs a multi-row `INSERT` writes at most (3 values each, far below
/// SQLite's 32,766 variables).
const SQLITE_PUSH_ROWS: usize = 1000;

/// Push jobs to run now on the embedded SQLite queue: the row apalis-sqlite
/// writes for a task (its `queries/task/sink.sql`: JSON arguments, a ULID,
/// `Pending`, 25 attempts, due now, priority 0, empty metadata, no
/// idempotency key), but many rows per `INSERT` in one transaction.
/// apalis-sqlite runs one `INSERT` per task, and on SQLite each statement
/// is a round trip to sqlx's database thread: an import of 100,000 links
/// spent more time handing those over than storing its items. Workers find
/// these rows as they find apalis' own: by polling the table (the queue's
/// pool installs no update hook).
pub(crate) async fn push_now<T: serde::Serialize>(
    pool: &SqlitePool,
    queue: &str,
    jobs: &[T],
) -> anyhow::Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let run_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut tx = pool.begin().await.context("sqlite queue push")?;
    for chunk in jobs.chunks(SQLITE_PUSH_ROWS) {
        let rows = vec![
            "(?, ?, ?, 'Pending', 0, 25, ?, NULL, NULL, NULL, NULL, 0, '{}', NULL)";
            chunk.len()
        ];
        let sql = format!(
            "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, \
             last_result, lock_at, lock_by, done_at, priority, metadata, idempotency_key) \
             VALUES {} ON CONFLICT(job_type, idempotency_key) DO NOTHING",
            rows.join(", ")
        );
        // Only placeholders are formatted in: the values are bound.
        let mut insert = sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(sql));
        for job in chunk {
            insert = insert
                .bind(serde_json::to_vec(job).context("encoding a job")?)
                .bind(ulid::Ulid::generate().to_string())
                .bind(queue)
                .bind(run_at);
        }
        insert
            .execute(&mut *tx)
            .await
            .context("sqlite queue push")?;
    }
    tx.commit().await.context("sqlite queue push")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use apalis::prelude::*;
    use apalis_sqlite::{SqliteConnectOptions, SqliteStorage};

    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
    struct Job {
        content_id: i64,
        request_id: Option<String>,
    }

    type Row = (
        Vec<u8>,
        String,
        String,
        String,
        i64,
        i64,
        i64,
        Option<String>,
        i64,
        String,
    );

    async fn rows(pool: &SqlitePool, queue: &str) -> Vec<Row> {
        sea_orm::sqlx::query_as(
            "SELECT job, id, job_type, status, attempts, max_attempts, run_at, last_result, \
             priority, metadata FROM Jobs WHERE job_type = ? ORDER BY rowid",
        )
        .bind(queue)
        .fetch_all(pool)
        .await
        .unwrap()
    }

    /// Our rows are the rows apalis-sqlite writes for the same jobs (but
    /// the id and the time), across more than one `INSERT`.
    #[tokio::test]
    async fn pushes_write_the_rows_apalis_writes() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("queue.db"))
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await.unwrap();
        SqliteStorage::setup(&pool).await.unwrap();
        let jobs: Vec<Job> = (0..SQLITE_PUSH_ROWS as i64 + 500)
            .map(|n| Job {
                content_id: n,
                request_id: (n % 2 == 0).then(|| format!("req-{n}")),
            })
            .collect();
        push_now(&pool, "ours", &jobs).await.unwrap();
        let config = apalis_sqlite::Config::default().queue("theirs");
        let mut storage = SqliteStorage::<Job>::new(&pool).with_config(config);
        storage
            .push_all(futures::stream::iter(
                jobs.iter()
                    .take(3)
                    .map(|j| TaskBuilder::new(j.clone()).build()),
            ))
            .await
            .unwrap();

        let ours = rows(&pool, "ours").await;
        let theirs = rows(&pool, "theirs").await;
        assert_eq!(ours.len(), jobs.len());
        assert_eq!(theirs.len(), 3);
        let ids: std::collections::HashSet<&String> = ours.iter().map(|r| &r.1).collect();
        assert_eq!(ids.len(), jobs.len(), "every job has its own id");
        for (o, t) in ours.iter().zip(&theirs) {
            assert_eq!(o.0, t.0, "arguments");
            assert!(ulid::Ulid::from_string(&o.1).is_ok(), "{} is a ULID", o.1);
            assert_eq!(
                (&o.3, o.4, o.5, &o.7, o.8, &o.9),
                (&t.3, t.4, t.5, &t.7, t.8, &t.9)
            );
            assert!((o.6 - t.6).abs() <= 5, "due now");
        }
        for (o, j) in ours.iter().zip(&jobs) {
            assert_eq!(serde_json::from_slice::<Job>(&o.0).unwrap(), *j);
        }
        // Nothing pushed is nothing written.
        push_now::<Job>(&pool, "ours", &[]).await.unwrap();
        assert_eq!(rows(&pool, "ours").await.len(), jobs.len());
    }
}
