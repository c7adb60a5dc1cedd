//! `/search <query>`: the archive's top hits as one Telegram message, each
//! with its title, where the query matched and the link to the original.

use sea_orm::DatabaseConnection;
use vaultstream_core::db::search::{self, Hit};

use vaultstream_telegram::format::{escape, visible_of_html_estimate};

/// Hits in one answer.
pub const TOP: u64 = 5;
/// Characters of a title shown.
const TITLE_CHARS: usize = 80;

/// The reply to `/search <arg>` (HTML).
pub async fn reply(db: &DatabaseConnection, arg: &str) -> String {
    let arg = arg.trim();
    if arg.is_empty() {
        return "Send <code>/search &lt;words&gt;</code>, e.g. <code>/search 地铁 platform:weibo</code>. \
                Phrases in quotes, -word to exclude, OR, and filters platform: tag: author: kind: \
                before: after: has:video."
            .into();
    }
    let query = match search::parse(arg) {
        Ok(q) => q,
        // The API's code and message, word for word.
        Err(e) => return format!("❌ {} (<code>{}</code>)", escape(&e.message), e.code),
    };
    match search::search(db, &query, TOP, 0).await {
        Ok(hits) if hits.hits.is_empty() => format!("Nothing found for <i>{}</i>.", escape(arg)),
        Ok(hits) => render(arg, &hits.hits, hits.next_offset.is_some()),
        Err(e) => {
            tracing::error!(error = %e, "bot: search failed");
            "⚠️ The archive is unavailable right now.".into()
        }
    }
}

/// A title for a hit: the item's own, else the start of its text, else its
/// display title (kind, platform and author; never empty).
fn title(hit: &Hit) -> String {
    let item = &hit.item;
    let own = item
        .title
        .as_deref()
        .or(item.text.as_deref())
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty());
    let t = own.unwrap_or_else(|| item.display_title.clone());
    if t.chars().count() > TITLE_CHARS {
        let cut: String = t.chars().take(TITLE_CHARS).collect();
        format!("{}…", cut.trim_end())
    } else {
        t
    }
}

/// A snippet as Telegram HTML: snippets are HTML-escaped text with the
/// matches in `<mark>`, which Telegram does not know; bold it is.
fn snippet(hit: &Hit) -> Option<String> {
    ["text", "title", "notes", "author", "tags"]
        .iter()
        .find_map(|f| hit.highlights.get(*f))
        .map(|s| s.replace("<mark>", "<b>").replace("</mark>", "</b>"))
}

fn render(q: &str, hits: &[Hit], more: bool) -> String {
    let mut out = format!("🔎 <i>{}</i>\n", escape(q));
    for (n, hit) in hits.iter().enumerate() {
        let item = &hit.item;
        out.push_str(&format!(
            "\n{}. <a href=\"{}\">{}</a> · {} · #{}",
            n + 1,
            escape(&item.canonical_url),
            escape(&title(hit)),
            escape(&item.platform),
            item.id
        ));
        if let Some(s) = snippet(hit) {
            out.push('\n');
            out.push_str(&s);
        }
        out.push('\n');
    }
    if more {
        out.push_str("\nMore in the API: <code>GET /api/v1/search?q=…</code>");
    }
    debug_assert!(visible_of_html_estimate(&out) < vaultstream_telegram::format::MESSAGE_LIMIT);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn hit(title: Option<&str>, text: Option<&str>, snippet: Option<&str>) -> Hit {
        use vaultstream_core::db::entities::content::Model;
        let now = chrono::Utc::now();
        let model = Model {
            id: 7,
            platform: "weibo".into(),
            platform_id: "4900".into(),
            canonical_url: "https://weibo.com/1/4900?a=1&b=2".into(),
            kind: "post".into(),
            status: vaultstream_core::content::Status::Pulled,
            title: title.map(str::to_owned),
            text: text.map(str::to_owned),
            author_name: None,
            author_id: None,
            author_url: None,
            published_at: None,
            stats: None,
            raw_metadata: None,
            failure_count: 0,
            last_error: None,
            last_error_type: None,
            last_error_detail: None,
            last_error_at: None,
            pulled_at: None,
            attempts: 0,
            next_attempt_at: None,
            lease_until: None,
            lease_token: None,
            enqueued_at: None,
            pushes_scheduled_at: None,
            parts: None,
            fields: None,
            created_at: now,
            updated_at: now,
            upstream_state: vaultstream_core::status::UpstreamState::Live,
            upstream_state_since: None,
            upstream_evidence: None,
            last_refresh_at: None,
        };
        let item = vaultstream_core::content::ContentView::new(model, vec![]);
        let mut highlights = HashMap::new();
        if let Some(s) = snippet {
            highlights.insert("text".to_owned(), s.to_owned());
        }
        Hit {
            item,
            rank: 1.0,
            matched: vec!["text".into()],
            highlights,
        }
    }

    #[test]
    fn hits_render_as_safe_telegram_html() {
        let hits = vec![
            hit(
                Some("<b>bold</b> & co"),
                None,
                Some("…信号<mark>故障</mark>停运 &lt;x&gt;"),
            ),
            hit(None, Some("只有正文\n没有标题"), None),
            hit(None, None, None),
        ];
        let out = render("故障 <x>", &hits, true);
        assert!(out.contains("🔎 <i>故障 &lt;x&gt;</i>"), "{out}");
        assert!(out.contains("&lt;b&gt;bold&lt;/b&gt; &amp; co"), "{out}");
        assert!(out.contains("信号<b>故障</b>停运 &lt;x&gt;"), "{out}");
        assert!(!out.contains("<mark>"), "{out}");
        assert!(
            out.contains("href=\"https://weibo.com/1/4900?a=1&amp;b=2\""),
            "{out}"
        );
        assert!(out.contains(">只有正文 没有标题</a>"), "{out}");
        assert!(out.contains(">Weibo post</a>"), "{out}");
        assert!(out.contains("More in the API"), "{out}");
    }

    #[test]
    fn long_titles_are_cut() {
        let long = "很".repeat(200);
        let t = title(&hit(Some(&long), None, None));
        assert_eq!(t.chars().count(), TITLE_CHARS + 1);
        assert!(t.ends_with('…'));
    }
}
