//! Reading the index: a parsed query as SQL for SQLite (FTS5) or
//! PostgreSQL (`tsvector`), ranked, with the filters and phrases as
//! conditions. PostgreSQL's word queries run window by window of ids
//! (`windows`).

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use vaultstream_search::query::Query;
use vaultstream_search::render::{fts5_match, pg_tsquery};

use super::sql::{FROM_MATCH_PG, RANK_CANDIDATES, Sql, candidates, conditions, has_phrase};

/// The match of `q`'s words, bound first (its value comes before the
/// filters' values, in the order the placeholders appear): its placeholder,
/// or `None` for filters only.
fn bind_match(q: &Query, sql: &mut Sql) -> Option<String> {
    match sql.backend {
        DbBackend::Postgres => pg_tsquery(q).map(|tsq| sql.bind(tsq)),
        _ => fts5_match(q).map(|m| sql.bind(m)),
    }
}

/// SQLite's matching rows with filters: the index finds the matches, the
/// filters check only those, and the CROSS JOINs keep that order (left to
/// itself, SQLite may walk every item of a platform and ask the index about
/// each: seconds instead of milliseconds).
const FROM_MATCH_SQLITE: &str = "search_fts CROSS JOIN contents c ON c.id = search_fts.rowid \
    CROSS JOIN search_docs d ON d.content_id = c.id";
/// The same without the document, when no condition reads it (only
/// phrases do: `d.norm`): each match walked then costs an index lookup in
/// `contents`, not a read of its wide document row too.
const FROM_MATCH_SQLITE_NO_DOC: &str =
    "search_fts CROSS JOIN contents c ON c.id = search_fts.rowid";

/// SQLite's matching rows with filters, joined to the documents only when
/// `q` has a phrase.
fn from_match_sqlite(q: &Query) -> &'static str {
    if has_phrase(q) {
        FROM_MATCH_SQLITE
    } else {
        FROM_MATCH_SQLITE_NO_DOC
    }
}
/// Filters only: every item, its document where it has one.
const FROM_ALL: &str = "contents c LEFT JOIN search_docs d ON d.content_id = c.id";

/// The ids `q` selects, unranked, as a subquery for a list's `WHERE
/// contents.id IN (…)` (a feed whose `q` is a search): its SQL, with the
/// backend's placeholders counted from one, and their values. `None` when
/// `q` selects every item.
pub fn matching_ids(backend: DbBackend, q: &Query) -> Option<(String, Vec<Value>)> {
    let mut sql = Sql {
        backend,
        text: String::new(),
        values: Vec::new(),
    };
    let matched = bind_match(q, &mut sql);
    let mut wheres = Vec::new();
    let from = match (backend, matched) {
        (DbBackend::Postgres, Some(p)) => {
            wheres.push(format!("d.tsv @@ {p}::tsquery"));
            FROM_MATCH_PG
        }
        (_, Some(p)) => {
            wheres.push(format!("search_fts MATCH {p}"));
            from_match_sqlite(q)
        }
        (_, None) => FROM_ALL,
    };
    wheres.extend(conditions(q, &mut sql));
    if wheres.is_empty() {
        return None;
    }
    let text = format!("SELECT c.id FROM {from} WHERE {}", wheres.join(" AND "));
    Some((text, sql.values))
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
    if backend == DbBackend::Postgres && pg_tsquery(q).is_some() {
        return super::windows::ranked_pg(db, q, limit, offset).await;
    }
    let statement = ranked_statement(backend, q, limit, offset);
    let rows = db.query_all_raw(statement).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64>("", "id")?, r.try_get::<f64>("", "rank")?)))
        .collect()
}

/// The statement [`ranked`] runs (for `EXPLAIN` in the benchmark). On
/// PostgreSQL, [`ranked`] runs word queries window by window instead
/// ([`pg_first_window`](super::pg_first_window) is its first); for those this returns the same
/// selection as one window over every id, tiers left to the caller.
pub fn ranked_statement(backend: DbBackend, q: &Query, limit: u64, offset: u64) -> Statement {
    if backend == DbBackend::Postgres && pg_tsquery(q).is_some() {
        return super::windows::window_statement(q, None, i64::MAX, candidates(limit, offset));
    }
    let mut sql = Sql {
        backend,
        text: String::new(),
        values: Vec::new(),
    };
    let matched = bind_match(q, &mut sql);
    let mut wheres = conditions(q, &mut sql);
    // Words alone rank from the index alone: no join per matching row
    // (a common word matches a large share of the archive), only the page
    // is looked up afterwards.
    let index_only = wheres.is_empty();
    // Ranking reads every candidate's document (PostgreSQL: its
    // `tsvector`, often stored out of line; SQLite: bm25 over its terms),
    // so a word in a tenth of a million items would rank 100,000 rows for a
    // page of 20. Matches are ranked in tiers of [`RANK_CANDIDATES`], newest
    // first: the first tier (the newest matches) is ranked and shown first,
    // then the next; a page ranks only the tiers it reaches. A word with
    // fewer matches than a tier is ranked exactly; a page's place never
    // depends on the page (tiers are fixed by the matches alone), so paging
    // shows every match once. With filters, the tiers are of the matches
    // that pass them.
    let tier = RANK_CANDIDATES;
    let candidates = candidates(limit, offset);
    let (select, order) = match (backend, matched) {
        // Words were handed to the window above: filters only.
        (DbBackend::Postgres, _) => (
            format!("SELECT c.id AS id, CAST(0 AS DOUBLE PRECISION) AS rank FROM {FROM_ALL}"),
            "c.id DESC",
        ),
        (_, Some(p)) if index_only => {
            // The oldest candidate's rowid bounds the match: FTS5 walks a
            // match's rowids newest first without ranking them, and takes a
            // rowid range straight to its doclists.
            let again = sql.values[0].clone();
            let p2 = sql.bind(again);
            let skip = sql.bind(candidates - 1);
            (
                format!(
                    "SELECT id, rank FROM (SELECT search_fts.rowid AS id, \
                     -search_fts.rank AS rank, \
                     (ROW_NUMBER() OVER (ORDER BY search_fts.rowid DESC) - 1) / {tier} AS tier \
                     FROM search_fts WHERE search_fts MATCH {p} AND search_fts.rowid >= \
                     COALESCE((SELECT rowid FROM search_fts WHERE search_fts MATCH {p2} \
                     ORDER BY rowid DESC LIMIT 1 OFFSET {skip}), 0)) AS candidates"
                ),
                "tier, rank DESC, id DESC",
            )
        }
        (_, Some(p)) => {
            // Words with filters: FTS5 walks the matches newest first (its
            // doclists are in rowid order: no sort), the filters check each
            // (the CROSS JOINs keep that order), and the walk stops at the
            // candidates' count; bm25 is computed for those alone. (Handing
            // FTS5 a list of candidate rowids instead measured seconds at
            // 1,000,000 items: one index lookup per candidate.)
            wheres.insert(0, format!("search_fts MATCH {p}"));
            let cap = sql.bind(candidates);
            let inner = std::mem::take(&mut wheres).join(" AND ");
            (
                // bm25 is lower for better matches: negate it.
                format!(
                    "SELECT id, rank FROM (SELECT id, rank, \
                     (ROW_NUMBER() OVER (ORDER BY id DESC) - 1) / {tier} AS tier \
                     FROM (SELECT c.id AS id, -bm25(search_fts) AS rank \
                     FROM {} WHERE {inner} \
                     ORDER BY search_fts.rowid DESC LIMIT {cap}) AS newest) AS candidates",
                    from_match_sqlite(q)
                ),
                "tier, rank DESC, id DESC",
            )
        }
        (_, None) => (
            format!("SELECT c.id AS id, 0.0 AS rank FROM {FROM_ALL}"),
            "c.id DESC",
        ),
    };
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
    Statement::from_sql_and_values(backend, sql.text, sql.values)
}
