//! The body of a message: an item's text, a whole post's parts, or an
//! article's summary — plain text (the caller escapes it) within a budget
//! of visible UTF-16 units, cut at a part or word boundary when it does
//! not fit.

use vaultstream_core::content::{ContentView, PartView};

use super::visible_len;

/// How much of an article's text its message shows.
pub const SUMMARY_CHARS: usize = 300;
/// Blank line between parts.
const SEP: &str = "\n\n";
const ELLIPSIS: &str = "…";
/// A part cut to less than this is dropped instead (a stub of a few words
/// reads worse than the "…" alone).
const MIN_CUT: usize = 40;

/// What the body of an item's message says, at most `budget` units.
pub fn body(item: &ContentView, budget: usize) -> Option<String> {
    let title = item.title.as_deref().map(str::trim);
    let text = item
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty() && Some(*t) != title);
    let out = if item.kind == "article" {
        // A teaser: one paragraph (the article's headings and breaks run
        // together), its first ~300 characters.
        text.map(|t| {
            let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
            cut_words(&flat, budget.min(SUMMARY_CHARS))
        })
    } else if item.kind == "thread" || !item.parts.is_empty() {
        parts_body(item, text, budget)
    } else {
        text.map(|t| cut_words(t, budget))
    };
    out.filter(|t| !t.is_empty() && t != ELLIPSIS)
}

/// One part as a line: `2/12 text`, with the part's author when it has
/// its own (the original of a repost), its title when it has no text (an
/// episode of a season).
fn part_line(p: &PartView, n: usize) -> Option<String> {
    let text = p
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .or_else(|| p.title.as_deref().map(str::trim).filter(|t| !t.is_empty()))?;
    let by = p
        .author
        .as_ref()
        .and_then(|a| a.name.as_deref().or(a.id.as_deref()))
        .map(|a| format!("{a}: "))
        .unwrap_or_default();
    let mark = if p.shared && n > 1 { " ▸" } else { "" };
    Some(format!("{}/{n}{mark} {by}{text}", p.index + 1))
}

/// The parts in order, numbered; for a whole post that is not a thread
/// (a season, a multi-part video) its own text first when no part says
/// it. Whole parts while they fit; then the next part cut at a word
/// boundary when enough of it fits, and "…".
fn parts_body(item: &ContentView, text: Option<&str>, budget: usize) -> Option<String> {
    let n = item.parts.len();
    let mut pieces: Vec<String> = Vec::new();
    let said_by_a_part = |t: &str| {
        item.parts
            .iter()
            .any(|p| p.text.as_deref().map(str::trim) == Some(t))
    };
    if let Some(t) = text.filter(|t| item.kind != "thread" && !said_by_a_part(t)) {
        pieces.push(t.to_owned());
    }
    pieces.extend(item.parts.iter().filter_map(|p| part_line(p, n)));
    if pieces.is_empty() {
        // A thread whose parts hold no text: its own text, if any.
        return text.map(|t| cut_words(t, budget));
    }
    let total: usize = pieces.iter().map(|p| visible_len(p)).sum::<usize>()
        + visible_len(SEP) * (pieces.len() - 1);
    if total <= budget {
        return Some(pieces.join(SEP));
    }
    // Room kept for the closing "\n\n…".
    let room = budget.saturating_sub(visible_len(SEP) + visible_len(ELLIPSIS));
    let mut out = String::new();
    let mut used = 0;
    for piece in &pieces {
        let sep = if out.is_empty() { 0 } else { visible_len(SEP) };
        let len = visible_len(piece);
        if used + sep + len <= room {
            if sep > 0 {
                out.push_str(SEP);
            }
            out.push_str(piece);
            used += sep + len;
            continue;
        }
        // This part does not fit whole: as much of it as fits, cut at a
        // word, when that is a readable amount (always for the first).
        let left = budget.saturating_sub(used + sep);
        if out.is_empty() || left >= MIN_CUT {
            let cut = cut_words(piece, left);
            if !cut.is_empty() && cut != ELLIPSIS {
                if sep > 0 {
                    out.push_str(SEP);
                }
                out.push_str(&cut);
                return Some(out);
            }
        }
        break;
    }
    if out.is_empty() {
        return Some(cut_words(&pieces[0], budget));
    }
    out.push_str(SEP);
    out.push_str(ELLIPSIS);
    Some(out)
}

/// `text` within `budget` units: whole, or cut at the last word boundary
/// (white space) in the last third of what fits — else at a character,
/// as for Chinese — and ended with "…".
pub fn cut_words(text: &str, budget: usize) -> String {
    if visible_len(text) <= budget {
        return text.to_owned();
    }
    if budget == 0 {
        return String::new();
    }
    let room = budget - visible_len(ELLIPSIS);
    let mut end = 0; // byte offset of the cut
    let mut used = 0;
    let mut last_space: Option<(usize, usize)> = None; // (byte offset, units)
    for (i, c) in text.char_indices() {
        let w = c.len_utf16();
        if used + w > room {
            break;
        }
        if c.is_whitespace() {
            last_space = Some((i, used));
        }
        used += w;
        end = i + c.len_utf8();
    }
    if let Some((at, units)) = last_space
        && units * 3 >= room * 2
    {
        end = at;
    }
    format!("{}{ELLIPSIS}", text[..end].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_not_cut_in_half() {
        assert_eq!(
            cut_words("hello brave new world", 100),
            "hello brave new world"
        );
        assert_eq!(cut_words("hello brave new world", 17), "hello brave new…");
        // No space near the end: cut at a character.
        assert_eq!(cut_words("漢字漢字漢字", 4), "漢字漢…");
        assert_eq!(cut_words("a verylongwordthatgoeson", 10), "a verylon…");
        assert!(visible_len(&cut_words(&"😀 ".repeat(50), 11)) <= 11);
        assert_eq!(cut_words("x", 0), "");
    }
}
