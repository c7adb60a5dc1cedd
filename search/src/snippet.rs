//! Highlighted snippets, made here (not by the databases) from the
//! original text, so they look the same on SQLite and PostgreSQL and show
//! the text as written (a database's own snippet of our pre-tokenised
//! column would show terms, not sentences).

use std::collections::HashSet;

use crate::tokenize::tokenize;

/// Opening and closing marks around a match in a snippet.
pub const MARK_OPEN: &str = "<mark>";
pub const MARK_CLOSE: &str = "</mark>";

/// HTML-escape `s` (text from strangers on the internet).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The byte ranges of `text` where any of `terms` occurs, merged.
pub fn matches(text: &str, terms: &HashSet<String>) -> Vec<(usize, usize)> {
    let mut spans: Vec<(usize, usize)> = tokenize(text)
        .into_iter()
        .filter(|t| terms.contains(&t.term))
        .map(|t| (t.start, t.end))
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// A snippet of about `width` characters of `text` around its best run of
/// matches, HTML-escaped, matches wrapped in `<mark>`, `…` where text was
/// cut. `None` when nothing matches.
pub fn snippet(text: &str, terms: &HashSet<String>, width: usize) -> Option<String> {
    let spans = matches(text, terms);
    if spans.is_empty() {
        return None;
    }
    // The window start that covers the most matches: try each match as the
    // window's first, a little context before it.
    let char_at = |byte: usize| text[..byte].chars().count();
    let total = text.chars().count();
    let mut best = (0usize, 0usize); // (count, first span index)
    for i in 0..spans.len() {
        let first = char_at(spans[i].0);
        let covered = spans[i..]
            .iter()
            .take_while(|s| char_at(s.1) <= first + width)
            .count();
        if covered > best.0 {
            best = (covered, i);
        }
    }
    let first = char_at(spans[best.1].0);
    let lead = width / 6;
    let start_char = first.saturating_sub(lead);
    let end_char = (start_char + width).min(total);
    let byte_of = |ch: usize| text.char_indices().nth(ch).map_or(text.len(), |(b, _)| b);
    let (start, end) = (byte_of(start_char), byte_of(end_char));
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for &(s, e) in spans.iter().filter(|(s, e)| *e > start && *s < end) {
        let (s, e) = (s.max(start), e.min(end));
        out.push_str(&escape_html(&text[at..s]));
        out.push_str(MARK_OPEN);
        out.push_str(&escape_html(&text[s..e]));
        out.push_str(MARK_CLOSE);
        at = e;
    }
    out.push_str(&escape_html(&text[at..end]));
    if end < text.len() {
        out.push('…');
    }
    // Line breaks become spaces: a snippet is one line.
    Some(out.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[&str]) -> HashSet<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn marks_matches_and_escapes_the_rest() {
        let s = snippet("<b>Rust</b> & rusty cats", &set(&["rust", "cat"]), 100).unwrap();
        assert_eq!(
            s,
            "&lt;b&gt;<mark>Rust</mark>&lt;/b&gt; &amp; rusty <mark>cats</mark>"
        );
    }

    #[test]
    fn chinese_matches_in_the_original_script() {
        let s = snippet("我們在臺灣坐地鐵", &set(&["地铁"]), 100).unwrap();
        assert!(s.contains("<mark>地鐵</mark>"), "{s}");
    }

    #[test]
    fn long_texts_are_cut_around_the_match() {
        let text = format!("{} needle {}", "word ".repeat(200), "tail ".repeat(200));
        let s = snippet(&text, &set(&["needle"]), 60).unwrap();
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>needle</mark>"));
        assert!(s.chars().count() < 120, "{s}");
        assert_eq!(snippet("nothing here", &set(&["x"]), 60), None);
    }
}
