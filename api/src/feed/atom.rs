//! Atom (RFC 4287): the feed's required `id`, `title`, `updated` and
//! `link rel="self"`; per entry `id`, `title`, `updated`, the full HTML as
//! `content type="html"`, every archived file as `link rel="enclosure"`;
//! `link rel="next"` pages to older entries (RFC 5005).

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Channel, Entry, clip, xml_escape as x};

const SUMMARY_CHARS: usize = 500;

fn when(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn render(ch: &Channel, entries: &[Entry]) -> String {
    let mut out = String::with_capacity(4096 + entries.len() * 2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    let _ = writeln!(out, "<id>{}</id>", x(&ch.id));
    let _ = writeln!(out, "<title>{}</title>", x(&ch.title));
    let _ = writeln!(out, "<subtitle>{}</subtitle>", x(&ch.description));
    let _ = writeln!(out, "<updated>{}</updated>", when(ch.updated));
    out.push_str("<generator>VaultStream</generator>\n");
    let _ = writeln!(
        out,
        "<link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>",
        x(&ch.self_url)
    );
    let _ = writeln!(
        out,
        "<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
        x(&ch.home_url)
    );
    if let Some(next) = &ch.next_url {
        let _ = writeln!(
            out,
            "<link rel=\"next\" type=\"application/atom+xml\" href=\"{}\"/>",
            x(next)
        );
    }
    for e in entries {
        out.push_str("<entry>\n");
        let _ = writeln!(out, "<id>{}</id>", x(&e.id));
        let _ = writeln!(out, "<title type=\"text\">{}</title>", x(&e.title));
        let _ = writeln!(out, "<updated>{}</updated>", when(e.updated));
        let _ = writeln!(out, "<published>{}</published>", when(e.published));
        let _ = writeln!(
            out,
            "<link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
            x(&e.link)
        );
        // Atom requires an author on each entry when the feed has none.
        out.push_str("<author>");
        let _ = write!(
            out,
            "<name>{}</name>",
            x(e.author.as_deref().unwrap_or("unknown"))
        );
        if let Some(u) = &e.author_url {
            let _ = write!(out, "<uri>{}</uri>", x(u));
        }
        out.push_str("</author>\n");
        for t in &e.tags {
            let _ = writeln!(out, "<category term=\"{}\"/>", x(t));
        }
        let _ = writeln!(
            out,
            "<summary type=\"text\">{}</summary>",
            x(&clip(&e.text, SUMMARY_CHARS))
        );
        let _ = writeln!(out, "<content type=\"html\">{}</content>", x(&e.html));
        for m in &e.enclosures {
            let length = m
                .bytes
                .filter(|b| *b > 0)
                .map(|b| format!(" length=\"{b}\""))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<link rel=\"enclosure\" type=\"{}\" href=\"{}\"{length}/>",
                x(&m.mime),
                x(&m.url)
            );
        }
        out.push_str("</entry>\n");
    }
    out.push_str("</feed>\n");
    out
}
