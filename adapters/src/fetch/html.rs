//! Rich text from upstreams: sanitise it, flatten it to plain text, pull out
//! its images, or build HTML from plain text.

use std::collections::HashSet;

use scraper::{ElementRef, Html, Node};
use url::Url;

/// Sanitised HTML (ammonia's defaults: no scripts, styles, event handlers or
/// `javascript:` links; images and links kept).
pub(crate) fn sanitise(html: &str) -> String {
    ammonia::clean(html)
}

/// Plain text from HTML. Block elements and `<br>` become line breaks;
/// bracketed emoji images (`<img alt="[doge]">` on Weibo) keep their alt text.
pub(crate) fn to_text(html: &str) -> String {
    let doc = Html::parse_fragment(html);
    let mut out = String::new();
    walk(doc.root_element(), &mut out);
    tidy(&out)
}

/// Text of one element (used by the web adapter on the main content).
pub(crate) fn element_text(el: ElementRef<'_>) -> String {
    let mut out = String::new();
    walk(el, &mut out);
    tidy(&out)
}

const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "tr",
    "table",
    "hr",
    "header",
    "footer",
    "main",
];

/// Elements whose text is never content.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "aside", "form", "button", "svg", "iframe",
];

fn walk(el: ElementRef<'_>, out: &mut String) {
    for child in el.children() {
        match child.value() {
            Node::Text(t) => {
                // HTML whitespace collapses; explicit breaks come from tags.
                let collapsed: String = t
                    .split(|c: char| c.is_ascii_whitespace())
                    .collect::<Vec<_>>()
                    .join(" ");
                out.push_str(&collapsed);
            }
            Node::Element(e) => {
                let name = e.name();
                if SKIPPED.contains(&name) {
                    continue;
                }
                let Some(child_el) = ElementRef::wrap(child) else {
                    continue;
                };
                match name {
                    "br" => out.push('\n'),
                    "img" => {
                        if let Some(alt) = e.attr("alt").filter(|a| a.starts_with('[')) {
                            out.push_str(alt);
                        }
                    }
                    _ if BLOCKS.contains(&name) => {
                        out.push('\n');
                        walk(child_el, out);
                        out.push('\n');
                    }
                    _ => walk(child_el, out),
                }
            }
            _ => {}
        }
    }
}

/// Trim each line, drop runs of blank lines (keep one for paragraphs).
fn tidy(s: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    let mut blank = false;
    for line in s.lines().map(str::trim) {
        if line.is_empty() {
            blank = !lines.is_empty();
            continue;
        }
        if blank {
            lines.push("");
            blank = false;
        }
        lines.push(line);
    }
    lines.join("\n")
}

/// `<img>` URLs in document order, absolute, without `data:` placeholders,
/// each once. Lazy-loading attributes win over `src`, which is often a
/// placeholder (Zhihu's `data-original`/`data-actualsrc`).
pub(crate) fn image_urls(html: &str, base: Option<&Url>) -> Vec<String> {
    let doc = Html::parse_fragment(html);
    images_in(doc.root_element(), base)
}

pub(crate) fn images_in(root: ElementRef<'_>, base: Option<&Url>) -> Vec<String> {
    image_refs(root, base).into_iter().map(|i| i.url).collect()
}

/// An `<img>` with the size its attributes declare.
pub(crate) struct ImageRef {
    pub url: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// [`images_in`] with each image's declared `width`/`height`.
pub(crate) fn image_refs(root: ElementRef<'_>, base: Option<&Url>) -> Vec<ImageRef> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for el in root.descendants().filter_map(ElementRef::wrap) {
        if el.value().name() != "img" {
            continue;
        }
        let e = el.value();
        let size = |a: &str| {
            e.attr(a)
                .and_then(|v| v.trim().trim_end_matches("px").parse::<u32>().ok())
        };
        let (width, height) = (size("width"), size("height"));
        // Spacer and tracking pixels declare themselves 1×1.
        let tiny = |a: &str| {
            e.attr(a)
                .is_some_and(|v| v.trim() == "1" || v.trim() == "0")
        };
        if tiny("width") || tiny("height") {
            continue;
        }
        let raw = ["data-original", "data-actualsrc", "data-src", "src"]
            .iter()
            .filter_map(|a| e.attr(a))
            .map(str::trim)
            .find(|v| !v.is_empty() && !v.starts_with("data:"));
        let Some(raw) = raw else { continue };
        let absolute = match base {
            Some(b) => b.join(raw).map(String::from).ok(),
            None => Url::parse(raw).ok().map(String::from),
        };
        if let Some(u) = absolute.filter(|u| u.starts_with("http"))
            && seen.insert(u.clone())
        {
            out.push(ImageRef {
                url: u,
                width,
                height,
            });
        }
    }
    out
}

pub(crate) fn escape(s: &str) -> String {
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

/// HTML for a plain-text body: paragraphs at blank lines, `<br>` inside.
pub(crate) fn text_to_html(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let lines: Vec<String> = p.lines().map(escape).collect();
            format!("<p>{}</p>", lines.join("<br>"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_html() {
        let html = r#"<p>one <b>two</b></p><p>three<br/>four</p><script>x()</script><span class="url-icon"><img alt="[doge]" src="e.png"></span>"#;
        assert_eq!(to_text(html), "one two\n\nthree\nfour\n[doge]");
    }

    #[test]
    fn sanitises() {
        let out = sanitise(
            r#"<p onclick="x()">hi<script>alert(1)</script><img src="https://a/b.jpg"></p>"#,
        );
        assert!(!out.contains("script") && !out.contains("onclick"), "{out}");
        assert!(out.contains(r#"<img src="https://a/b.jpg">"#), "{out}");
    }

    #[test]
    fn images_prefer_lazy_sources() {
        let html = r#"<noscript><img src="https://pic1.zhimg.com/a.jpg"></noscript><img src="data:image/svg+xml;x" data-actualsrc="https://pic1.zhimg.com/a.jpg"><img src="/rel.png"><img src="https://t/pixel.gif" width="1">"#;
        let base = Url::parse("https://example.com/post/1").ok();
        assert_eq!(
            image_urls(html, base.as_ref()),
            vec![
                "https://pic1.zhimg.com/a.jpg",
                "https://example.com/rel.png"
            ]
        );
    }

    #[test]
    fn text_becomes_paragraphs() {
        assert_eq!(
            text_to_html("a <b>\nc\n\nd"),
            "<p>a &lt;b&gt;<br>c</p><p>d</p>"
        );
    }
}
