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
//! <b>Title</b>                       (or "Thread by @jack" when it has none)
//! Author · 2024-05-01
//!
//! Body text, cut at a word with … when needed
//!
//! 👁 342 · 👍 46 · 💬 9 · 🔁 3
//! #tag #other
//! <a href="https://…">Twitter</a>
//! ```
//!
//! The body ([`body`]) is the item's text; for a thread (or any whole post
//! with parts) its parts in order, numbered `1/12`, whole parts while they
//! fit, then "…" before the link; for an article a summary of its first
//! ~300 characters. Which files go with the message: [`media`].

mod body;
pub mod media;

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
    // The stored title, else the readable fallback the view made.
    let title = Some(item.display_title.trim())
        .filter(|t| !t.is_empty())
        .or_else(|| item.title.as_deref().map(str::trim))
        .filter(|t| !t.is_empty());
    if let Some(t) = title {
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
    let body = body::body(item, body_budget.min(3500));

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

/// The notice a chat gets when the original of an item it received is
/// declared deleted upstream (sent in reply to the item's message):
/// ```text
/// 🗑 Deleted upstream on 2026-12-03
/// <i>Title</i>
/// The original on <a href="…">Twitter</a> is gone; the archived copy stays.
/// ```
pub fn render_deletion_notice(item: &ContentView) -> String {
    let title = Some(item.display_title.trim())
        .filter(|t| !t.is_empty())
        .or_else(|| item.title.as_deref().map(str::trim))
        .filter(|t| !t.is_empty())
        .unwrap_or(&item.canonical_url);
    let since = item
        .upstream_state_since
        .map(|t| format!(" on {}", t.format("%Y-%m-%d")))
        .unwrap_or_default();
    format!(
        "🗑 <b>Deleted upstream{since}</b>\n<i>{}</i>\nThe original on <a href=\"{}\">{}</a> is gone; the archived copy stays.",
        escape(&shorten(title, 300)),
        escape(&item.canonical_url),
        escape(platform_label(&item.platform)),
    )
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
    use vaultstream_core::content::{AuthorView, MediaView, PartView};
    use vaultstream_core::status::MediaStatus;

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
            display_title: "<script>alert(1)</script> & friends".into(),
            text: Some("Body with <b>tags</b> & ampersands".into()),
            author: Some(AuthorView {
                name: Some("Ann <Admin>".into()),
                id: None,
                url: None,
            }),
            published_at: Some(now),
            stats: Some(serde_json::json!({"likes": 12345, "views": 3_400_000, "replies": 9})),
            fields: None,
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
            parts: vec![],
            sources: None,
            upstream_state: "live".into(),
            upstream_state_since: None,
            upstream_evidence: None,
            last_refresh_at: None,
            refresh_due_at: None,
            versions: None,
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
        it.display_title = String::new();
        let html = render(&it, CAPTION_LIMIT);
        assert!(html.starts_with("<a href="), "{html}");
    }

    /// An item as `ContentView::new` makes it: the display title follows
    /// the stored one, or the fallback.
    fn view(
        platform: &str,
        kind: &str,
        title: Option<&str>,
        author: Option<AuthorView>,
    ) -> ContentView {
        let mut it = item();
        it.platform = platform.into();
        it.kind = kind.into();
        it.title = title.map(Into::into);
        it.display_title = vaultstream_core::content::display_title(
            title,
            platform,
            kind,
            &it.canonical_url,
            author.as_ref(),
        );
        it.author = author;
        it.stats = None;
        it.tags = vec![];
        it
    }

    fn part(i: u32, text: &str) -> PartView {
        PartView {
            index: i,
            id: Some(format!("{}", 100 + i)),
            title: None,
            text: Some(text.into()),
            html: None,
            url: Some(format!("https://x.com/jack/status/{}", 100 + i)),
            author: None,
            published_at: None,
            duration_secs: None,
            shared: i == 0,
            media: vec![],
        }
    }

    fn jack() -> Option<AuthorView> {
        Some(AuthorView {
            name: Some("jack".into()),
            id: Some("12".into()),
            url: Some("https://x.com/jack".into()),
        })
    }

    fn thread(n: u32, text: impl Fn(u32) -> String) -> ContentView {
        let mut it = view("twitter", "thread", None, jack());
        it.parts = (0..n).map(|i| part(i, &text(i))).collect();
        it.text = Some(
            it.parts
                .iter()
                .filter_map(|p| p.text.clone())
                .collect::<Vec<_>>()
                .join("\n\n"),
        );
        it
    }

    #[test]
    fn a_short_thread_is_whole_and_numbered() {
        let it = thread(3, |i| format!("post number {i}"));
        let html = render(&it, MESSAGE_LIMIT);
        assert!(html.starts_with("<b>Thread by @jack</b>\n"), "{html}");
        assert!(
            html.contains("1/3 ▸ post number 0\n\n2/3 post number 1\n\n3/3 post number 2"),
            "{html}"
        );
        assert!(!html.contains('…'), "{html}");
    }

    #[test]
    fn a_long_thread_is_cut_at_a_part_with_an_ellipsis_then_the_link() {
        // Twelve posts of ~500 units each: about 6000 in all.
        let words = |i: u32| format!("{i}: {}", "lorem ipsum dolor sit amet ".repeat(18));
        for limit in [CAPTION_LIMIT, MESSAGE_LIMIT] {
            let it = thread(12, words);
            let html = render(&it, limit);
            let visible = visible_of_html_estimate(&html);
            assert!(visible <= limit, "{visible} > {limit}: {html}");
            assert!(html.contains("1/12 ▸ 0: lorem"), "{html}");
            assert!(!html.contains("12/12"), "cut before the last part");
            // "…" on its own line, then the foot with the link.
            let (before, link) = html.rsplit_once("\n\n").expect("foot");
            assert!(before.ends_with('…'), "{before}");
            assert_eq!(
                link,
                "<a href=\"https://x.com/i/status/1?a=1&amp;b=&quot;2&quot;\">X (Twitter)</a>"
            );
            // Never half a word: what precedes "…" ends a word of the text.
            let last = before.trim_end_matches('…').trim_end();
            let tail = last.rsplit([' ', '\n']).next().unwrap_or_default();
            assert!(
                ["lorem", "ipsum", "dolor", "sit", "amet"].contains(&tail)
                    || tail.ends_with(':')
                    || last.ends_with("amet"),
                "cut mid-word: {tail:?}"
            );
        }
        // Emoji count as two units: still within the limit.
        let it = thread(30, |i| format!("{i} 😀😀 {}", "漢字 ".repeat(60)));
        for limit in [CAPTION_LIMIT, MESSAGE_LIMIT] {
            let html = render(&it, limit);
            assert!(visible_of_html_estimate(&html) <= limit);
            assert!(html.contains('…'));
        }
    }

    #[test]
    fn a_first_part_too_long_for_the_limit_is_cut_at_a_word() {
        let it = thread(2, |_| "word ".repeat(2000));
        let html = render(&it, CAPTION_LIMIT);
        assert!(visible_of_html_estimate(&html) <= CAPTION_LIMIT);
        assert!(html.contains("1/2 ▸ word word"), "{html}");
        assert!(html.contains("word…"), "{html}");
        assert!(!html.contains("2/2"));
    }

    #[test]
    fn parts_are_escaped() {
        let mut it = thread(2, |i| format!("<b>{i}</b> & \"q\""));
        it.parts[1].author = Some(AuthorView {
            name: Some("<Eve>".into()),
            id: None,
            url: None,
        });
        let html = render(&it, MESSAGE_LIMIT);
        assert!(
            html.contains("1/2 ▸ &lt;b&gt;0&lt;/b&gt; &amp; &quot;q&quot;"),
            "{html}"
        );
        assert!(
            html.contains("2/2 &lt;Eve&gt;: &lt;b&gt;1&lt;/b&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>0</b>"));
        assert_eq!(html.matches('<').count(), html.matches('>').count());
    }

    #[test]
    fn a_season_lists_its_description_and_episodes() {
        let mut it = view("bilibili", "season", Some("新·奥特曼"), None);
        it.text = Some("A film.".into());
        it.parts = vec![part(0, ""), part(1, "")];
        it.parts[0].title = Some("原版".into());
        it.parts[1].title = Some("中文".into());
        it.parts[0].shared = false;
        it.parts[1].shared = true;
        let html = render(&it, MESSAGE_LIMIT);
        assert!(html.contains("A film.\n\n1/2 原版\n\n2/2 ▸ 中文"), "{html}");
    }

    fn media(id: i64, role: &str, part: Option<i32>) -> MediaView {
        MediaView {
            id,
            position: id as i32,
            role: role.into(),
            quoted: false,
            status: MediaStatus::Archived,
            original_url: format!("https://img.example/{id}.jpg"),
            blob_key: Some(format!("blobs/sha256/aa/bb/{id:064}.webp")),
            sha256: None,
            bytes: Some(1000),
            width: None,
            height: None,
            duration_secs: None,
            mime: Some("image/webp".into()),
            url: None,
            attempts: 1,
            archived_at: None,
            error: None,
            part,
        }
    }

    fn article(cover: bool) -> ContentView {
        let mut it = view("bilibili", "article", Some("Bold <title>"), None);
        it.text = Some(format!(
            "Heading\n\nFirst sentence. {}",
            "more words here ".repeat(100)
        ));
        let mut files = vec![media(2, "image", None), media(3, "image", None)];
        if cover {
            files.insert(0, media(1, "cover", None));
        }
        it.media = Some(files);
        it
    }

    #[test]
    fn an_article_is_its_title_a_summary_its_cover_and_the_link() {
        let it = article(true);
        let html = render(&it, CAPTION_LIMIT);
        assert!(html.starts_with("<b>Bold &lt;title&gt;</b>\n"), "{html}");
        let summary = html.split("\n\n").nth(1).expect("summary");
        assert!(
            summary.starts_with("Heading First sentence. more words"),
            "{summary}"
        );
        let last = summary
            .trim_end_matches('…')
            .rsplit(' ')
            .next()
            .unwrap_or_default();
        assert!(
            ["more", "words", "here"].contains(&last),
            "cut at a word: {summary}"
        );
        assert!(visible_len(summary) <= body::SUMMARY_CHARS, "{summary}");
        assert!(html.ends_with("\">Bilibili</a>"), "{html}");
        match media::shape(&it) {
            media::Shape::Photo(m) => assert_eq!(m.role, "cover"),
            other => panic!("the cover alone: {other:?}"),
        }
    }

    #[test]
    fn an_article_without_a_cover() {
        // Its first picture stands in; without any, a text message.
        let mut it = article(false);
        match media::shape(&it) {
            media::Shape::Photo(m) => assert_eq!(m.id, 2),
            other => panic!("{other:?}"),
        }
        it.media = Some(vec![]);
        assert!(matches!(media::shape(&it), media::Shape::Text));
        let html = render(&it, MESSAGE_LIMIT);
        assert!(html.contains("First sentence."), "{html}");
    }

    #[test]
    fn a_threads_album_is_every_parts_pictures_in_order() {
        let mut it = thread(3, |i| format!("p{i}"));
        // Listed out of part order, and more than an album holds.
        let mut files = vec![media(1, "image", Some(2)), media(2, "image", Some(0))];
        files.extend((3..15).map(|id| media(id, "image", Some(1))));
        it.media = Some(files);
        match media::shape(&it) {
            media::Shape::Album(list) => {
                let ids: Vec<i64> = list.iter().map(|m| m.id).collect();
                assert_eq!(ids, vec![2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_title_falls_back_to_author_and_kind() {
        let weibo = Some(AuthorView {
            name: Some("新浪新闻".into()),
            id: Some("2028810631".into()),
            url: None,
        });
        let mut it = view("weibo", "post", None, weibo);
        it.text = Some("今天".into());
        let html = render(&it, MESSAGE_LIMIT);
        assert!(
            html.starts_with("<b>Weibo post by 新浪新闻</b>\n"),
            "{html}"
        );
        assert!(html.contains("\n\n今天\n\n"), "{html}");
        let it = view("zhihu", "pin", Some(""), None);
        assert!(render(&it, MESSAGE_LIMIT).starts_with("<b>Zhihu pin</b>"));
        let it = view(
            "bilibili",
            "article",
            None,
            Some(AuthorView {
                name: Some("X".into()),
                id: None,
                url: None,
            }),
        );
        assert!(render(&it, MESSAGE_LIMIT).starts_with("<b>Bilibili article by X</b>"));
    }

    #[test]
    fn surrogate_pairs_count_double() {
        assert_eq!(visible_len("😀"), 2);
        assert_eq!(shorten("😀😀😀", 4), "😀…");
    }
}
