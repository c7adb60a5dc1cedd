//! SQL building blocks both ranking paths share: statement text with the
//! backend's placeholders, the filters and phrases as conditions, and the
//! tiers matches are ranked in.

use chrono::{DateTime, NaiveTime, Utc};
use sea_orm::{DbBackend, Value};
use vaultstream_search::query::{FilterName, Has, Query};

/// Matches are ranked in tiers of this many, newest tier first (see
/// [`ranked_statement`](super::ranked_statement)).
pub const RANK_CANDIDATES: u64 = 1000;

/// SQL text and its values, with the backend's placeholders.
pub(super) struct Sql {
    pub(super) backend: DbBackend,
    pub(super) text: String,
    pub(super) values: Vec<Value>,
}

impl Sql {
    pub(super) fn bind(&mut self, v: impl Into<Value>) -> String {
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

/// Whether `q` has an exact phrase (wanted or excluded): those are checked
/// against the documents' normalised text, not the index.
pub(super) fn has_phrase(q: &Query) -> bool {
    q.all
        .iter()
        .flatten()
        .chain(&q.none)
        .any(|t| t.phrase.is_some())
}

/// The filters and phrases of `q` as SQL conditions on `c` (contents) and
/// `d` (search_docs, LEFT JOINed).
pub(super) fn conditions(q: &Query, sql: &mut Sql) -> Vec<String> {
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

/// Matching rows with filters on PostgreSQL: the index finds the matches,
/// the filters check only those.
pub(super) const FROM_MATCH_PG: &str = "search_docs d JOIN contents c ON c.id = d.content_id";

/// How many of the newest matches a page from `offset` needs ranked: the
/// tiers it reaches.
pub(super) fn candidates(limit: u64, offset: u64) -> i64 {
    let tier = RANK_CANDIDATES;
    (limit.saturating_add(offset).div_ceil(tier).max(1) * tier) as i64
}
