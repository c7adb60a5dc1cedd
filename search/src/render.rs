//! From our tokens to each database's full-text index, and from a parsed
//! query to each database's match expression.
//!
//! Neither database tokenises our text: SQLite FTS5 gets the terms joined
//! by spaces (its `unicode61` tokenizer, told to keep `#@_` inside tokens
//! and to leave diacritics alone, splits only on those spaces), PostgreSQL
//! gets a `tsvector` literal (`'term':1,4 'other':2`), which its input
//! parser takes verbatim — no stemming, no stop words, no parser rules.

use std::collections::BTreeMap;

use crate::normalize::normalize_for_phrase;
use crate::query::{Query, Term};
use crate::tokenize::tokenize;

/// What a document is made of, by field. The order of the fields is the
/// order of the positions in the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Title,
    Text,
    Author,
    Tags,
    Platform,
    Notes,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Text => "text",
            Field::Author => "author",
            Field::Tags => "tags",
            Field::Platform => "platform",
            Field::Notes => "notes",
        }
    }
}

/// Most characters of one document that are indexed (a long article's
/// first 200,000 characters; the rest is still stored and shown).
pub const MAX_INDEXED_CHARS: usize = 200_000;
/// PostgreSQL keeps positions up to this.
const MAX_PG_POSITION: usize = 16_383;

/// A document ready for both indexes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Indexed {
    /// Terms joined by single spaces (the SQLite FTS5 column).
    pub terms: String,
    /// A `tsvector` literal (PostgreSQL: `$1::tsvector`).
    pub tsvector: String,
    /// The normalised text of every field, for exact phrases.
    pub norm: String,
    /// How many terms were indexed.
    pub count: usize,
}

/// Tokenise a document's fields for the index.
pub fn index(fields: &[(Field, &str)]) -> Indexed {
    let mut terms = String::new();
    let mut norm = String::new();
    let mut positions: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut all: Vec<String> = Vec::new();
    let mut budget = MAX_INDEXED_CHARS;
    for (_, text) in fields {
        if budget == 0 || text.trim().is_empty() {
            continue;
        }
        let text = cut(text, budget);
        budget = budget.saturating_sub(text.chars().count());
        if !norm.is_empty() {
            norm.push('\n');
        }
        norm.push_str(&normalize_for_phrase(text));
        all.extend(tokenize(text).into_iter().map(|t| t.term));
    }
    for (i, t) in all.iter().enumerate() {
        if !terms.is_empty() {
            terms.push(' ');
        }
        terms.push_str(t);
        let list = positions.entry(t.as_str()).or_default();
        if list.len() < 256 {
            list.push((i + 1).min(MAX_PG_POSITION));
        }
    }
    let mut tsvector = String::new();
    for (term, pos) in positions {
        if !tsvector.is_empty() {
            tsvector.push(' ');
        }
        tsvector.push_str(&pg_quote(term));
        tsvector.push(':');
        let mut pos = pos;
        pos.dedup();
        let list: Vec<String> = pos.iter().map(usize::to_string).collect();
        tsvector.push_str(&list.join(","));
    }
    Indexed {
        count: all.len(),
        terms,
        tsvector,
        norm,
    }
}

/// The first `max` characters of `s`.
fn cut(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn pg_quote(term: &str) -> String {
    format!("'{}'", term.replace('\\', "\\\\").replace('\'', "''"))
}

fn fts_quote(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

fn fts_term(t: &Term) -> String {
    let parts: Vec<String> = t.terms.iter().map(|s| fts_quote(s)).collect();
    format!("({})", parts.join(" AND "))
}

fn pg_term(t: &Term) -> String {
    let parts: Vec<String> = t.terms.iter().map(|s| pg_quote(s)).collect();
    format!("({})", parts.join(" & "))
}

/// The FTS5 `MATCH` expression of the query's words, or `None` when it has
/// none (filters only). Excluded *words* are `NOT`ed here; excluded
/// *phrases* are the caller's (`norm NOT LIKE`).
pub fn fts5_match(q: &Query) -> Option<String> {
    if q.all.is_empty() {
        return None;
    }
    let groups: Vec<String> = q
        .all
        .iter()
        .map(|g| {
            let alts: Vec<String> = g.iter().map(fts_term).collect();
            format!("({})", alts.join(" OR "))
        })
        .collect();
    let mut out = format!("({})", groups.join(" AND "));
    for t in q.none.iter().filter(|t| t.phrase.is_none()) {
        out.push_str(" NOT ");
        out.push_str(&fts_term(t));
    }
    Some(out)
}

/// The PostgreSQL `tsquery` literal of the query's words (`$1::tsquery`),
/// or `None` for filters only.
pub fn pg_tsquery(q: &Query) -> Option<String> {
    if q.all.is_empty() {
        return None;
    }
    let groups: Vec<String> = q
        .all
        .iter()
        .map(|g| {
            let alts: Vec<String> = g.iter().map(pg_term).collect();
            format!("({})", alts.join(" | "))
        })
        .collect();
    let mut out = groups.join(" & ");
    for t in q.none.iter().filter(|t| t.phrase.is_none()) {
        out.push_str(" & !");
        out.push_str(&pg_term(t));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    #[test]
    fn documents_become_terms_and_tsvectors() {
        let d = index(&[(Field::Title, "It's Rust"), (Field::Text, "rust 数据")]);
        assert_eq!(d.terms, "it s rust rust 数 数据 据");
        assert!(d.tsvector.contains("'rust':3,4"), "{}", d.tsvector);
        assert!(d.tsvector.contains("'数据':6"), "{}", d.tsvector);
        assert_eq!(d.norm, "it's rust\nrust 数据");
        let q = index(&[(Field::Text, "o'brien \\x")]);
        assert!(q.tsvector.contains("'o'"), "{}", q.tsvector);
    }

    #[test]
    fn queries_render_for_both_databases() {
        let q = parse(r#"rust 数据库 cats OR dogs -java -"bad phrase""#).unwrap();
        assert_eq!(
            fts5_match(&q).unwrap(),
            r#"((("rust")) AND (("数据" AND "据库")) AND (("cat") OR ("dog"))) NOT ("java")"#
        );
        assert_eq!(
            pg_tsquery(&q).unwrap(),
            "(('rust')) & (('数据' & '据库')) & (('cat') | ('dog')) & !('java')"
        );
        assert_eq!(fts5_match(&parse("tag:x").unwrap()), None);
    }

    #[test]
    fn quotes_are_escaped() {
        assert_eq!(pg_quote("a'b\\c"), "'a''b\\\\c'");
        assert_eq!(fts_quote("a\"b"), "\"a\"\"b\"");
    }
}
