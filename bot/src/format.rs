//! How an archived item looks in a Telegram chat.
//!
//! Messages use Telegram's HTML parse mode: every piece of user content is
//! escaped (`&`, `<`, `>`, and `"` inside attributes), and the visible
//! text — what Telegram counts against its limits, in UTF-16 code units
//! after the markup is parsed — is kept within the caption (1024) or
//! message (4096) limit by shortening the body text, never by cutting
//! markup in half.
//!
//! Layout:
//! ```text
//! <b>Title</b>
//! Author · 2024-05-01
//!
//! Body text, shortened with … when needed
//!
//! 👁 342 · 👍 46 · 💬 9 · 🔁 3
//! #tag #other
//! <a href="https://…">Twitter</a>
//! ```

use vaultstream_core::content::ContentView;

/// Telegram's limit for a message text.
pub const MESSAGE_LIMIT: usize = 4096;
/// Telegram's limit for a photo/video/album caption.
pub const CAPTION_LIMIT: usize = 1024;

/// Escape text for Telegram HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Length as Telegram counts it: UTF-16 code units.
pub fn visible_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// One line or block: its HTML and its visible length.
struct Piece {
    html: String,
    visible: usize,
}

impl Piece {
    fn plain(text: &str) -> Self {
        Piece {
            html: escape(text),
            visible: visible_len(text),
        }
    }
    fn wrapped(tag: &str, text: &str) -> Self {
        Piece {
            html: format!("<{tag}>{}</{tag}>", escape(text)),
            visible: visible_len(text),
        }
    }
}

fn platform_label(p: &str) -> &str {
    match p {
        "bilibili" => "Bilibili",
        "twitter" => "X (Twitter)",
        "weibo" => "Weibo",
        "xiaohongshu" => "Xiaohongshu",
        "zhihu" => "Zhihu",
        "douyin" => "Douyin",
        "youtube" => "YouTube",
        _ => "Source",
    }
}

/// A Telegram hashtag for a tag: letters, digits and `_` only.
fn hashtag(tag: &str) -> Option<String> {
    let t: String = tag
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    let t = t.trim_matches('_');
    (!t.is_empty() && !t.chars().all(|c| c.is_ascii_digit())).then(|| format!("#{t}"))
}

fn stats_line(stats: &serde_json::Value) -> Option<String> {
    const ORDER: [(&str, &str); 8] = [
        ("views", "👁"),
        ("likes", "👍"),
        ("coins", "🪙"),
        ("favorites", "⭐"),
        ("comments", "💬"),
        ("replies", "💬"),
        ("retweets", "🔁"),
        ("shares", "↗"),
    ];
    let obj = stats.as_object()?;
    let parts: Vec<String> = ORDER
        .iter()
        .filter_map(|(k, icon)| {
            obj.get(*k)
                .and_then(serde_json::Value::as_i64)
                .map(|n| format!("{icon} {}", compact(n)))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// 1234 → "1.2K", 3_400_000 → "3.4M".
fn compact(n: i64) -> String {
    let f = n as f64;
    match n.unsigned_abs() {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}K", f / 1e3),
        _ => format!("{:.1}M", f / 1e6),
    }
}

/// Shorten `text` to at most `budget` UTF-16 units, ending with `…`.
fn shorten(text: &str, budget: usize) -> String {
    if visible_len(text) <= budget {
        return text.to_owned();
    }
    if budget == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = c.len_utf16();
        if used + w > budget.saturating_sub(1) {
            break;
        }
        out.push(c);
        used += w;
    }
    let trimmed = out.trim_end();
    format!("{trimmed}…")
}

/// A title shortened for a one-line mention (plain text; escape it).
pub fn render_title(t: &str) -> String {
    shorten(t.trim(), 200)
}

/// The item as Telegram HTML whose visible text fits `limit`.
pub fn render(item: &ContentView, limit: usize) -> String {
    let mut head: Vec<Piece> = Vec::new();
    if let Some(t) = item
        .title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        head.push(Piece::wrapped("b", &shorten(t, 256)));
    }
    let mut byline = Vec::new();
    if let Some(a) = item
        .author
        .as_ref()
        .and_then(|a| a.name.clone().or(a.id.clone()))
    {
        byline.push(a);
    }
    if let Some(p) = item.published_at {
        byline.push(p.format("%Y-%m-%d").to_string());
    }
    if !byline.is_empty() {
        head.push(Piece::wrapped("i", &shorten(&byline.join(" · "), 200)));
    }

    let mut foot: Vec<Piece> = Vec::new();
    if let Some(s) = item.stats.as_ref().and_then(stats_line) {
        foot.push(Piece::plain(&s));
    }
    let tags: Vec<String> = item.tags.iter().filter_map(|t| hashtag(t)).collect();
    if !tags.is_empty() {
        foot.push(Piece::plain(&shorten(&tags.join(" "), 300)));
    }
    let label = platform_label(&item.platform);
    foot.push(Piece {
        html: format!(
            "<a href=\"{}\">{}</a>",
            escape(&item.canonical_url),
            escape(label)
        ),
        visible: visible_len(label),
    });

    // Blocks are separated by blank lines ("\n\n" = 2 units), lines inside
    // the head and the foot by single newlines.
    let lines_len = |p: &[Piece]| -> usize {
        p.iter().map(|x| x.visible).sum::<usize>() + p.len().saturating_sub(1)
    };
    let fixed = lines_len(&head) + lines_len(&foot) + if head.is_empty() { 0 } else { 2 };
    let body_budget = limit.saturating_sub(fixed + 2);
    let body = item
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty() && Some(*t) != item.title.as_deref().map(str::trim))
        .map(|t| shorten(t, body_budget.min(3500)))
        .filter(|t| !t.is_empty() && t != "…");

    let join = |p: &[Piece]| {
        p.iter()
            .map(|x| x.html.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut blocks: Vec<String> = Vec::new();
    if !head.is_empty() {
        blocks.push(join(&head));
    }
    if let Some(b) = body {
        blocks.push(escape(&b));
    }
    blocks.push(join(&foot));
    let html = blocks.join("\n\n");
    // The foot alone can exceed a tiny limit; Telegram would refuse, so
    // drop everything but the link then.
    if visible_of_html_estimate(&html) > limit {
        return foot.last().map(|p| p.html.clone()).unwrap_or_default();
    }
    html
}

/// Visible length of HTML we produced (tags removed, entities counted as one).
pub fn visible_of_html_estimate(html: &str) -> usize {
    let mut text = String::new();
    let mut in_tag = false;
    let mut chars = html.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            '&' if !in_tag => {
                for d in chars.by_ref() {
                    if d == ';' {
                        break;
                    }
                }
                text.push('x');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    visible_len(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use vaultstream_core::content::AuthorView;

    fn item() -> ContentView {
        let now = chrono::Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
        ContentView {
            id: 1,
            platform: "twitter".into(),
            platform_id: "1".into(),
            canonical_url: "https://x.com/i/status/1?a=1&b=\"2\"".into(),
            kind: "post".into(),
            status: "pulled".into(),
            title: Some("<script>alert(1)</script> & friends".into()),
            text: Some("Body with <b>tags</b> & ampersands".into()),
            author: Some(AuthorView {
                name: Some("Ann <Admin>".into()),
                id: None,
                url: None,
            }),
            published_at: Some(now),
            stats: Some(serde_json::json!({"likes": 12345, "views": 3_400_000, "replies": 9})),
            tags: vec!["rust".into(), "a-b".into(), "中文".into(), "123".into()],
            failure_count: 0,
            last_error: None,
            last_error_type: None,
            last_error_detail: None,
            last_error_at: None,
            pulled_at: Some(now),
            created_at: now,
            updated_at: now,
            media_status: "archived".into(),
            media: None,
            sources: None,
        }
    }

    #[test]
    fn escapes_everything_from_users() {
        let html = render(&item(), MESSAGE_LIMIT);
        assert!(
            html.starts_with("<b>&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends</b>\n"),
            "{html}"
        );
        assert!(
            html.contains("<i>Ann &lt;Admin&gt; · 2024-05-01</i>"),
            "{html}"
        );
        assert!(html.contains("Body with &lt;b&gt;tags&lt;/b&gt; &amp; ampersands"));
        assert!(html.contains("👁 3.4M · 👍 12.3K · 💬 9"), "{html}");
        assert!(html.contains("#rust #a_b #中文"), "{html}");
        assert!(!html.contains("#123"));
        assert!(
            html.ends_with(
                "<a href=\"https://x.com/i/status/1?a=1&amp;b=&quot;2&quot;\">X (Twitter)</a>"
            ),
            "{html}"
        );
    }

    #[test]
    fn long_texts_fit_the_limits() {
        for limit in [CAPTION_LIMIT, MESSAGE_LIMIT] {
            for body in [
                "a".repeat(10_000),
                "<&>".repeat(3000),
                "漢字😀".repeat(3000),
            ] {
                let mut it = item();
                it.text = Some(body.clone());
                let html = render(&it, limit);
                let visible = visible_of_html_estimate(&html);
                assert!(visible <= limit, "{visible} > {limit}");
                assert!(html.contains('…'));
                // Never a broken entity or tag.
                assert_eq!(html.matches('<').count(), html.matches('>').count());
            }
        }
    }

    #[test]
    fn sparse_items_render() {
        let mut it = item();
        it.title = None;
        it.text = None;
        it.author = None;
        it.published_at = None;
        it.stats = None;
        it.tags = vec![];
        let html = render(&it, CAPTION_LIMIT);
        assert!(html.starts_with("<a href="), "{html}");
    }

    #[test]
    fn surrogate_pairs_count_double() {
        assert_eq!(visible_len("😀"), 2);
        assert_eq!(shorten("😀😀😀", 4), "😀…");
    }
}
