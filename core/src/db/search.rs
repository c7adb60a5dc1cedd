//! Full-text search over the archive, on SQLite (FTS5) and PostgreSQL
//! (`tsvector` + GIN), fed with the `search` crate's tokens so both
//! databases match the same things (see migration 8 for the tables).
//!
//! - [`index_item`] (re)writes one item's document: title, text and every
//!   part's title and text, author name and handle, tags, platform and the
//!   notes submitters wrote. The worker calls it in the transaction that
//!   stores a parsed item; [`reindex`] backfills in batches.
//! - [`search`] runs a parsed query: words through the index (ranked by
//!   `bm25` / `ts_rank_cd`), phrases checked against the normalised text,
//!   filters on the item's columns, and answers each hit with
//!   HTML-escaped, highlighted snippets and the fields that matched.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
    Value,
};
use serde::Serialize;
use vaultstream_search::query::{Filter, FilterName, Has, Query};
use vaultstream_search::render::{Field, fts5_match, index, pg_tsquery};
use vaultstream_search::snippet::snippet;

use super::entities::{content, content_source, content_tag};
use crate::content::{ContentView, Status};
use crate::error::{ErrorCode, UserError};
use crate::platform::{ContentKind, Platform};

/// Characters of context in a snippet.
const SNIPPET_CHARS: usize = 160;

/// One hit: the item as lists show it, its rank (higher is better) and
/// where the query matched.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hit {
    pub item: ContentView,
    pub rank: f64,
    /// The fields the words or phrases matched (`title`, `text`, `author`,
    /// `tags`, `platform`, `notes`).
    pub matched: Vec<String>,
    /// Per matched field, a snippet of the original text: HTML-escaped,
    /// matches wrapped in `<mark>`, `…` where it was cut.
    pub highlights: HashMap<String, String>,
}

/// A page of hits; `next_offset` when more follow.
#[derive(Debug, Clone)]
pub struct Hits {
    pub hits: Vec<Hit>,
    pub next_offset: Option<u64>,
}

/// Where the next page of a search starts: an offset into the ranked
/// hits, bound to the query it came from (a cursor of one query handed to
/// another is refused, not silently misread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchCursor {
    pub offset: u64,
    query: u64,
}

/// The deepest page a cursor may point at: ranked search pages by offset,
/// and a deep offset costs the database the whole prefix.
pub const MAX_OFFSET: u64 = 10_000;

impl SearchCursor {
    /// The cursor of the page at `offset` of query `q`.
    pub fn new(q: &str, offset: u64) -> Self {
        SearchCursor {
            offset,
            query: fnv1a(q.trim()),
        }
    }

    pub fn encode(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("s1.{}.{:016x}", self.offset, self.query))
    }

    /// A cursor this server handed out for the same query `q`.
    pub fn decode(s: &str, q: &str) -> Option<Self> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.trim())
            .ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let (offset, query) = text.strip_prefix("s1.")?.split_once('.')?;
        let offset: u64 = offset.parse().ok()?;
        let query = u64::from_str_radix(query, 16).ok()?;
        (query == fnv1a(q.trim()) && offset <= MAX_OFFSET).then_some(SearchCursor { offset, query })
    }
}

/// FNV-1a: a stable 64-bit hash (std's hasher may change between releases,
/// and cursors outlive a process).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A query that parsed but names something that does not exist
/// (`platform:myspace`), as a 400 `invalid_query`.
fn invalid(f: &Filter, message: String) -> UserError {
    UserError::new(
        ErrorCode::InvalidQuery,
        format!("at column {}: {message}", f.column),
    )
}

/// Parse a query string into a checked [`Query`] (the `search` crate's
/// syntax; platform, kind and status names checked here).
pub fn parse(q: &str) -> Result<Query, UserError> {
    let parsed = vaultstream_search::parse(q)
        .map_err(|e| UserError::new(ErrorCode::InvalidQuery, e.to_string()))?;
    for f in &parsed.filters {
        match f.name {
            FilterName::Platform if f.value.parse::<Platform>().is_err() => {
                return Err(invalid(f, format!("no platform `{}`", f.value)));
            }
            FilterName::Kind if !ContentKind::ALL.iter().any(|k| k.as_str() == f.value) => {
                return Err(invalid(f, format!("no kind `{}`", f.value)));
            }
            FilterName::Status if f.value.parse::<Status>().is_err() => {
                return Err(invalid(f, format!("no status `{}`", f.value)));
            }
            _ => {}
        }
    }
    Ok(parsed)
}

/// The text of one item's fields, as indexed and highlighted.
struct Doc {
    fields: Vec<(Field, String)>,
}

impl Doc {
    fn of(item: &content::Model, tags: &[String], notes: &[String]) -> Doc {
        let mut text = item.text.clone().unwrap_or_default();
        if let Some(parts) = item.parts.as_ref().and_then(|p| p.as_array()) {
            for p in parts {
                for key in ["title", "text"] {
                    if let Some(s) = p.get(key).and_then(|v| v.as_str()) {
                        // A thread's text is already the joined parts:
                        // index each part once.
                        if !text.contains(s) {
                            text.push_str("\n\n");
                            text.push_str(s);
                        }
                    }
                }
            }
        }
        let author = [item.author_name.as_deref(), item.author_id.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Doc {
            fields: vec![
                (Field::Title, item.title.clone().unwrap_or_default()),
                (Field::Text, text),
                (Field::Author, author),
                (
                    Field::Tags,
                    tags.iter()
                        .map(|t| format!("#{t}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                (Field::Platform, item.platform.clone()),
                (Field::Notes, notes.join("\n")),
            ],
        }
    }

    fn refs(&self) -> Vec<(Field, &str)> {
        self.fields.iter().map(|(f, s)| (*f, s.as_str())).collect()
    }
}

async fn tags_and_notes<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> Result<(HashMap<i64, Vec<String>>, HashMap<i64, Vec<String>>), DbErr> {
    use sea_orm::ColumnTrait;
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    let mut notes: HashMap<i64, Vec<String>> = HashMap::new();
    for t in content_tag::Entity::find()
        .filter(content_tag::Column::ContentId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        tags.entry(t.content_id).or_default().push(t.tag);
    }
    for s in content_source::Entity::find()
        .filter(content_source::Column::ContentId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        if let Some(n) = s.note {
            notes.entry(s.content_id).or_default().push(n);
        }
    }
    Ok((tags, notes))
}

/// Tokenise items into documents, on every core when there are many
/// (tokenising is the expensive part of indexing; writes stay one
/// transaction).
fn documents(
    items: &[content::Model],
    tags: &HashMap<i64, Vec<String>>,
    notes: &HashMap<i64, Vec<String>>,
) -> Vec<(i64, vaultstream_search::Indexed)> {
    let none = Vec::new();
    let one = |item: &content::Model| {
        let doc = Doc::of(
            item,
            tags.get(&item.id).unwrap_or(&none),
            notes.get(&item.id).unwrap_or(&none),
        );
        (item.id, index(&doc.refs()))
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if items.len() < 64 || threads < 2 {
        return items.iter().map(one).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(docs) => docs,
                Err(_) => {
                    tracing::error!("tokenising a batch of items panicked; they stay unindexed");
                    Vec::new()
                }
            })
            .collect()
    })
}

/// (Re)write the search documents of these items.
pub async fn index_items<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<usize, DbErr> {
    use sea_orm::ColumnTrait;
    if ids.is_empty() {
        return Ok(0);
    }
    let items = content::Entity::find()
        .filter(content::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    let (tags, notes) = tags_and_notes(db, ids).await?;
    let backend = db.get_database_backend();
    let now = Utc::now();
    for (id, indexed) in documents(&items, &tags, &notes) {
        let stmt = match backend {
            DbBackend::Postgres => Statement::from_sql_and_values(
                backend,
                "INSERT INTO search_docs (content_id, tsv, norm, indexed_at) \
                 VALUES ($1, $2::tsvector, $3, $4) ON CONFLICT (content_id) DO UPDATE \
                 SET tsv = excluded.tsv, norm = excluded.norm, indexed_at = excluded.indexed_at",
                [
                    id.into(),
                    indexed.tsvector.into(),
                    indexed.norm.into(),
                    now.into(),
                ],
            ),
            _ => Statement::from_sql_and_values(
                backend,
                "INSERT INTO search_docs (content_id, terms, norm, indexed_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (content_id) DO UPDATE \
                 SET terms = excluded.terms, norm = excluded.norm, indexed_at = excluded.indexed_at",
                [
                    id.into(),
                    indexed.terms.into(),
                    indexed.norm.into(),
                    now.into(),
                ],
            ),
        };
        db.execute_raw(stmt).await?;
    }
    Ok(items.len())
}

/// (Re)write one item's search document.
pub async fn index_item<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DbErr> {
    index_items(db, &[id]).await.map(|_| ())
}

/// Index every item, `batch` at a time (one transaction per batch),
/// calling `progress(done, total)` after each batch. Returns how many
/// items were indexed.
pub async fn reindex(
    db: &DatabaseConnection,
    batch: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryOrder, QuerySelect, TransactionTrait};
    let total = content::Entity::find().count(db).await?;
    let mut after = 0i64;
    let mut done = 0u64;
    loop {
        let ids: Vec<i64> = content::Entity::find()
            .select_only()
            .column(content::Column::Id)
            .filter(content::Column::Id.gt(after))
            .order_by_asc(content::Column::Id)
            .limit(batch.max(1))
            .into_tuple()
            .all(db)
            .await?;
        let Some(&last) = ids.last() else { break };
        let txn = db.begin().await?;
        done += index_items(&txn, &ids).await? as u64;
        txn.commit().await?;
        after = last;
        progress(done, total.max(done));
    }
    Ok(done)
}

/// SQL text and its values, with the backend's placeholders.
struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    fn bind(&mut self, v: impl Into<Value>) -> String {
        self.values.push(v.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

fn day_start(d: chrono::NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// The filters and phrases of `q` as SQL conditions on `c` (contents) and
/// `d` (search_docs, LEFT JOINed).
fn conditions(q: &Query, sql: &mut Sql) -> Vec<String> {
    let mut out = Vec::new();
    for f in &q.filters {
        let not = if f.negated { "NOT " } else { "" };
        let cond = match f.name {
            FilterName::Platform => format!("c.platform = {}", sql.bind(f.value.clone())),
            FilterName::Kind => format!("c.kind = {}", sql.bind(f.value.clone())),
            FilterName::Status => format!("c.status = {}", sql.bind(f.value.clone())),
            FilterName::Tag => {
                let tag = f.value.trim_start_matches('#').to_owned();
                format!(
                    "EXISTS (SELECT 1 FROM content_tags t WHERE t.content_id = c.id AND t.tag = {})",
                    sql.bind(tag)
                )
            }
            FilterName::Author => {
                let pattern = format!("%{}%", like_escape(&f.value));
                let p1 = sql.bind(pattern.clone());
                let p2 = sql.bind(pattern);
                format!(
                    "(LOWER(c.author_name) LIKE {p1} ESCAPE '\\' OR LOWER(c.author_id) LIKE {p2} ESCAPE '\\')"
                )
            }
            FilterName::Before | FilterName::After => {
                let Some(day) = f.date else { continue };
                let op = if f.name == FilterName::Before {
                    "<"
                } else {
                    ">="
                };
                format!(
                    "COALESCE(c.published_at, c.created_at) {op} {}",
                    sql.bind(day_start(day))
                )
            }
            FilterName::Has => {
                let roles = match f.has {
                    Some(Has::Video) => "'video'",
                    _ => "'image', 'cover'",
                };
                format!(
                    "EXISTS (SELECT 1 FROM media m WHERE m.content_id = c.id \
                     AND m.role IN ({roles}) AND m.status <> 'failed')"
                )
            }
        };
        out.push(format!("{not}{cond}"));
    }
    for group in &q.all {
        let phrases: Vec<String> = group
            .iter()
            .map(|t| match &t.phrase {
                Some(p) => format!(
                    "d.norm LIKE {} ESCAPE '\\'",
                    sql.bind(format!("%{}%", like_escape(p)))
                ),
                // A word alternative in the group: the index decides.
                None => "1 = 1".to_owned(),
            })
            .collect();
        if group.iter().any(|t| t.phrase.is_some()) {
            out.push(format!("({})", phrases.join(" OR ")));
        }
    }
    for t in q.none.iter().filter(|t| t.phrase.is_some()) {
        let p = t.phrase.as_deref().unwrap_or_default();
        out.push(format!(
            "(d.norm IS NULL OR d.norm NOT LIKE {} ESCAPE '\\')",
            sql.bind(format!("%{}%", like_escape(p)))
        ));
    }
    out
}

/// Run `q`: `limit` hits from `offset`, best first (newest first when the
/// query has filters only).
pub async fn search(
    db: &DatabaseConnection,
    q: &Query,
    limit: u64,
    offset: u64,
) -> Result<Hits, DbErr> {
    let mut ranked = ranked(db, q, limit + 1, offset).await?;
    let next_offset = (ranked.len() as u64 > limit).then_some(offset + limit);
    ranked.truncate(limit as usize);
    let ids: Vec<i64> = ranked.iter().map(|(id, _)| *id).collect();
    Ok(Hits {
        hits: hits(db, q, &ranked, &ids).await?,
        next_offset,
    })
}

/// The ids (and ranks) `q` matches, best first: what [`search`] pages
/// through, without building the answers.
pub async fn ranked(
    db: &DatabaseConnection,
    q: &Query,
    limit: u64,
    offset: u64,
) -> Result<Vec<(i64, f64)>, DbErr> {
    let backend = db.get_database_backend();
    let mut sql = Sql {
        backend,
        text: String::new(),
        values: Vec::new(),
    };
    let mut wheres = Vec::new();
    // The match first (its value is bound before the filters' values, in
    // the order the placeholders appear), then the filters and phrases.
    let matched = match (backend, fts5_match(q), pg_tsquery(q)) {
        (DbBackend::Postgres, _, Some(tsq)) => Some(sql.bind(tsq)),
        (DbBackend::Postgres, _, None) => None,
        (_, Some(m), _) => Some(sql.bind(m)),
        (_, None, _) => None,
    };
    let conds = conditions(q, &mut sql);
    // Words alone rank from the index alone: no join per matching row
    // (a common word matches a large share of the archive), only the page
    // is looked up afterwards.
    let index_only = conds.is_empty();
    let (select, order) = match (backend, matched) {
        (DbBackend::Postgres, Some(p)) if index_only => {
            wheres.push(format!("d.tsv @@ {p}::tsquery"));
            (
                format!(
                    "SELECT d.content_id AS id, CAST(ts_rank_cd(d.tsv, {p}::tsquery) AS DOUBLE PRECISION) AS rank \
                     FROM search_docs d"
                ),
                "rank DESC, id DESC",
            )
        }
        (DbBackend::Postgres, Some(p)) => {
            wheres.push(format!("d.tsv @@ {p}::tsquery"));
            (
                format!(
                    "SELECT c.id AS id, CAST(ts_rank_cd(d.tsv, {p}::tsquery) AS DOUBLE PRECISION) AS rank \
                     FROM search_docs d JOIN contents c ON c.id = d.content_id"
                ),
                "rank DESC, c.id DESC",
            )
        }
        (DbBackend::Postgres, None) => (
            "SELECT c.id AS id, CAST(0 AS DOUBLE PRECISION) AS rank FROM contents c \
             LEFT JOIN search_docs d ON d.content_id = c.id"
                .to_owned(),
            "c.id DESC",
        ),
        (_, Some(p)) if index_only => {
            wheres.push(format!("search_fts MATCH {p}"));
            (
                // FTS5 sorts by its own `rank` (bm25, lower is better)
                // without a separate sorter pass.
                "SELECT search_fts.rowid AS id, -search_fts.rank AS rank FROM search_fts"
                    .to_owned(),
                "search_fts.rank",
            )
        }
        (_, Some(p)) => {
            wheres.push(format!("search_fts MATCH {p}"));
            (
                // bm25 is lower for better matches: negate it.
                "SELECT c.id AS id, -bm25(search_fts) AS rank FROM search_fts \
                 JOIN contents c ON c.id = search_fts.rowid \
                 JOIN search_docs d ON d.content_id = c.id"
                    .to_owned(),
                "rank DESC, c.id DESC",
            )
        }
        (_, None) => (
            "SELECT c.id AS id, 0.0 AS rank FROM contents c \
             LEFT JOIN search_docs d ON d.content_id = c.id"
                .to_owned(),
            "c.id DESC",
        ),
    };
    wheres.extend(conds);
    let limit_p = sql.bind(limit as i64);
    let offset_p = sql.bind(offset as i64);
    sql.text = format!(
        "{select}{} ORDER BY {order} LIMIT {limit_p} OFFSET {offset_p}",
        if wheres.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", wheres.join(" AND "))
        }
    );
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend, sql.text, sql.values,
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64>("", "id")?, r.try_get::<f64>("", "rank")?)))
        .collect()
}

/// Views, snippets and matched fields for ranked ids, in rank order.
async fn hits(
    db: &DatabaseConnection,
    q: &Query,
    ranked: &[(i64, f64)],
    ids: &[i64],
) -> Result<Vec<Hit>, DbErr> {
    use sea_orm::ColumnTrait;
    let rows = content::Entity::find()
        .filter(content::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    let (tags, notes) = tags_and_notes(db, ids).await?;
    let terms: HashSet<String> = q.positive_terms().into_iter().collect();
    let mut by_id: HashMap<i64, content::Model> = rows.into_iter().map(|r| (r.id, r)).collect();
    let mut ordered = Vec::new();
    let mut extras = Vec::new();
    let none = Vec::new();
    for (id, rank) in ranked {
        let Some(row) = by_id.remove(id) else {
            continue;
        };
        let doc = Doc::of(
            &row,
            tags.get(id).unwrap_or(&none),
            notes.get(id).unwrap_or(&none),
        );
        let mut matched = Vec::new();
        let mut highlights = HashMap::new();
        for (field, text) in &doc.fields {
            if let Some(s) = snippet(text, &terms, SNIPPET_CHARS) {
                matched.push(field.as_str().to_owned());
                highlights.insert(field.as_str().to_owned(), s);
            }
        }
        extras.push((*rank, matched, highlights));
        ordered.push(row);
    }
    let views = super::contents::views_of(db, ordered).await?;
    Ok(views
        .into_iter()
        .zip(extras)
        .map(|(item, (rank, matched, highlights))| Hit {
            item,
            rank,
            matched,
            highlights,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_belongs_to_its_query() {
        let c = SearchCursor::new("地铁 platform:weibo", 20);
        let s = c.encode();
        assert_eq!(SearchCursor::decode(&s, "地铁 platform:weibo"), Some(c));
        // Surrounding white space is not a different query.
        assert_eq!(SearchCursor::decode(&s, " 地铁 platform:weibo "), Some(c));
        assert_eq!(SearchCursor::decode(&s, "地铁"), None);
        assert_eq!(SearchCursor::decode("garbage", "地铁"), None);
        assert_eq!(SearchCursor::decode("", "地铁"), None);
        let deep = SearchCursor::new("x", MAX_OFFSET + 1).encode();
        assert_eq!(SearchCursor::decode(&deep, "x"), None);
    }
}
