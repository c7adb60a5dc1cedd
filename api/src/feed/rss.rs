//! RSS 2.0 (<https://www.rssboard.org/rss-specification>): the channel's
//! required `title`, `link` and `description`; per item a `guid` (the
//! canonical URL, a permalink), the full HTML in `content:encoded` and a
//! summary in `description`; one `enclosure` (RSS allows one: the first
//! video, else the first picture), and `atom:link` for `self` and `next`
//! (the paging of RFC 5005, borrowed from Atom as RSS readers expect).

use std::fmt::Write as _;

use super::{Channel, Entry, clip, xml_escape as x};

/// How much plain text an item's `description` carries.
const SUMMARY_CHARS: usize = 500;

pub fn render(ch: &Channel, entries: &[Entry]) -> String {
    let mut out = String::with_capacity(4096 + entries.len() * 2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(
        "<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n",
    );
    let _ = writeln!(out, "<title>{}</title>", x(&ch.title));
    let _ = writeln!(out, "<link>{}</link>", x(&ch.home_url));
    let _ = writeln!(out, "<description>{}</description>", x(&ch.description));
    let _ = writeln!(
        out,
        "<lastBuildDate>{}</lastBuildDate>",
        ch.updated.to_rfc2822()
    );
    out.push_str("<generator>VaultStream</generator>\n");
    let _ = writeln!(
        out,
        "<atom:link rel=\"self\" type=\"application/rss+xml\" href=\"{}\"/>",
        x(&ch.self_url)
    );
    if let Some(next) = &ch.next_url {
        let _ = writeln!(
            out,
            "<atom:link rel=\"next\" type=\"application/rss+xml\" href=\"{}\"/>",
            x(next)
        );
    }
    for e in entries {
        out.push_str("<item>\n");
        let _ = writeln!(out, "<title>{}</title>", x(&e.title));
        let _ = writeln!(out, "<link>{}</link>", x(&e.link));
        let _ = writeln!(out, "<guid isPermaLink=\"true\">{}</guid>", x(&e.id));
        let _ = writeln!(out, "<pubDate>{}</pubDate>", e.published.to_rfc2822());
        if let Some(a) = &e.author {
            // RSS's own <author> must be an e-mail address; Dublin Core's
            // creator takes a name.
            let _ = writeln!(out, "<dc:creator>{}</dc:creator>", x(a));
        }
        for t in &e.tags {
            let _ = writeln!(out, "<category>{}</category>", x(t));
        }
        let _ = writeln!(
            out,
            "<description>{}</description>",
            x(&super::html_escape(&clip(&e.text, SUMMARY_CHARS)))
        );
        let _ = writeln!(out, "<content:encoded>{}</content:encoded>", x(&e.html));
        let first = e
            .enclosures
            .iter()
            .find(|m| m.role == "video")
            .or_else(|| e.enclosures.first());
        if let Some(m) = first {
            let _ = writeln!(
                out,
                "<enclosure url=\"{}\" length=\"{}\" type=\"{}\"/>",
                x(&m.url),
                m.bytes.unwrap_or(0).max(0),
                x(&m.mime)
            );
        }
        out.push_str("</item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
}
