//! Feeds as documents: an item becomes an [`Entry`] once ([`entry`]), and
//! each format writes entries its own way: [`rss`] (RSS 2.0), [`atom`]
//! (Atom, RFC 4287) and [`json`] (JSON Feed 1.1).
//!
//! Item texts are written by strangers. Every text goes through
//! [`html_escape`] when it becomes part of an entry's HTML, and every value
//! goes through [`xml_escape`] (which also drops the characters XML 1.0
//! cannot carry) when it is written into XML; JSON is written by serde.
//! An entry names only public links (the item's canonical URL, its
//! author's page) and this server's blob URLs with the feed's token: no
//! original media URL (often a signed CDN link), no submission (who shared
//! it, from where), no error detail.

pub mod atom;
pub mod json;
pub mod rss;

use chrono::{DateTime, Utc};
use vaultstream_core::content::{ContentView, MediaView};

/// The feed as a whole.
#[derive(Debug, Clone)]
pub struct Channel {
    /// A stable IRI for the feed (its operator URL, without a token).
    pub id: String,
    pub title: String,
    pub description: String,
    /// This page, token included (what the reader fetched).
    pub self_url: String,
    /// The next (older) page, when there is one.
    pub next_url: Option<String>,
    /// A page for humans: the library.
    pub home_url: String,
    /// The newest change among the entries (the feed's creation when empty).
    pub updated: DateTime<Utc>,
}

/// An archived file attached to an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Enclosure {
    pub url: String,
    pub mime: String,
    pub bytes: Option<i64>,
    /// `image`, `cover` or `video`.
    pub role: String,
}

/// One item as every format needs it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// A stable, unique IRI: the item's canonical URL.
    pub id: String,
    pub title: String,
    pub link: String,
    pub author: Option<String>,
    pub author_url: Option<String>,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// The plain text (for summaries).
    pub text: String,
    /// The full text with its images inline, as HTML.
    pub html: String,
    pub tags: Vec<String>,
    pub enclosures: Vec<Enclosure>,
}

/// `&`, `<`, `>`, `"` and `'` as entities: safe in HTML text and quoted
/// attributes.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Whether XML 1.0 may carry this character at all (§2.2 `Char`).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Escape for XML text and attribute values; characters XML cannot carry
/// (control characters, U+FFFE/U+FFFF) are dropped.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars().filter(|c| xml_char(*c)) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text as HTML paragraphs: blank lines separate paragraphs, single
/// newlines become `<br>`.
fn paragraphs(text: &str, out: &mut String) {
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        let lines: Vec<String> = para.lines().map(html_escape).collect();
        out.push_str(&lines.join("<br>"));
        out.push_str("</p>");
    }
}

fn media_html(m: &MediaView, url: &str, out: &mut String) {
    let url = html_escape(url);
    let size = match (m.width, m.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => format!(" width=\"{w}\" height=\"{h}\""),
        _ => String::new(),
    };
    if m.role == "video" {
        out.push_str(&format!(
            "<p><video controls preload=\"none\" src=\"{url}\"{size}></video><br><a href=\"{url}\">video</a></p>"
        ));
    } else {
        out.push_str(&format!("<p><img src=\"{url}\" alt=\"\"{size}></p>"));
    }
}

/// An item (as `contents::get` gives it: with media and parts) as an
/// entry. `blob_url` turns an archived file's path (`/blobs/...`) into the
/// absolute URL a reader may load (with the feed's token).
pub fn entry(view: &ContentView, blob_url: impl Fn(&str) -> String) -> Entry {
    let media: &[MediaView] = view.media.as_deref().unwrap_or_default();
    let archived = |m: &&MediaView| m.url.is_some();
    let mut html = String::new();
    if view.parts.is_empty() {
        paragraphs(view.text.as_deref().unwrap_or_default(), &mut html);
        for m in media.iter().filter(archived) {
            media_html(
                m,
                &blob_url(m.url.as_deref().unwrap_or_default()),
                &mut html,
            );
        }
    } else {
        if let Some(text) = view.text.as_deref().filter(|t| !t.trim().is_empty()) {
            paragraphs(text, &mut html);
        }
        // Files of no part (the item's own) first, then each part's.
        for m in media.iter().filter(|m| m.part.is_none()).filter(archived) {
            media_html(
                m,
                &blob_url(m.url.as_deref().unwrap_or_default()),
                &mut html,
            );
        }
        for part in &view.parts {
            html.push_str("<hr>");
            if let Some(t) = part.title.as_deref().filter(|t| !t.is_empty()) {
                html.push_str(&format!("<h3>{}</h3>", html_escape(t)));
            }
            paragraphs(part.text.as_deref().unwrap_or_default(), &mut html);
            for m in part.media.iter().filter(archived) {
                media_html(
                    m,
                    &blob_url(m.url.as_deref().unwrap_or_default()),
                    &mut html,
                );
            }
        }
    }
    html.push_str(&format!(
        "<p><a href=\"{}\">{}</a></p>",
        html_escape(&view.canonical_url),
        html_escape(&view.canonical_url)
    ));
    let enclosures = media
        .iter()
        .filter_map(|m| {
            let url = m.url.as_deref()?;
            Some(Enclosure {
                url: blob_url(url),
                mime: m
                    .mime
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".to_owned()),
                bytes: m.bytes,
                role: m.role.clone(),
            })
        })
        .collect();
    let author = view.author.as_ref();
    Entry {
        id: view.canonical_url.clone(),
        title: view.display_title.clone(),
        link: view.canonical_url.clone(),
        author: author.and_then(|a| a.name.clone().or_else(|| a.id.clone())),
        author_url: author
            .and_then(|a| a.url.clone())
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        published: view
            .published_at
            .or(view.pulled_at)
            .unwrap_or(view.created_at),
        updated: view.updated_at,
        text: view.text.clone().unwrap_or_default(),
        html,
        tags: view.tags.clone(),
        enclosures,
    }
}

/// The first `max` characters of `s`, cut at a character boundary.
pub fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escape_drops_what_xml_cannot_carry() {
        assert_eq!(
            xml_escape("a<b>&\"c'\u{0}\u{1b}\u{FFFE}d\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;d\n"
        );
        assert_eq!(
            html_escape("<img onerror='x'>"),
            "&lt;img onerror=&#39;x&#39;&gt;"
        );
    }

    #[test]
    fn paragraphs_and_line_breaks() {
        let mut out = String::new();
        paragraphs("one\ntwo\n\n<three>", &mut out);
        assert_eq!(out, "<p>one<br>two</p><p>&lt;three&gt;</p>");
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("中文字", 2), "中文…");
        assert_eq!(clip("ab", 2), "ab");
    }
}
