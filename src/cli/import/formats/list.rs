//! A plain list: one link or share text per line, `#` comments and blank
//! lines skipped. A list carries no times.

use super::Entry;

/// One link or share text per line.
pub fn parse_list(text: &str) -> Vec<Entry> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(n, l)| Entry {
            line: n + 1,
            text: l.trim().to_owned(),
            tags: Vec::new(),
            note: None,
            added_at: None,
        })
        .collect()
}
