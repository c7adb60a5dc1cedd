//! Reading the index: a parsed query as SQL for SQLite (FTS5) or
//! PostgreSQL (`tsvector`), ranked, with the filters and phrases as
//! conditions.

use chrono::{DateTime, NaiveTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, Value};
use vaultstream_search::query::{FilterName, Has, Query};
use vaultstream_search::render::{fts5_match, pg_tsquery};

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
            FilterName::Upstream => {
                format!("c.upstream_state = {}", sql.bind(f.value.clone()))
            }
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

/// The ids (and ranks) `q` matches, best first: what [`search`] pages
/// through, without building the answers.
pub async fn ranked(
    db: &DatabaseConnection,
    q: &Query,
    limit: u64,
    offset: u64,
) -> Result<Vec<(i64, f64)>, DbErr> {
    let statement = ranked_statement(db.get_database_backend(), q, limit, offset);
    let rows = db.query_all_raw(statement).await?;
    rows.iter()
        .map(|r| Ok((r.try_get::<i64>("", "id")?, r.try_get::<f64>("", "rank")?)))
        .collect()
}

/// The statement [`ranked`] runs (for `EXPLAIN` in the benchmark).
pub fn ranked_statement(backend: DbBackend, q: &Query, limit: u64, offset: u64) -> Statement {
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
                // CROSS JOIN keeps this order: the index finds the
                // matches, the filters check only those (left to itself,
                // SQLite may walk every item of a platform and ask the
                // index about each: seconds instead of milliseconds).
                "SELECT c.id AS id, -bm25(search_fts) AS rank FROM search_fts \
                 CROSS JOIN contents c ON c.id = search_fts.rowid \
                 CROSS JOIN search_docs d ON d.content_id = c.id"
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
    Statement::from_sql_and_values(backend, sql.text, sql.values)
}
