//! PostgreSQL's word queries, window by window of ids.
//!
//! GIN finds a word's matches without their ids, and the heap is read for
//! every match to get them (at 1,000,000 items a common word read ~9,400
//! heap blocks for 1,000 candidates: bench/README.md). So the newest
//! matches are gathered window by window of ids, newest window first, and
//! within a window only its rows are read (the planner walks the id range
//! or ANDs the GIN bitmap with it). Then the same tiers as every other
//! query: the newest [`RANK_CANDIDATES`] ranked first.
//!
//! The first window is sized from what `ANALYZE` keeps of the `tsvector`
//! column (`pg_stats.most_common_elems` and their frequencies): a word
//! expected to match fewer items than a tier takes one statement over
//! every id (the GIN index alone finds its few rows), a common word a
//! window expected to hold its candidates already. Without statistics (a
//! table never analyzed) the first window is the newest `4 × candidates`
//! ids. Each next window is sized from the matches found so far. The
//! tsquery and the bounds are written into the SQL text, so the planner
//! sees the words (and its own statistics for them) and never reuses a
//! generic plan that forgot a window is narrow.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use vaultstream_search::query::Query;
use vaultstream_search::render::pg_tsquery;

use super::sql::{FROM_MATCH_PG, RANK_CANDIDATES, Sql, candidates, conditions, has_phrase};

/// Without statistics, the first window holds the newest this many
/// candidates' worth of ids.
const FIRST_WINDOW: i64 = 4;
/// Each next window is at least this many times wider than the one before.
const WINDOW_GROWTH: i64 = 4;
/// A window sized from an expected density is this much wider again (the
/// newest items need not be as dense as the archive).
const SLACK: f64 = 1.5;

/// What the first window is sized from: the newest indexed id, how many
/// documents `ANALYZE` counted, and the density of `q`'s matches among
/// them it implies (`None`: no statistics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Shape {
    pub top: i64,
    pub docs: f64,
    pub density: Option<f64>,
}

/// The share of documents `q`'s words match at most, from each lexeme's
/// frequency (`freq`; a lexeme `ANALYZE` did not keep is at most as frequent
/// as the rarest it kept, `floor`): a word's lexemes all match (the
/// rarest bounds it), alternatives add up, every group must match (the
/// rarest group bounds it). Exclusions are left out (they only narrow).
pub(super) fn density(q: &Query, freq: &HashMap<String, f64>, floor: f64) -> f64 {
    q.all
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|t| {
                    t.terms
                        .iter()
                        .map(|l| freq.get(l).copied().unwrap_or(floor))
                        .fold(1.0, f64::min)
                })
                .sum::<f64>()
                .min(1.0)
        })
        .fold(1.0, f64::min)
}

/// The lexemes `ANALYZE` kept for `search_docs.tsv` in one database, with
/// their frequencies, and the rarest one's (`floor`).
#[derive(Debug, Default)]
struct Lexemes {
    /// When `ANALYZE` last ran on the table: these are its numbers.
    analyzed_at: String,
    freq: HashMap<String, f64>,
    floor: f64,
}

/// The lexeme statistics of each database this process searched, until
/// its table is analyzed again. Reading them costs ~2 ms (10,000 lexemes
/// turned into text and back): once per `ANALYZE`, not once per query.
static LEXEMES: LazyLock<Mutex<HashMap<String, Arc<Lexemes>>>> = LazyLock::new(Default::default);

/// At most this many databases' statistics are kept (tests make many).
const LEXEME_DATABASES: usize = 16;

/// The newest indexed id and the statistics for `q`'s lexemes; `None`
/// when nothing is indexed. One small round trip per query: the newest
/// id, the documents counted (the larger of `ANALYZE`'s count and the live
/// rows PostgreSQL has counted since, so an archive grown since its last
/// `ANALYZE` does not look small: a word expected to match fewer items
/// than a tier is read whole) and when the table was last analyzed; the
/// lexemes themselves come from [`LEXEMES`] unless that changed.
async fn shape(db: &DatabaseConnection, q: &Query) -> Result<Option<Shape>, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT (SELECT MAX(content_id) FROM search_docs) AS top, \
               CAST(GREATEST(c.reltuples, u.n_live_tup) AS DOUBLE PRECISION) AS docs, \
               current_database() AS db, \
               CAST(GREATEST(u.last_analyze, u.last_autoanalyze) AS TEXT) AS analyzed_at \
             FROM pg_class c LEFT JOIN pg_stat_user_tables u ON u.relid = c.oid \
             WHERE c.oid = to_regclass('search_docs')",
        ))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let Some(top) = row.try_get::<Option<i64>>("", "top")? else {
        return Ok(None);
    };
    let docs = row.try_get::<Option<f64>>("", "docs")?.unwrap_or(-1.0);
    let analyzed_at = row.try_get::<Option<String>>("", "analyzed_at")?;
    let density = match analyzed_at {
        Some(at) if docs > 0.0 => {
            let name = row.try_get::<String>("", "db")?;
            lexemes(db, &name, at)
                .await?
                .map(|l| density(q, &l.freq, l.floor))
        }
        _ => None,
    };
    Ok(Some(Shape { top, docs, density }))
}

/// The lexeme statistics of database `name` as of `analyzed_at`: from
/// [`LEXEMES`], or read afresh; `None` when `ANALYZE` kept none.
async fn lexemes(
    db: &DatabaseConnection,
    name: &str,
    analyzed_at: String,
) -> Result<Option<Arc<Lexemes>>, DbErr> {
    let cached = LEXEMES
        .lock()
        .ok()
        .and_then(|m| m.get(name).cloned())
        .filter(|l| l.analyzed_at == analyzed_at);
    if let Some(l) = cached {
        return Ok((!l.freq.is_empty()).then_some(l));
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT CAST(array_to_json(CAST(CAST(most_common_elems AS TEXT) AS TEXT[])) AS TEXT) \
                 AS e, CAST(array_to_json(most_common_elem_freqs) AS TEXT) AS f \
             FROM pg_stats WHERE schemaname = current_schema() \
               AND tablename = 'search_docs' AND attname = 'tsv'",
        ))
        .await?;
    let mut l = Lexemes {
        analyzed_at,
        ..Default::default()
    };
    if let Some(row) = row {
        let e: Vec<String> = row
            .try_get::<Option<String>>("", "e")?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let f: Vec<f64> = row
            .try_get::<Option<String>>("", "f")?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        // The frequencies are followed by the lowest and the highest of
        // them (and, for types with null elements, their share).
        if !e.is_empty() && (f.len() == e.len() + 2 || f.len() == e.len() + 3) {
            l.floor = f[e.len()];
            l.freq = e.into_iter().zip(f).collect();
        }
    }
    let l = Arc::new(l);
    if let Ok(mut m) = LEXEMES.lock() {
        if m.len() >= LEXEME_DATABASES {
            m.clear();
        }
        m.insert(name.to_owned(), l.clone());
    }
    Ok((!l.freq.is_empty()).then_some(l))
}

/// Filters and phrases keep some of a word's matches, unknown how many
/// before the first window: it is sized for this many times the
/// candidates' worth of the words' matches (the next ones from the share
/// that passed).
const NARROWED: i64 = 4;

/// Whether conditions beyond the words (filters, phrases) narrow `q`'s
/// matches.
fn narrowed(q: &Query) -> bool {
    !q.filters.is_empty() || has_phrase(q)
}

/// The words' matches the first window should hold for `cap` candidates
/// of `q`.
fn first_want(q: &Query, cap: i64) -> i64 {
    if narrowed(q) {
        cap.saturating_mul(NARROWED)
    } else {
        cap
    }
}

/// Where the first window starts (`None`: at the oldest id) to hold `cap`
/// of the words' matches.
pub(super) fn first_lo(shape: &Shape, cap: i64) -> Option<i64> {
    let width = match shape.density {
        // Fewer matches expected than candidates wanted: all of them.
        Some(d) if d * shape.docs <= cap as f64 => return None,
        Some(d) => {
            // Ids per document: ids of items never indexed (or gone)
            // widen the window.
            let per_doc = shape.top.max(1) as f64 / shape.docs.max(1.0);
            let w = cap as f64 / d * per_doc * SLACK;
            (w.min(i64::MAX as f64) as i64).max(cap)
        }
        None => cap.saturating_mul(FIRST_WINDOW),
    };
    let lo = shape.top.saturating_sub(width);
    (lo > 0).then_some(lo)
}

/// PostgreSQL's word queries (see the module doc).
pub(super) async fn ranked_pg(
    db: &DatabaseConnection,
    q: &Query,
    limit: u64,
    offset: u64,
) -> Result<Vec<(i64, f64)>, DbErr> {
    let cap = candidates(limit, offset);
    let Some(shape) = shape(db, q).await? else {
        return Ok(Vec::new());
    };
    let top = shape.top;
    let mut newest: Vec<(i64, f64)> = Vec::new();
    let mut hi = top;
    let mut lo = first_lo(&shape, first_want(q, cap));
    loop {
        let need = cap - newest.len() as i64;
        for r in db.query_all_raw(window_statement(q, lo, hi, need)).await? {
            newest.push((r.try_get::<i64>("", "id")?, r.try_get::<f64>("", "rank")?));
        }
        let Some(reached) = lo else { break };
        if newest.len() as i64 >= cap {
            break;
        }
        // The next window: wide enough for the matches still wanted at the
        // density seen so far (half as much again), at least four times
        // the last; sixteen times when nothing matched yet.
        let last = hi - reached;
        let seen = (top - reached).max(1) as f64;
        let found = newest.len() as f64;
        let wanted = (cap - newest.len() as i64) as f64;
        let width = if found > 0.0 {
            let guess = (wanted * seen / found * SLACK).min(i64::MAX as f64) as i64;
            guess.max(last.saturating_mul(WINDOW_GROWTH))
        } else {
            last.saturating_mul(WINDOW_GROWTH * WINDOW_GROWTH)
        };
        hi = reached;
        lo = Some(reached.saturating_sub(width)).filter(|&l| l > 0);
    }
    Ok(page_of_tiers(newest, limit, offset))
}

/// The first statement [`ranked`](super::ranked) runs on PostgreSQL for a
/// page of word query `q` (its first window), for `EXPLAIN` in the
/// benchmark; `None` when nothing is indexed.
pub async fn pg_first_window(
    db: &DatabaseConnection,
    q: &Query,
    limit: u64,
    offset: u64,
) -> Result<Option<Statement>, DbErr> {
    let cap = candidates(limit, offset);
    let Some(shape) = shape(db, q).await? else {
        return Ok(None);
    };
    Ok(Some(window_statement(
        q,
        first_lo(&shape, first_want(q, cap)),
        shape.top,
        cap,
    )))
}

/// Candidates newest first → the page from `offset`: tier by tier (the
/// newest [`RANK_CANDIDATES`] first), best rank first within a tier.
fn page_of_tiers(mut newest: Vec<(i64, f64)>, limit: u64, offset: u64) -> Vec<(i64, f64)> {
    newest.sort_by_key(|c| std::cmp::Reverse(c.0));
    let tier = RANK_CANDIDATES as usize;
    let mut tiered: Vec<(usize, i64, f64)> = newest
        .into_iter()
        .enumerate()
        .map(|(i, (id, rank))| (i / tier, id, rank))
        .collect();
    tiered.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.total_cmp(&a.2)).then(b.1.cmp(&a.1)));
    tiered
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(_, id, rank)| (id, rank))
        .collect()
}

/// `s` as a dollar-quoted literal whose tag does not occur in it (nothing
/// inside is an escape).
fn dollar_quote(s: &str) -> String {
    let mut n = 0usize;
    loop {
        let tag = format!("$q{n}$");
        let body = format!("{s}{tag}");
        if body.find(&tag) == Some(s.len()) {
            return format!("{tag}{body}");
        }
        n += 1;
    }
}

/// One window: the newest `need` matches with ids in `(lo, hi]` (no lower
/// bound when `lo` is `None`), newest first, ranked. The tsquery and the
/// bounds are written into the text (see the module doc); filters' values
/// are bound.
pub(super) fn window_statement(q: &Query, lo: Option<i64>, hi: i64, need: i64) -> Statement {
    let mut sql = Sql {
        backend: DbBackend::Postgres,
        text: String::new(),
        values: Vec::new(),
    };
    let p = format!(
        "CAST({} AS tsquery)",
        dollar_quote(&pg_tsquery(q).unwrap_or_default())
    );
    let mut wheres = conditions(q, &mut sql);
    let from = if wheres.is_empty() {
        "search_docs d"
    } else {
        FROM_MATCH_PG
    };
    wheres.insert(0, format!("d.tsv @@ {p}"));
    wheres.push(format!("d.content_id <= {hi}"));
    if let Some(lo) = lo {
        wheres.push(format!("d.content_id > {lo}"));
    }
    sql.text = format!(
        "SELECT id, CAST(ts_rank_cd(tsv, {p}) AS DOUBLE PRECISION) AS rank \
         FROM (SELECT d.content_id AS id, d.tsv FROM {from} WHERE {} \
         ORDER BY d.content_id DESC LIMIT {need}) AS newest",
        wheres.join(" AND ")
    );
    Statement::from_sql_and_values(DbBackend::Postgres, sql.text, sql.values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaultstream_search::query::parse;

    #[test]
    fn dollar_quotes_hold_anything() {
        assert_eq!(dollar_quote("'a' & 'b'"), "$q0$'a' & 'b'$q0$");
        assert_eq!(dollar_quote("x$q0"), "$q1$x$q0$q1$");
        assert_eq!(dollar_quote("$q0$"), "$q1$$q0$$q1$");
    }

    #[test]
    fn density_bounds_the_matches() {
        let freq: HashMap<String, f64> = [("cat", 0.2), ("dog", 0.1), ("数据", 0.05)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let d = |q: &str| density(&parse(q).unwrap(), &freq, 0.001);
        assert_eq!(d("cats"), 0.2);
        assert_eq!(
            d("cats dogs"),
            0.1,
            "every word must match: the rarer bounds"
        );
        assert!(
            (d("cats OR dogs") - 0.3).abs() < 1e-9,
            "alternatives add up"
        );
        assert_eq!(d("zebra"), 0.001, "a word not kept is at most the floor");
        assert_eq!(d("cats -dogs"), 0.2, "exclusions only narrow");
        // 数据库: its bigrams 数据 & 据库; 据库 was not kept.
        assert_eq!(d("数据库"), 0.001);
    }

    #[test]
    fn first_windows_follow_the_statistics() {
        let shape = |density| Shape {
            top: 1_000_000,
            docs: 500_000.0,
            density,
        };
        // No statistics: the newest 4 × candidates ids.
        assert_eq!(first_lo(&shape(None), 1000), Some(996_000));
        // Fewer matches expected than wanted: every id.
        assert_eq!(first_lo(&shape(Some(0.001)), 1000), None);
        // A word in a tenth of the documents (half the ids hold one):
        // 1,000 / 0.1 × 2 × 1.5 ids.
        assert_eq!(first_lo(&shape(Some(0.1)), 1000), Some(970_000));
        // Never narrower than the candidates.
        assert_eq!(first_lo(&shape(Some(1.0)), 1000), Some(997_000));
    }

    #[test]
    fn filters_and_phrases_widen_the_first_window() {
        assert_eq!(first_want(&parse("cats").unwrap(), 1000), 1000);
        assert_eq!(first_want(&parse("cats -dogs").unwrap(), 1000), 1000);
        assert_eq!(
            first_want(&parse("cats platform:weibo").unwrap(), 1000),
            4000
        );
        assert_eq!(first_want(&parse("\"two cats\"").unwrap(), 1000), 4000);
    }
}
