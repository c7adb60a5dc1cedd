//! The Netscape bookmark file every browser exports
//! (`<!DOCTYPE NETSCAPE-Bookmark-file-1>`): each `<A HREF>` is a link, its
//! `TAGS` attribute and the folders (`<H3>`) around it become tags, a
//! `<DD>` after it its note, `ADD_DATE` (Unix seconds) its original time.

use super::{Entry, tag_of, unix_time};

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The value of `name="…"` in a tag's attributes (case-insensitive name).
fn attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[at..].find('"')? + at;
    Some(unescape(&tag[at..end]))
}

/// Netscape bookmark file: links with their folders and tags as tags.
pub fn parse_bookmarks(text: &str) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut folders: Vec<String> = Vec::new();
    let mut pending_folder: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let l = line.trim();
        let lower = l.to_ascii_lowercase();
        if let Some(at) = lower.find("<h3") {
            let name = l[at..]
                .split_once('>')
                .map(|(_, rest)| rest.split("</").next().unwrap_or(rest))
                .unwrap_or("");
            pending_folder = Some(unescape(name));
        } else if lower.starts_with("<dl") {
            folders.push(pending_folder.take().unwrap_or_default());
        } else if lower.starts_with("</dl") {
            folders.pop();
        } else if let Some(at) = lower.find("<a ") {
            let tag = &l[at..];
            let Some(href) = attr(tag, "href") else {
                continue;
            };
            let mut tags: Vec<String> = folders.iter().filter_map(|f| tag_of(f)).collect();
            if let Some(t) = attr(tag, "tags") {
                tags.extend(t.split(',').filter_map(tag_of));
            }
            tags.dedup();
            out.push(Entry {
                line: n + 1,
                text: href,
                tags,
                note: None,
                added_at: attr(tag, "add_date").and_then(|d| unix_time(&d)),
            });
        } else if let Some(rest) = l.strip_prefix("<DD>").or_else(|| l.strip_prefix("<dd>"))
            && let Some(last) = out.last_mut().filter(|e| e.note.is_none())
        {
            let note = unescape(rest.trim());
            last.note = (!note.is_empty()).then_some(note);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_folders_tags_notes_and_times() {
        let html = "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<DL><p>\n<DT><H3>Read Later</H3>\n<DL><p>\n\
                    <DT><A HREF=\"https://x.com/a/status/1\" ADD_DATE=\"1700000004\" TAGS=\"a,b c\">t</A>\n\
                    <DD>a &amp; b\n</DL><p>\n</DL>\n";
        let e = parse_bookmarks(html);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 5);
        assert_eq!(e[0].tags, ["read-later", "a", "b-c"]);
        assert_eq!(e[0].note.as_deref(), Some("a & b"));
        assert_eq!(e[0].added_at.map(|t| t.timestamp()), Some(1_700_000_004));
    }
}
