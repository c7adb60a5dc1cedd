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
//! - **SQLite**: five statements per batch whatever its size, the rows
//!   going in as JSON arrays read by `json_each`, in one transaction (one
//!   writer: a batch is one lock and one WAL commit instead of one per
//!   share, and a handful of round trips instead of two or three per share).
//!
//! A submission may carry the time the user originally saved the link (an
//! imported bookmark's `ADD_DATE`): it becomes the source's `created_at`,
//! which otherwise is the time the submission arrived.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement,
    TransactionTrait, Value,
};

use super::entities::content;
use crate::content::{Channel, ShareReceipt, Status};
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
                submit_pg(db, &one.identity, one.source.clone()).await?,
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

/// The batch's new items, from a JSON array of `{p, i, u, k}` (platform,
/// platform id, canonical URL, kind), in the batch's order; a link already
/// stored — or repeated earlier in the batch — inserts nothing. `WHERE 1`
/// keeps SQLite from reading `ON CONFLICT` as a join's `ON`.
const INSERT_ITEMS_SQLITE: &str = "INSERT INTO contents (platform, platform_id, canonical_url, \
    kind, status, failure_count, attempts, enqueued_at, created_at, updated_at) \
    SELECT j.value ->> 'p', j.value ->> 'i', j.value ->> 'u', j.value ->> 'k', ?, 0, 0, ?, ?, ? \
    FROM json_each(?) AS j WHERE 1 ORDER BY j.key \
    ON CONFLICT (platform, platform_id) DO NOTHING RETURNING id";
/// Every item of the batch, new or known, from a JSON array of distinct
/// `{p, i}`; the array drives the join, each key one unique-index lookup.
const FIND_ITEMS_SQLITE: &str = "SELECT c.* FROM json_each(?) AS j \
    CROSS JOIN contents c ON c.platform = j.value ->> 'p' AND c.platform_id = j.value ->> 'i'";
/// The highest source id ever given (`AUTOINCREMENT` never reuses one).
const LAST_SOURCE_ID_SQLITE: &str = "SELECT MAX(\
    COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'content_sources'), 0), \
    COALESCE((SELECT MAX(id) FROM content_sources), 0)) AS id";
/// The batch's sources, with the ids the caller numbered, from a JSON array.
const INSERT_SOURCES_SQLITE: &str = "INSERT INTO content_sources (id, content_id, raw_text, \
    submitted_url, resolved_url, channel, tags, note, submitted_by, request_id, created_at) \
    SELECT j.value ->> 'id', j.value ->> 'c', j.value ->> 'raw', j.value ->> 'url', \
    j.value ->> 'res', j.value ->> 'ch', j.value ->> 'tags', j.value ->> 'note', \
    j.value ->> 'by', j.value ->> 'req', j.value ->> 'at' FROM json_each(?) AS j ORDER BY j.key";
/// The batch's tags, from a JSON array of `[content id, tag]`.
const INSERT_TAGS_SQLITE: &str = "INSERT INTO content_tags (content_id, tag, created_at) \
    SELECT j.value ->> 0, j.value ->> 1, ? FROM json_each(?) AS j WHERE 1 \
    ON CONFLICT (content_id, tag) DO NOTHING";

/// A time as sqlx writes a `DateTime<Utc>` into SQLite, for values that go
/// in through JSON rather than as bound parameters.
fn sqlite_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// The batch in five statements, whatever its size (each statement is a
/// round trip to sqlx's SQLite thread; one per share made the writer the
/// limit): the items, a read of them all, the next source id, the sources,
/// the tags. The rows go in as JSON arrays read by `json_each`.
async fn submit_batch_sqlite(
    db: &DatabaseConnection,
    subs: &[Submission],
) -> Result<Vec<Submitted>, DbErr> {
    use serde_json::{Value as Json, json};
    use std::collections::{HashMap, HashSet};
    let backend = db.get_database_backend();
    let stmt = |sql: &str, values: Vec<Value>| Statement::from_sql_and_values(backend, sql, values);
    let now = Utc::now();
    let items: Vec<Json> = subs
        .iter()
        .map(|s| {
            let id = &s.identity;
            json!({"p": id.platform.as_str(), "i": id.platform_id, "u": id.canonical_url,
                "k": id.kind.as_str()})
        })
        .collect();
    let mut keys = HashSet::new();
    let distinct: Vec<Json> = subs
        .iter()
        .filter(|s| keys.insert((s.identity.platform, s.identity.platform_id.as_str())))
        .map(|s| json!({"p": s.identity.platform.as_str(), "i": s.identity.platform_id}))
        .collect();
    // The first statement writes, so a deferred BEGIN takes the write lock
    // at once (no read-then-upgrade that could fail as "locked"); the
    // source ids below rely on holding it.
    let txn = db.begin().await?;
    let created: HashSet<i64> = txn
        .query_all_raw(stmt(
            INSERT_ITEMS_SQLITE,
            vec![
                Status::Unprocessed.as_str().into(),
                // The caller queues new items right after the commit; if
                // that push is lost, the reconciler re-queues them.
                now.into(),
                now.into(),
                now.into(),
                Json::Array(items).to_string().into(),
            ],
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<i64>("", "id"))
        .collect::<Result<_, _>>()?;
    crate::failpoint::hit(crate::failpoint::MID_BATCH_SUBMIT);
    let mut by_key: HashMap<(String, String), content::Model> = HashMap::new();
    for row in txn
        .query_all_raw(stmt(
            FIND_ITEMS_SQLITE,
            vec![Json::Array(distinct).to_string().into()],
        ))
        .await?
    {
        let item = content::Model::from_query_result(&row, "")?;
        by_key.insert((item.platform.clone(), item.platform_id.clone()), item);
    }
    let last_id: i64 = txn
        .query_one_raw(stmt(LAST_SOURCE_ID_SQLITE, vec![]))
        .await?
        .ok_or_else(|| DbErr::Custom("no last source id".into()))?
        .try_get("", "id")?;
    let mut out = Vec::with_capacity(subs.len());
    let mut sources = Vec::with_capacity(subs.len());
    let mut tags = Vec::new();
    let mut first = HashSet::new();
    for (n, sub) in subs.iter().enumerate() {
        let id = &sub.identity;
        let key = (id.platform.as_str().to_owned(), id.platform_id.clone());
        let content = by_key
            .get(&key)
            .cloned()
            .ok_or_else(|| DbErr::Custom("content vanished between insert and read".into()))?;
        let source_id = last_id + 1 + n as i64;
        let src = &sub.source;
        sources.push(json!({
            "id": source_id, "c": content.id, "raw": src.raw_text, "url": src.submitted_url,
            "res": src.resolved_url, "ch": src.channel.as_str(),
            "tags": json!(src.tags).to_string(), "note": src.note, "by": src.submitted_by,
            "req": src.request_id, "at": sqlite_time(sub.saved_at.unwrap_or(now)),
        }));
        tags.extend(src.tags.iter().map(|t| json!([content.id, t])));
        // Only the first submission of a link new to the archive created it.
        let created = created.contains(&content.id) && first.insert(content.id);
        out.push(Submitted {
            content,
            created,
            source_id,
        });
    }
    txn.execute_raw(stmt(
        INSERT_SOURCES_SQLITE,
        vec![Json::Array(sources).to_string().into()],
    ))
    .await?;
    if !tags.is_empty() {
        txn.execute_raw(stmt(
            INSERT_TAGS_SQLITE,
            vec![now.into(), Json::Array(tags).to_string().into()],
        ))
        .await?;
    }
    txn.commit().await?;
    Ok(out)
}

/// One submission, as it arrived.
#[derive(Debug, Clone)]
pub struct NewSource {
    pub raw_text: String,
    pub submitted_url: String,
    pub resolved_url: Option<String>,
    pub channel: Channel,
    /// Already normalised (see `content::normalise_tags`).
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub submitted_by: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Submitted {
    pub content: content::Model,
    pub created: bool,
    pub source_id: i64,
}

/// The whole submission as one PostgreSQL statement — one round trip, no
/// explicit transaction (a statement is atomic): insert the item, or on a
/// conflict with its (platform, platform_id) take the existing row (the
/// unique index decides, under any concurrency: a concurrent insert is
/// waited for, never missed); record the source and the tags against it.
///
/// `DO UPDATE SET platform = EXCLUDED.platform` changes nothing (and, no
/// indexed value changing, is a HOT update) but makes the conflicting row
/// come back from `RETURNING`; `xmax = 0` holds only for a freshly inserted
/// row. There is no separate lookup for the planner to get wrong: a cached
/// generic plan for `SELECT … WHERE platform = $1 AND platform_id = $2`
/// made while the table was nearly empty was seen to pick the
/// (platform, id) listing index and walk every row of the platform on each
/// share until the next ANALYZE.
pub const SUBMIT_PG: &str = r#"
WITH item AS (
    INSERT INTO contents (platform, platform_id, canonical_url, kind, status,
        failure_count, attempts, enqueued_at, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $6, $6)
    ON CONFLICT (platform, platform_id) DO UPDATE SET platform = EXCLUDED.platform
    RETURNING *, (xmax = 0) AS created
), src AS (
    INSERT INTO content_sources (content_id, raw_text, submitted_url, resolved_url,
        channel, tags, note, submitted_by, request_id, created_at)
    SELECT id, $7, $8, $9, $10, $11::text::json, $12, $13, $14, $6 FROM item
    RETURNING id, content_id
), tag_rows AS (
    INSERT INTO content_tags (content_id, tag, created_at)
    SELECT item.id, t.tag, $6
    FROM item, json_array_elements_text($11::text::json) AS t(tag)
    ON CONFLICT (content_id, tag) DO NOTHING
)
SELECT item.*, src.id AS source_id FROM item JOIN src ON src.content_id = item.id
"#;

pub(crate) async fn submit_pg(
    db: &DatabaseConnection,
    identity: &Identity,
    source: NewSource,
) -> Result<Submitted, DbErr> {
    let now = Utc::now();
    let tags = serde_json::json!(source.tags).to_string();
    let row = sea_orm::sqlx::query(SUBMIT_PG)
        .bind(identity.platform.as_str())
        .bind(&identity.platform_id)
        .bind(&identity.canonical_url)
        .bind(identity.kind.as_str())
        .bind(Status::Unprocessed.as_str())
        .bind(now)
        .bind(&source.raw_text)
        .bind(&source.submitted_url)
        .bind(&source.resolved_url)
        .bind(source.channel.as_str())
        .bind(&tags)
        .bind(&source.note)
        .bind(&source.submitted_by)
        .bind(&source.request_id)
        .fetch_one(db.get_postgres_connection_pool())
        .await
        .map_err(|e| DbErr::Query(sea_orm::RuntimeErr::SqlxError(e.into())))?;
    let row = sea_orm::QueryResult::from(row);
    Ok(Submitted {
        content: content::Model::from_query_result(&row, "")?,
        created: row.try_get("", "created")?,
        source_id: row.try_get("", "source_id")?,
    })
}

impl From<Submitted> for ShareReceipt {
    fn from(s: Submitted) -> Self {
        ShareReceipt {
            content_id: s.content.id,
            created: s.created,
            platform: s.content.platform,
            platform_id: s.content.platform_id,
            canonical_url: s.content.canonical_url,
            kind: s.content.kind,
            status: s.content.status.to_string(),
            source_id: s.source_id,
        }
    }
}
