//! Bilibili's rich text, rendered to sanitised HTML, plain text and the
//! pictures in order:
//! - opus paragraphs (`module_content.paragraphs[]` of the opus detail API,
//!   `opus.content.paragraphs[]` of the article view API): text (1),
//!   pictures (2), a rule (3), quotes (4), lists (5, or list items carrying
//!   `format.list_format`; numbered when their `style` is 1), code (7);
//! - the Quill delta of new articles (`{"ops":[…]}` in the article view's
//!   `content`): text with inline marks, a `\n` whose attributes format the
//!   line it ends (`header`, `list`, `blockquote`, `code-block`), and
//!   `{"native-image": {url, width, height}}` pictures.
//!
//! Nothing here trusts the markup: every text is escaped, every URL is
//! attribute-escaped, and the result goes through the sanitiser.

use serde_json::Value;

use super::absolute;
use crate::fetch::html::{escape, sanitise, to_text};
use crate::fetch::value::{array_at, int_at, str_at, u32_at};

/// A rendered body.
pub(super) struct Rich {
    pub html: String,
    pub text: String,
    pub pictures: Vec<Picture>,
}

/// A picture of the body, in order.
pub(super) struct Picture {
    pub url: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The motion clip of a live photo.
    pub live_url: Option<String>,
}

impl Rich {
    fn from_html(raw_html: String, pictures: Vec<Picture>) -> Self {
        let html = sanitise(&raw_html);
        Rich {
            text: to_text(&html),
            html,
            pictures,
        }
    }
}

/// Opus paragraphs.
pub(super) fn paragraphs(paras: &[Value]) -> Rich {
    let mut out = String::new();
    let mut pictures = Vec::new();
    // Consecutive list items (`format.list_format`) share one list.
    let mut open_list: Option<&'static str> = None;
    for p in paras {
        let list_item = p.pointer("/format/list_format").filter(|f| f.is_object());
        if open_list.is_some() && list_item.is_none() {
            close_list(&mut out, &mut open_list);
        }
        if let Some(fmt) = list_item {
            // `order` is only the item's position (bullet lists have it too).
            let tag = if int_at(fmt, "/style") == Some(1) {
                "ol"
            } else {
                "ul"
            };
            if open_list != Some(tag) {
                close_list(&mut out, &mut open_list);
                out.push_str(&format!("<{tag}>"));
                open_list = Some(tag);
            }
            out.push_str(&format!("<li>{}</li>", nodes(array_at(p, "/text/nodes"))));
            continue;
        }
        let pics = array_at(p, "/pic/pics");
        if !pics.is_empty() {
            for pic in pics {
                let Some(url) = str_at(pic, "/url").map(|u| absolute(&u)) else {
                    continue;
                };
                out.push_str(&format!("<p><img src=\"{}\"></p>", escape(&url)));
                pictures.push(Picture {
                    width: u32_at(pic, "/width"),
                    height: u32_at(pic, "/height"),
                    live_url: str_at(pic, "/live_url").map(|u| absolute(&u)),
                    url,
                });
            }
            continue;
        }
        if let Some(code) = p.get("code").filter(|c| c.is_object()) {
            // The source is HTML-escaped already; escape our own reading of it.
            let source = unescape(&str_at(code, "/content").unwrap_or_default());
            out.push_str(&format!("<pre><code>{}</code></pre>", escape(&source)));
            continue;
        }
        let items = array_at(p, "/list/items");
        if !items.is_empty() {
            let tag = if int_at(p, "/list/style") == Some(1) {
                "ol"
            } else {
                "ul"
            };
            out.push_str(&format!("<{tag}>"));
            for item in items {
                out.push_str(&format!("<li>{}</li>", nodes(array_at(item, "/nodes"))));
            }
            out.push_str(&format!("</{tag}>"));
            continue;
        }
        match int_at(p, "/para_type") {
            Some(3) => out.push_str("<hr>"),
            Some(4) => out.push_str(&format!(
                "<blockquote>{}</blockquote>",
                nodes(array_at(p, "/text/nodes"))
            )),
            _ => {
                let inner = nodes(array_at(p, "/text/nodes"));
                // Editors leave paragraphs holding only a line break.
                if !inner.replace("<br>", "").trim().is_empty() {
                    out.push_str(&format!("<p>{inner}</p>"));
                }
            }
        }
    }
    close_list(&mut out, &mut open_list);
    Rich::from_html(out, pictures)
}

fn close_list(out: &mut String, open: &mut Option<&'static str>) {
    if let Some(tag) = open.take() {
        out.push_str(&format!("</{tag}>"));
    }
}

/// Text nodes: words (with bold/italic/strikethrough) and rich nodes
/// (mentions, topics, links, emoji: their text, linked when they link).
fn nodes(nodes: &[Value]) -> String {
    let mut out = String::new();
    for n in nodes {
        if let Some(word) = n.get("word").filter(|w| w.is_object()) {
            let text = word
                .get("words")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let style = |k: &str| word.pointer(&format!("/style/{k}")) == Some(&Value::Bool(true));
            out.push_str(&marked(
                text,
                style("bold"),
                style("italic"),
                style("strikethrough"),
            ));
        } else if let Some(rich) = n.get("rich").filter(|r| r.is_object()) {
            let text = str_at(rich, "/text")
                .or_else(|| str_at(rich, "/orig_text"))
                .unwrap_or_default();
            match str_at(rich, "/jump_url") {
                Some(href) => out.push_str(&format!(
                    "<a href=\"{}\">{}</a>",
                    escape(&absolute(&href)),
                    lines(&text)
                )),
                None => out.push_str(&lines(&text)),
            }
        }
    }
    out
}

fn marked(text: &str, bold: bool, italic: bool, strike: bool) -> String {
    let mut s = lines(text);
    if s.is_empty() {
        return s;
    }
    if strike {
        s = format!("<s>{s}</s>");
    }
    if italic {
        s = format!("<em>{s}</em>");
    }
    if bold {
        s = format!("<strong>{s}</strong>");
    }
    s
}

/// Escaped text with its line breaks kept.
fn lines(text: &str) -> String {
    text.split('\n')
        .map(escape)
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The text of an HTML-escaped string, whitespace kept (code).
fn unescape(s: &str) -> String {
    scraper::Html::parse_fragment(s)
        .root_element()
        .text()
        .collect()
}

/// One line of a Quill document and the block format its `\n` gave it.
enum Block {
    Line { html: String, format: Format },
    Picture(String),
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Paragraph,
    Header(u8),
    Bullet,
    Ordered,
    Quote,
    Code,
}

impl Format {
    fn of(attrs: Option<&Value>) -> Format {
        let Some(a) = attrs else {
            return Format::Paragraph;
        };
        if let Some(h) = a.get("header").and_then(Value::as_u64) {
            return Format::Header(h.clamp(1, 6) as u8);
        }
        match a.get("list").and_then(Value::as_str) {
            Some("ordered") => return Format::Ordered,
            Some(_) => return Format::Bullet,
            None => {}
        }
        if a.get("blockquote") == Some(&Value::Bool(true)) {
            return Format::Quote;
        }
        if a.get("code-block")
            .is_some_and(|c| c != &Value::Bool(false))
        {
            return Format::Code;
        }
        Format::Paragraph
    }
}

/// A Quill delta (`ops`).
pub(super) fn ops(ops: &[Value]) -> Rich {
    let mut blocks: Vec<Block> = Vec::new();
    let mut pictures = Vec::new();
    let mut line = String::new();
    for op in ops {
        let attrs = op.get("attributes").filter(|a| a.is_object());
        match op.get("insert") {
            Some(Value::String(s)) => {
                let mut segments = s.split('\n');
                if let Some(first) = segments.next() {
                    line.push_str(&inline(first, attrs));
                }
                for segment in segments {
                    let html = std::mem::take(&mut line);
                    blocks.push(Block::Line {
                        html,
                        format: Format::of(attrs),
                    });
                    line.push_str(&inline(segment, attrs));
                }
            }
            Some(Value::Object(o)) => {
                let Some(img) = o.get("native-image").filter(|i| i.is_object()) else {
                    continue;
                };
                let Some(url) = str_at(img, "/url").map(|u| absolute(&u)) else {
                    continue;
                };
                if !line.is_empty() {
                    let html = std::mem::take(&mut line);
                    blocks.push(Block::Line {
                        html,
                        format: Format::Paragraph,
                    });
                }
                blocks.push(Block::Picture(url.clone()));
                pictures.push(Picture {
                    width: u32_at(img, "/width"),
                    height: u32_at(img, "/height"),
                    live_url: None,
                    url,
                });
            }
            _ => {}
        }
    }
    if !line.is_empty() {
        blocks.push(Block::Line {
            html: line,
            format: Format::Paragraph,
        });
    }
    Rich::from_html(render_blocks(blocks), pictures)
}

fn render_blocks(blocks: Vec<Block>) -> String {
    let mut out = String::new();
    let mut open: Option<&'static str> = None;
    for block in blocks {
        let list = match &block {
            Block::Line {
                format: Format::Bullet,
                ..
            } => Some("ul"),
            Block::Line {
                format: Format::Ordered,
                ..
            } => Some("ol"),
            _ => None,
        };
        if open.is_some() && open != list {
            close_list(&mut out, &mut open);
        }
        match block {
            Block::Picture(url) => {
                out.push_str(&format!("<p><img src=\"{}\"></p>", escape(&url)));
            }
            Block::Line { html, format } => match (format, list) {
                (_, Some(tag)) => {
                    if open.is_none() {
                        out.push_str(&format!("<{tag}>"));
                        open = Some(tag);
                    }
                    out.push_str(&format!("<li>{html}</li>"));
                }
                (Format::Header(n), _) => out.push_str(&format!("<h{n}>{html}</h{n}>")),
                (Format::Quote, _) => out.push_str(&format!("<blockquote>{html}</blockquote>")),
                (Format::Code, _) => out.push_str(&format!("<pre><code>{html}</code></pre>")),
                _ if html.is_empty() => {}
                _ => out.push_str(&format!("<p>{html}</p>")),
            },
        }
    }
    close_list(&mut out, &mut open);
    out
}

fn inline(text: &str, attrs: Option<&Value>) -> String {
    if text.is_empty() {
        return String::new();
    }
    let on = |k: &str| attrs.and_then(|a| a.get(k)) == Some(&Value::Bool(true));
    let s = marked(text, on("bold"), on("italic"), on("strike"));
    match attrs.and_then(|a| str_at(a, "/link")) {
        Some(href) => format!("<a href=\"{}\">{s}</a>", escape(&absolute(&href))),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quill_lines_take_the_format_of_their_newline() {
        let delta = json!([
            {"insert": "Title"},
            {"attributes": {"header": 2}, "insert": "\n"},
            {"insert": "one"},
            {"attributes": {"list": "bullet"}, "insert": "\n"},
            {"insert": "two <b>"},
            {"attributes": {"list": "bullet"}, "insert": "\n"},
            {"attributes": {"class": "normal-img"}, "insert": {"native-image": {"url": "//i0.hdslb.com/a.png", "width": 10, "height": 20}}},
            {"attributes": {"bold": true}, "insert": "bold"},
            {"insert": " tail\nlast"},
            {"attributes": {"blockquote": true}, "insert": "\n"},
            {"insert": {"unknown-embed": {}}},
        ]);
        let rich = ops(delta.as_array().map(Vec::as_slice).unwrap_or_default());
        assert_eq!(
            rich.html,
            "<h2>Title</h2><ul><li>one</li><li>two &lt;b&gt;</li></ul><p><img src=\"https://i0.hdslb.com/a.png\"></p><p><strong>bold</strong> tail</p><blockquote>last</blockquote>"
        );
        assert_eq!(rich.text, "Title\n\none\n\ntwo <b>\n\nbold tail\n\nlast");
        assert_eq!(rich.pictures.len(), 1);
        assert_eq!(rich.pictures[0].url, "https://i0.hdslb.com/a.png");
        assert_eq!(
            (rich.pictures[0].width, rich.pictures[0].height),
            (Some(10), Some(20))
        );
    }

    #[test]
    fn paragraphs_of_every_kind() {
        let paras = json!([
            {"para_type": 1, "text": {"nodes": [
                {"type": "TEXT_NODE_TYPE_WORD", "word": {"words": "Hi ", "style": {}}},
                {"type": "TEXT_NODE_TYPE_WORD", "word": {"words": "there", "style": {"bold": true}}},
                {"type": "TEXT_NODE_TYPE_RICH", "rich": {"type": "RICH_TEXT_NODE_TYPE_WEB", "text": "link", "jump_url": "//example.com/x"}}
            ]}},
            {"para_type": 2, "pic": {"pics": [{"url": "https://i0.hdslb.com/p.png", "width": null, "height": null, "live_url": "https://i0.hdslb.com/p.mov"}]}},
            {"para_type": 4, "text": {"nodes": [{"node_type": 1, "word": {"words": "quoted"}}]}},
            {"para_type": 6, "format": {"list_format": {"level": 1, "order": 1}}, "text": {"nodes": [{"node_type": 1, "word": {"words": "a"}}]}},
            {"para_type": 6, "format": {"list_format": {"level": 1, "order": 2}}, "text": {"nodes": [{"node_type": 1, "word": {"words": "b"}}]}},
            {"para_type": 5, "list": {"style": 1, "items": [{"level": 1, "nodes": [{"word": {"words": "c"}}]}]}},
            {"para_type": 7, "code": {"lang": "language-json", "content": "{&quot;a&quot;: 1}"}},
            {"para_type": 3, "line": {}},
            {"para_type": 1, "text": {"nodes": [{"word": {"words": "\n"}}]}}
        ]);
        let rich = paragraphs(paras.as_array().map(Vec::as_slice).unwrap_or_default());
        assert_eq!(
            rich.html,
            "<p>Hi <strong>there</strong><a href=\"https://example.com/x\" rel=\"noopener noreferrer\">link</a></p><p><img src=\"https://i0.hdslb.com/p.png\"></p><blockquote>quoted</blockquote><ul><li>a</li><li>b</li></ul><ol><li>c</li></ol><pre><code>{\"a\": 1}</code></pre><hr>"
        );
        assert!(
            rich.text
                .starts_with("Hi therelink\n\nquoted\n\na\n\nb\n\nc"),
            "{}",
            rich.text
        );
        assert_eq!(rich.pictures.len(), 1);
        assert_eq!(
            rich.pictures[0].live_url.as_deref(),
            Some("https://i0.hdslb.com/p.mov")
        );
        assert_eq!(rich.pictures[0].width, None);
    }
}
