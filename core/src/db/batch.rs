//! Many submissions in one transaction: the batch intake (`POST
//! /api/v1/shares/batch`, the importer) and the group commit of single
//! shares ([`super::group`]) both end here.
//!
//! The rules are [`super::contents::submit`]'s: an item is inserted once
//! per `(platform, platform_id)` — the unique index decides under any
//! concurrency — every submission is recorded as a source, and its tags
//! are added. All of a batch is committed, or none of it.
//!
//! - **PostgreSQL**: one statement ([`SUBMIT_BATCH_PG`]) over arrays, in a
//!   transaction: the items are inserted in `(platform, platform_id)` order
//!   (two batches sharing links lock them in the same order: no deadlock),
//!   once each even when the batch repeats a link (`DISTINCT ON`: an
//!   `ON CONFLICT DO UPDATE` cannot touch one row twice in a statement).
//! - **SQLite**: a few prepared statements per submission in one
//!   transaction (one writer: a batch is one lock and one WAL commit
//!   instead of one per share).
//!
//! A submission may carry the time the user originally saved the link (an
//! imported bookmark's `ADD_DATE`): it becomes the source's `created_at`,
//! which otherwise is the time the submission arrived.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement,
    TransactionTrait, Value,
};

use super::contents::{NewSource, Submitted};
use super::entities::content;
use crate::content::Status;
use crate::platform::Identity;

/// The most submissions one batch takes (the route's limit too).
pub const MAX_BATCH: usize = 1000;

/// One submission of a batch.
#[derive(Debug, Clone)]
pub struct Submission {
    pub identity: Identity,
    pub source: NewSource,
    /// When the user originally saved the link; `None`: now.
    pub saved_at: Option<DateTime<Utc>>,
}

/// Record every submission in one transaction; the results are in the
/// order given. A link repeated in the batch creates its item once: the
/// first submission of it is `created`, the others are known.
pub async fn submit_batch(
    db: &DatabaseConnection,
    subs: &[Submission],
) -> Result<Vec<Submitted>, DbErr> {
    if subs.is_empty() {
        return Ok(Vec::new());
    }
    if db.get_database_backend() == DbBackend::Postgres {
        if let [one] = subs
            && one.saved_at.is_none()
        {
            // One share: the single statement, no explicit transaction.
            return Ok(vec![
                super::contents::submit_pg(db, &one.identity, one.source.clone()).await?,
            ]);
        }
        return submit_batch_pg(db, subs).await;
    }
    submit_batch_sqlite(db, subs).await
}

/// The whole batch as one PostgreSQL statement: `$1`–`$13` are arrays (one
/// element per submission), `$14` the new items' status, `$15` now.
///
/// Each submission's source id is drawn from the sequence in the `input`
/// CTE (materialised once: it is referenced several times and calls a
/// volatile function), so the answer can say which source is whose.
pub const SUBMIT_BATCH_PG: &str = r#"
WITH input AS (
    SELECT t.*, nextval(pg_get_serial_sequence('content_sources', 'id')) AS source_id
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                $13::timestamptz[])
        WITH ORDINALITY AS t(platform, platform_id, canonical_url, kind, raw_text,
            submitted_url, resolved_url, channel, tags, note, submitted_by, request_id,
            saved_at, ord)
), item AS (
    INSERT INTO contents (platform, platform_id, canonical_url, kind, status,
        failure_count, attempts, enqueued_at, created_at, updated_at)
    SELECT DISTINCT ON (platform, platform_id)
        platform, platform_id, canonical_url, kind, $14, 0, 0, $15, $15, $15
    FROM input
    ORDER BY platform, platform_id, ord
    ON CONFLICT (platform, platform_id) DO UPDATE SET platform = EXCLUDED.platform
    RETURNING *, (xmax = 0) AS created
), src AS (
    INSERT INTO content_sources (id, content_id, raw_text, submitted_url, resolved_url,
        channel, tags, note, submitted_by, request_id, created_at)
    SELECT input.source_id, item.id, input.raw_text, input.submitted_url,
        input.resolved_url, input.channel, input.tags::json, input.note,
        input.submitted_by, input.request_id, COALESCE(input.saved_at, $15)
    FROM input JOIN item
        ON item.platform = input.platform AND item.platform_id = input.platform_id
    ORDER BY input.ord
    RETURNING id
), tag_rows AS (
    INSERT INTO content_tags (content_id, tag, created_at)
    SELECT DISTINCT item.id, t.tag, $15::timestamptz
    FROM input
    JOIN item ON item.platform = input.platform AND item.platform_id = input.platform_id,
    json_array_elements_text(input.tags::json) AS t(tag)
    ON CONFLICT (content_id, tag) DO NOTHING
)
SELECT item.*, input.source_id, input.ord
FROM input JOIN item
    ON item.platform = input.platform AND item.platform_id = input.platform_id
ORDER BY input.ord
"#;

async fn submit_batch_pg(
    db: &DatabaseConnection,
    subs: &[Submission],
) -> Result<Vec<Submitted>, DbErr> {
    let col = |f: &dyn Fn(&Submission) -> String| subs.iter().map(f).collect::<Vec<_>>();
    let opt = |f: &dyn Fn(&Submission) -> Option<String>| subs.iter().map(f).collect::<Vec<_>>();
    let now = Utc::now();
    let query = sea_orm::sqlx::query(SUBMIT_BATCH_PG)
        .bind(col(&|s| s.identity.platform.as_str().to_owned()))
        .bind(col(&|s| s.identity.platform_id.clone()))
        .bind(col(&|s| s.identity.canonical_url.clone()))
        .bind(col(&|s| s.identity.kind.as_str().to_owned()))
        .bind(col(&|s| s.source.raw_text.clone()))
        .bind(col(&|s| s.source.submitted_url.clone()))
        .bind(opt(&|s| s.source.resolved_url.clone()))
        .bind(col(&|s| s.source.channel.as_str().to_owned()))
        .bind(col(&|s| serde_json::json!(s.source.tags).to_string()))
        .bind(opt(&|s| s.source.note.clone()))
        .bind(opt(&|s| s.source.submitted_by.clone()))
        .bind(opt(&|s| s.source.request_id.clone()))
        .bind(subs.iter().map(|s| s.saved_at).collect::<Vec<_>>())
        .bind(Status::Unprocessed.as_str())
        .bind(now);
    let sqlx_err = |e: sea_orm::sqlx::Error| DbErr::Query(sea_orm::RuntimeErr::SqlxError(e.into()));
    let mut txn = db
        .get_postgres_connection_pool()
        .begin()
        .await
        .map_err(sqlx_err)?;
    let rows = query.fetch_all(&mut *txn).await.map_err(sqlx_err)?;
    crate::failpoint::hit(crate::failpoint::MID_BATCH_SUBMIT);
    txn.commit().await.map_err(sqlx_err)?;
    if rows.len() != subs.len() {
        return Err(DbErr::Custom(format!(
            "a batch of {} submissions answered {} rows",
            subs.len(),
            rows.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    rows.into_iter()
        .map(|row| {
            let row = sea_orm::QueryResult::from(row);
            let content = content::Model::from_query_result(&row, "")?;
            // Only the first submission of a link repeated in the batch
            // created its item.
            let created = row.try_get::<bool>("", "created")? && seen.insert(content.id);
            Ok(Submitted {
                created,
                source_id: row.try_get("", "source_id")?,
                content,
            })
        })
        .collect()
}

const INSERT_ITEM_SQLITE: &str = "INSERT INTO contents (platform, platform_id, canonical_url, \
    kind, status, failure_count, attempts, enqueued_at, created_at, updated_at) \
    VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?) \
    ON CONFLICT (platform, platform_id) DO NOTHING RETURNING *";
const FIND_ITEM_SQLITE: &str = "SELECT * FROM contents WHERE platform = ? AND platform_id = ?";
const INSERT_SOURCE_SQLITE: &str = "INSERT INTO content_sources (content_id, raw_text, \
    submitted_url, resolved_url, channel, tags, note, submitted_by, request_id, created_at) \
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id";
const INSERT_TAG_SQLITE: &str = "INSERT INTO content_tags (content_id, tag, created_at) \
    VALUES (?, ?, ?) ON CONFLICT (content_id, tag) DO NOTHING";

async fn submit_batch_sqlite(
    db: &DatabaseConnection,
    subs: &[Submission],
) -> Result<Vec<Submitted>, DbErr> {
    let backend = db.get_database_backend();
    let stmt = |sql: &str, values: Vec<Value>| Statement::from_sql_and_values(backend, sql, values);
    let now = Utc::now();
    // The first statement writes, so a deferred BEGIN takes the write lock
    // at once (no read-then-upgrade that could fail as "locked").
    let txn = db.begin().await?;
    let mut out = Vec::with_capacity(subs.len());
    for (n, sub) in subs.iter().enumerate() {
        if n == subs.len() / 2 && n > 0 {
            crate::failpoint::hit(crate::failpoint::MID_BATCH_SUBMIT);
        }
        let id = &sub.identity;
        let inserted = txn
            .query_one_raw(stmt(
                INSERT_ITEM_SQLITE,
                vec![
                    id.platform.as_str().into(),
                    id.platform_id.clone().into(),
                    id.canonical_url.clone().into(),
                    id.kind.as_str().into(),
                    Status::Unprocessed.as_str().into(),
                    // The caller queues a new item right after the commit;
                    // if that push is lost, the reconciler re-queues it.
                    now.into(),
                    now.into(),
                    now.into(),
                ],
            ))
            .await?;
        let (row, created) = match inserted {
            Some(row) => (row, true),
            None => (
                txn.query_one_raw(stmt(
                    FIND_ITEM_SQLITE,
                    vec![id.platform.as_str().into(), id.platform_id.clone().into()],
                ))
                .await?
                .ok_or_else(|| {
                    DbErr::Custom("content vanished between conflict and read".into())
                })?,
                false,
            ),
        };
        let content = content::Model::from_query_result(&row, "")?;
        let src = &sub.source;
        let source_row = txn
            .query_one_raw(stmt(
                INSERT_SOURCE_SQLITE,
                vec![
                    content.id.into(),
                    src.raw_text.clone().into(),
                    src.submitted_url.clone().into(),
                    src.resolved_url.clone().into(),
                    src.channel.as_str().into(),
                    serde_json::json!(src.tags).into(),
                    src.note.clone().into(),
                    src.submitted_by.clone().into(),
                    src.request_id.clone().into(),
                    sub.saved_at.unwrap_or(now).into(),
                ],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("a source insert returned no id".into()))?;
        let source_id: i64 = source_row.try_get("", "id")?;
        for tag in &src.tags {
            txn.execute_raw(stmt(
                INSERT_TAG_SQLITE,
                vec![content.id.into(), tag.clone().into(), now.into()],
            ))
            .await?;
        }
        out.push(Submitted {
            content,
            created,
            source_id,
        });
    }
    txn.commit().await?;
    Ok(out)
}
