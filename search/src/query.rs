//! The query language, as people know it from web search:
//!
//! | syntax | meaning |
//! |---|---|
//! | `rust 中文` | every word must match |
//! | `"exact phrase"` | these words in this order (across line breaks too) |
//! | `-word`, `-"a phrase"` | must not match |
//! | `cats OR dogs` | either (binds tighter than the implicit AND: `a b OR c` = a AND (b OR c)) |
//! | `platform:twitter`, `tag:music`, `author:jack`, `kind:thread`, `status:pulled` | filters (`-platform:web` excludes) |
//! | `before:2026-01-31`, `after:2025-12` | by publication date (else archive date): `YYYY`, `YYYY-MM` or `YYYY-MM-DD` |
//! | `has:video`, `has:images` | items with archived media of that kind |
//! | `upstream:deleted` (`live`, `restricted`, `unreachable`) | by what the platform says of the original |
//!
//! A word like `https://x.com` that only looks like a filter (its name is
//! not one of ours) is a word. Bad syntax is a [`QueryError`] naming the
//! position (1-based character column) and what is wrong.

use chrono::NaiveDate;

use crate::normalize::normalize_for_phrase;
use crate::tokenize::query_terms;

/// Longest query we take, in characters.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Most words and phrases in one query.
pub const MAX_TERMS: usize = 32;

/// A query that cannot be run, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {column}: {message}")]
pub struct QueryError {
    /// 1-based character column in the query.
    pub column: usize,
    pub message: String,
}

fn err(column: usize, message: impl Into<String>) -> QueryError {
    QueryError {
        column: column + 1,
        message: message.into(),
    }
}

/// A word or a phrase, with what the index must contain for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// As typed (without quotes).
    pub raw: String,
    /// Index terms that every match contains (ANDed).
    pub terms: Vec<String>,
    /// For a phrase: its normalised text, which the item's normalised text
    /// must contain.
    pub phrase: Option<String>,
}

/// A filter's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterName {
    Platform,
    Tag,
    Author,
    Kind,
    Status,
    Upstream,
    Before,
    After,
    Has,
}

impl FilterName {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "platform" => FilterName::Platform,
            "tag" => FilterName::Tag,
            "author" => FilterName::Author,
            "kind" => FilterName::Kind,
            "status" => FilterName::Status,
            "upstream" => FilterName::Upstream,
            "before" => FilterName::Before,
            "after" => FilterName::After,
            "has" => FilterName::Has,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FilterName::Platform => "platform",
            FilterName::Tag => "tag",
            FilterName::Author => "author",
            FilterName::Kind => "kind",
            FilterName::Status => "status",
            FilterName::Upstream => "upstream",
            FilterName::Before => "before",
            FilterName::After => "after",
            FilterName::Has => "has",
        }
    }
}

/// What `has:` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Has {
    Video,
    Images,
}

/// A filter as typed. The caller checks names of platforms, kinds and
/// statuses (it knows them) with [`Filter::column`] for its error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: FilterName,
    /// Trimmed, lower-cased (dates and names compare that way).
    pub value: String,
    pub negated: bool,
    /// 1-based column of the filter in the query.
    pub column: usize,
    /// `before:`/`after:` as the first day they exclude / include.
    pub date: Option<NaiveDate>,
    pub has: Option<Has>,
}

/// A parsed query: `all` groups must each match (one of their
/// alternatives), `none` must not, and every filter applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub all: Vec<Vec<Term>>,
    pub none: Vec<Term>,
    pub filters: Vec<Filter>,
}

impl Query {
    /// Every positive index term (for highlighting and "fields that
    /// matched").
    pub fn positive_terms(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .all
            .iter()
            .flatten()
            .flat_map(|t| t.terms.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether there is anything to rank by (else: filters only, newest
    /// first).
    pub fn has_words(&self) -> bool {
        !self.all.is_empty()
    }
}

/// One lexical piece of the query.
#[derive(Debug)]
enum Piece {
    Or(usize),
    Word {
        text: String,
        negated: bool,
    },
    Phrase {
        text: String,
        negated: bool,
        col: usize,
    },
    Filter(Filter),
}

/// Parse a query (see the module doc).
pub fn parse(input: &str) -> Result<Query, QueryError> {
    if input.chars().count() > MAX_QUERY_CHARS {
        return Err(err(
            MAX_QUERY_CHARS,
            format!("the query is longer than {MAX_QUERY_CHARS} characters"),
        ));
    }
    let pieces = lex(input)?;
    let mut q = Query::default();
    let mut i = 0;
    let mut terms = 0usize;
    while i < pieces.len() {
        match &pieces[i] {
            Piece::Or(col) => {
                return Err(err(*col, "OR needs a word or phrase on each side"));
            }
            Piece::Filter(f) => {
                if matches!(pieces.get(i + 1), Some(Piece::Or(_))) {
                    return Err(err(f.column - 1, "OR joins words and phrases, not filters"));
                }
                q.filters.push(f.clone());
                i += 1;
            }
            Piece::Word { negated: true, .. } | Piece::Phrase { negated: true, .. } => {
                if let Some(Piece::Or(col)) = pieces.get(i + 1) {
                    return Err(err(*col, "OR cannot join an exclusion"));
                }
                if let Some(t) = term(&pieces[i])? {
                    q.none.push(t);
                    terms += 1;
                }
                i += 1;
            }
            _ => {
                let mut group = Vec::new();
                if let Some(t) = term(&pieces[i])? {
                    group.push(t);
                }
                i += 1;
                while let Some(Piece::Or(col)) = pieces.get(i) {
                    match pieces.get(i + 1) {
                        Some(
                            p @ (Piece::Word { negated: false, .. }
                            | Piece::Phrase { negated: false, .. }),
                        ) => {
                            if let Some(t) = term(p)? {
                                group.push(t);
                            }
                            i += 2;
                        }
                        Some(Piece::Filter(_)) => {
                            return Err(err(*col, "OR joins words and phrases, not filters"));
                        }
                        Some(_) => return Err(err(*col, "OR cannot join an exclusion")),
                        None => return Err(err(*col, "OR needs a word or phrase on each side")),
                    }
                }
                terms += group.len();
                if !group.is_empty() {
                    q.all.push(group);
                }
            }
        }
        if terms > MAX_TERMS {
            return Err(err(0, format!("at most {MAX_TERMS} words and phrases")));
        }
    }
    if q.all.is_empty() && q.filters.is_empty() {
        return Err(err(
            0,
            if q.none.is_empty() {
                "the query has no words to search for"
            } else {
                "a query needs a word, a phrase or a filter besides exclusions"
            },
        ));
    }
    Ok(q)
}

fn term(p: &Piece) -> Result<Option<Term>, QueryError> {
    Ok(match p {
        Piece::Word { text, .. } => {
            let terms = query_terms(text);
            (!terms.is_empty()).then(|| Term {
                raw: text.clone(),
                terms,
                phrase: None,
            })
        }
        Piece::Phrase { text, col, .. } => {
            let terms = query_terms(text);
            if terms.is_empty() {
                return Err(err(*col, "the phrase has no words"));
            }
            Some(Term {
                raw: text.clone(),
                terms,
                phrase: Some(normalize_for_phrase(text)),
            })
        }
        _ => None,
    })
}

fn lex(input: &str) -> Result<Vec<Piece>, QueryError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let negated = chars[i] == '-';
        if negated {
            i += 1;
            if i >= chars.len() || chars[i].is_whitespace() {
                return Err(err(start, "`-` must come right before what it excludes"));
            }
        }
        if chars[i] == '"' {
            let (text, next) = quoted(&chars, i)?;
            out.push(Piece::Phrase {
                text,
                negated,
                col: start,
            });
            i = next;
            continue;
        }
        // A bare word, maybe `name:value`.
        let mut j = i;
        while j < chars.len() && !chars[j].is_whitespace() && chars[j] != '"' {
            if chars[j] == ':' {
                break;
            }
            j += 1;
        }
        let head: String = chars[i..j].iter().collect();
        if j < chars.len()
            && chars[j] == ':'
            && let Some(name) = FilterName::parse(&head)
        {
            let vstart = j + 1;
            let (value, next) = if chars.get(vstart) == Some(&'"') {
                quoted(&chars, vstart)?
            } else {
                let mut k = vstart;
                while k < chars.len() && !chars[k].is_whitespace() {
                    k += 1;
                }
                (chars[vstart..k].iter().collect(), k)
            };
            let value = value.trim().to_lowercase();
            if value.is_empty() {
                return Err(err(start, format!("`{}:` needs a value", name.as_str())));
            }
            out.push(Piece::Filter(filter(name, value, negated, start)?));
            i = next;
            continue;
        }
        // Not a filter: the word runs to the next space or quote.
        while j < chars.len() && !chars[j].is_whitespace() && chars[j] != '"' {
            j += 1;
        }
        let text: String = chars[i..j].iter().collect();
        if text == "OR" && !negated {
            out.push(Piece::Or(start));
        } else {
            out.push(Piece::Word { text, negated });
        }
        i = j;
    }
    Ok(out)
}

/// The text between the quote at `open` and its closing quote, and the
/// index after it.
fn quoted(chars: &[char], open: usize) -> Result<(String, usize), QueryError> {
    let mut k = open + 1;
    while k < chars.len() && chars[k] != '"' {
        k += 1;
    }
    if k >= chars.len() {
        return Err(err(open, "this quote is never closed"));
    }
    Ok((chars[open + 1..k].iter().collect(), k + 1))
}

fn filter(
    name: FilterName,
    value: String,
    negated: bool,
    col: usize,
) -> Result<Filter, QueryError> {
    let mut f = Filter {
        name,
        value,
        negated,
        column: col + 1,
        date: None,
        has: None,
    };
    match name {
        FilterName::Before | FilterName::After => {
            if negated {
                return Err(err(col, format!("`{}:` cannot be negated", name.as_str())));
            }
            f.date = Some(
                parse_date(&f.value, name == FilterName::Before).ok_or_else(|| {
                    err(
                        col,
                        format!(
                            "`{}:{}` is not a date: use YYYY, YYYY-MM or YYYY-MM-DD",
                            name.as_str(),
                            f.value
                        ),
                    )
                })?,
            );
        }
        FilterName::Has => {
            f.has = Some(match f.value.as_str() {
                "video" | "videos" => Has::Video,
                "image" | "images" | "photo" | "photos" => Has::Images,
                other => {
                    return Err(err(
                        col,
                        format!("`has:{other}`: use has:video or has:images"),
                    ));
                }
            });
        }
        _ => {}
    }
    Ok(f)
}

/// `before:` excludes the day (month, year) it names and everything after;
/// `after:` includes everything from the day after it (`after:2025-12`
/// means from 2026-01-01). Returned: the first excluded day (before) or
/// the first included day (after).
fn parse_date(v: &str, before: bool) -> Option<NaiveDate> {
    let parts: Vec<&str> = v.split('-').collect();
    let num = |s: &str| s.parse::<u32>().ok();
    match parts.as_slice() {
        [y] if y.len() == 4 => {
            let y = num(y)? as i32;
            if before {
                NaiveDate::from_ymd_opt(y, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)
            }
        }
        [y, m] if y.len() == 4 => {
            let (y, m) = (num(y)? as i32, num(m)?);
            let first = NaiveDate::from_ymd_opt(y, m, 1)?;
            if before {
                Some(first)
            } else {
                first.checked_add_months(chrono::Months::new(1))
            }
        }
        [y, m, d] if y.len() == 4 => {
            let day = NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, num(d)?)?;
            if before { Some(day) } else { day.succ_opt() }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_exclusions_and_or() {
        let q = parse(r#"rust "exact phrase" -java cats OR dogs"#).unwrap();
        assert_eq!(q.all.len(), 3);
        assert_eq!(q.all[0][0].terms, ["rust"]);
        assert_eq!(q.all[1][0].phrase.as_deref(), Some("exact phrase"));
        assert_eq!(q.all[2].len(), 2);
        assert_eq!(q.all[2][1].terms, ["dog"]);
        assert_eq!(q.none[0].terms, ["java"]);
    }

    #[test]
    fn filters() {
        let q = parse("platform:Twitter -tag:spam author:\"Jack D\" after:2025-12 has:images x")
            .unwrap();
        assert_eq!(q.filters.len(), 5);
        assert_eq!(q.filters[0].value, "twitter");
        assert!(q.filters[1].negated);
        assert_eq!(q.filters[2].value, "jack d");
        assert_eq!(q.filters[3].date, NaiveDate::from_ymd_opt(2026, 1, 1));
        assert_eq!(q.filters[4].has, Some(Has::Images));
        let q = parse("Upstream:Deleted -upstream:live").unwrap();
        assert_eq!(q.filters[0].name, FilterName::Upstream);
        assert_eq!(q.filters[0].value, "deleted");
        assert!(q.filters[1].negated);
        // Filters alone are a query; a URL is a word.
        assert!(parse("tag:music").unwrap().all.is_empty());
        assert_eq!(parse("https://x.com").unwrap().all.len(), 1);
    }

    #[test]
    fn bad_syntax_says_where() {
        for (q, col) in [
            ("a \"open", 3),
            ("OR a", 1),
            ("a OR", 3),
            ("a - b", 3),
            ("before:yesterday", 1),
            ("x has:audio", 3),
            ("tag:", 1),
            ("-a", 1),
            ("a OR -b", 3),
            ("\"!!\"", 1),
            ("", 1),
        ] {
            let e = parse(q).expect_err(q);
            assert_eq!(e.column, col, "{q}: {e}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("2026", true),
            NaiveDate::from_ymd_opt(2026, 1, 1)
        );
        assert_eq!(
            parse_date("2026-02-28", false),
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        assert_eq!(parse_date("2026-13", true), None);
    }
}
