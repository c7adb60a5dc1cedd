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

use sea_orm::{DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use serde::Serialize;
use vaultstream_search::query::{Filter, FilterName, Query};
use vaultstream_search::snippet::snippet;

use super::entities::content;
use crate::content::{ContentView, Status};
use crate::error::{ErrorCode, UserError};
use crate::platform::{ContentKind, Platform};

mod index;
mod rank;
mod sql;
mod windows;

use index::{Doc, tags_and_notes};
pub use index::{index_item, index_items, reindex};
pub use rank::{matching_ids, ranked, ranked_statement};
pub use sql::RANK_CANDIDATES;
pub use windows::pg_first_window;

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
            FilterName::Upstream if f.value.parse::<crate::status::UpstreamState>().is_err() => {
                return Err(invalid(
                    f,
                    format!(
                        "no upstream state `{}`: use live, deleted, restricted or unreachable",
                        f.value
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(parsed)
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
