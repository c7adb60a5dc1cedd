//! The formats `import` reads, each to the same [`Entry`] list: what the
//! file says about each link (its text, tags, note, original time) and the
//! line it came from.

mod bookmarks;
mod json;
mod karakeep;
mod linkwarden;
mod list;
mod omnivore;
mod pocket;

pub use bookmarks::parse_bookmarks;
pub use karakeep::parse_karakeep;
pub use linkwarden::parse_linkwarden;
pub use list::parse_list;
pub use omnivore::parse_omnivore;
pub use pocket::{csv_cell, parse_pocket};

use chrono::{DateTime, Utc};

/// One link to import, with where it came from in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The line of the file it came from (1-based).
    pub line: usize,
    pub text: String,
    pub tags: Vec<String>,
    pub note: Option<String>,
    /// When the user saved the link in the tool they come from, when the
    /// format says (bookmarks `ADD_DATE`, Pocket `time_added`, …).
    #[allow(
        dead_code,
        reason = "the submission loop carries it into the stored source"
    )]
    pub added_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Bookmarks,
    Pocket,
    Karakeep,
    Linkwarden,
    Omnivore,
    /// JSON that is none of the above.
    UnknownJson,
    List,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Bookmarks => "browser bookmarks",
            Format::Pocket => "Pocket CSV",
            Format::Karakeep => "Karakeep JSON",
            Format::Linkwarden => "Linkwarden JSON",
            Format::Omnivore => "Omnivore JSON",
            Format::UnknownJson => "JSON",
            Format::List => "list of links",
        }
    }

    /// The entries of `text` in this format; a malformed file is an error
    /// naming its line (or JSON path).
    pub fn parse(self, text: &str) -> Result<Vec<Entry>, String> {
        match self {
            Format::Bookmarks => Ok(parse_bookmarks(text)),
            Format::Pocket => parse_pocket(text),
            Format::List => Ok(parse_list(text)),
            Format::Karakeep | Format::Linkwarden | Format::Omnivore | Format::UnknownJson => {
                let doc: serde_json::Value =
                    serde_json::from_str(text.trim_start_matches('\u{feff}'))
                        .map_err(|e| json::syntax(&e))?;
                match self {
                    Format::Karakeep => parse_karakeep(&doc),
                    Format::Linkwarden => parse_linkwarden(&doc),
                    Format::Omnivore => parse_omnivore(&doc),
                    _ => Err(
                        "$: JSON, but not an export this reads (Karakeep: `bookmarks`; \
                              Linkwarden: `collections`; Omnivore: an array of articles with \
                              `url` and `savedAt`)"
                            .to_owned(),
                    ),
                }
            }
        }
    }
}

pub fn detect(text: &str) -> Format {
    let head = text.trim_start_matches('\u{feff}').trim_start();
    let first = head.lines().next().unwrap_or("").to_ascii_lowercase();
    if head.starts_with('{') || head.starts_with('[') {
        return detect_json(head);
    }
    if first.contains("netscape-bookmark-file") || head.to_ascii_lowercase().contains("<dt><a ") {
        Format::Bookmarks
    } else if first.starts_with("title,url,") {
        Format::Pocket
    } else {
        Format::List
    }
}

/// Which JSON export, by its shape (a file that is not JSON at all is
/// [`Format::UnknownJson`], whose parse names the syntax error).
fn detect_json(text: &str) -> Format {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else {
        return Format::UnknownJson;
    };
    if doc.get("bookmarks").is_some() {
        Format::Karakeep
    } else if doc.get("collections").is_some() {
        Format::Linkwarden
    } else if doc.as_array().is_some_and(|a| {
        a.iter()
            .all(|x| x.get("url").is_some() && x.get("savedAt").is_some())
    }) {
        Format::Omnivore
    } else {
        Format::UnknownJson
    }
}

/// A tag from a folder name or a tag word: lower-cased, spaces as `-`.
pub(super) fn tag_of(s: &str) -> Option<String> {
    let t: String = s
        .trim()
        .trim_start_matches('#')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .to_lowercase();
    (!t.is_empty()).then_some(t)
}

/// A time given as Unix seconds (a string of digits), if it is one.
pub(super) fn unix_time(s: &str) -> Option<DateTime<Utc>> {
    let secs: i64 = s.trim().parse().ok()?;
    DateTime::from_timestamp(secs, 0).filter(|_| secs > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected() {
        assert_eq!(
            detect("<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL>"),
            Format::Bookmarks
        );
        assert_eq!(detect("title,url,time_added,tags,status\n"), Format::Pocket);
        assert_eq!(detect("https://x.com/jack/status/20\n"), Format::List);
        assert_eq!(detect(r#"{"bookmarks": []}"#), Format::Karakeep);
        assert_eq!(
            detect(r#"{"id": 1, "collections": []}"#),
            Format::Linkwarden
        );
        assert_eq!(
            detect(r#"[{"url": "https://e.org", "savedAt": "2024-01-01T00:00:00Z"}]"#),
            Format::Omnivore
        );
        assert_eq!(detect(r#"{"a": 1"#), Format::UnknownJson);
    }

    #[test]
    fn unix_times() {
        assert_eq!(
            unix_time("1700000000").map(|t| t.to_rfc3339()),
            Some("2023-11-14T22:13:20+00:00".to_owned())
        );
        assert_eq!(unix_time(""), None);
        assert_eq!(unix_time("0"), None);
    }
}
