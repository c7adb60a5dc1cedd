//! What a receiver gets, per format.
//!
//! - `standard`: the item exactly as `GET /api/v1/contents/{id}` shows it
//!   (archived files' links made absolute under `VAULTSTREAM_PUBLIC_URL`
//!   when it is set), for both events; the event is in the
//!   `x-vaultstream-event` header and the item's `upstream_state`.
//! - `discord`: an incoming-webhook message
//!   (<https://discord.com/developers/docs/resources/webhook#execute-webhook>):
//!   `content` ≤ 2,000 characters, one embed (title ≤ 256, description
//!   ≤ 4,096, author name ≤ 256, footer ≤ 2,048; ≤ 6,000 in all), and
//!   `allowed_mentions: {"parse": []}` so archived text can never ping
//!   `@everyone` or a role.
//! - `slack`: an incoming-webhook message
//!   (<https://api.slack.com/messaging/webhooks>, Block Kit): `text` as the
//!   notification fallback, one `section` block of mrkdwn ≤ 3,000
//!   characters; `&`, `<`, `>` escaped as Slack asks, links unfurled by us
//!   not by Slack.

use serde_json::{Value, json};
use url::Url;
use vaultstream_core::content::ContentView;
use vaultstream_core::status::{PushEvent, WebhookFormat};

/// Discord's limits.
pub const DISCORD_CONTENT: usize = 2000;
pub const DISCORD_TITLE: usize = 256;
pub const DISCORD_DESCRIPTION: usize = 4096;
/// Slack's limit on a section block's text.
pub const SLACK_SECTION: usize = 3000;

/// The event's name in the `x-vaultstream-event` header.
pub fn event_name(event: PushEvent) -> &'static str {
    match event {
        PushEvent::Item => "item.archived",
        PushEvent::DeletedUpstream => "item.deleted_upstream",
    }
}

/// The JSON body for a receiver of `format`.
pub fn body(
    format: WebhookFormat,
    event: PushEvent,
    item: &ContentView,
    public_url: Option<&Url>,
) -> Value {
    match format {
        WebhookFormat::Standard => standard(item, public_url),
        WebhookFormat::Discord => discord(event, &Summary::of(item)),
        WebhookFormat::Slack => slack(event, &Summary::of(item)),
    }
}

/// What the chat formats show of an item.
#[derive(Debug, Clone, Default)]
pub struct Summary<'a> {
    pub id: i64,
    pub platform: &'a str,
    pub url: &'a str,
    pub title: &'a str,
    pub text: &'a str,
    pub author: Option<&'a str>,
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl<'a> Summary<'a> {
    pub fn of(item: &'a ContentView) -> Self {
        Summary {
            id: item.id,
            platform: &item.platform,
            url: &item.canonical_url,
            title: &item.display_title,
            text: item.text.as_deref().unwrap_or(""),
            author: item.author.as_ref().and_then(|a| a.name.as_deref()),
            published_at: item.published_at,
        }
    }
}

fn standard(item: &ContentView, public_url: Option<&Url>) -> Value {
    let mut v = serde_json::to_value(item).unwrap_or(Value::Null);
    if let Some(base) = public_url {
        absolute_links(&mut v, base);
    }
    v
}

/// Every `url` that is a path on this server becomes absolute.
fn absolute_links(v: &mut Value, base: &Url) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                match child {
                    Value::String(s) if k == "url" && s.starts_with('/') => {
                        if let Ok(u) = base.join(s) {
                            *s = u.to_string();
                        }
                    }
                    _ => absolute_links(child, base),
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(|c| absolute_links(c, base)),
        _ => {}
    }
}

/// At most `max` characters, cut at a character boundary with `…`.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn headline(event: PushEvent, item: &Summary) -> String {
    match event {
        PushEvent::Item => format!("Archived from {}", item.platform),
        PushEvent::DeletedUpstream => {
            format!("🗑 Deleted upstream on {}: {}", item.platform, item.title)
        }
    }
}

pub fn discord(event: PushEvent, item: &Summary) -> Value {
    let mut embed = json!({
        "title": clip(item.title, DISCORD_TITLE),
        "url": item.url,
        "description": clip(item.text, DISCORD_DESCRIPTION),
        "footer": {"text": clip(&format!("VaultStream · {} · #{}", item.platform, item.id), 2048)},
    });
    if let Some(t) = item.published_at {
        embed["timestamp"] = json!(t.to_rfc3339());
    }
    if let Some(name) = item.author {
        embed["author"] = json!({"name": clip(name, DISCORD_TITLE)});
    }
    json!({
        "username": "VaultStream",
        "content": clip(&headline(event, item), DISCORD_CONTENT),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

/// Slack's mrkdwn escaping: `&`, `<`, `>` only.
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn slack(event: PushEvent, item: &Summary) -> Value {
    // A link's URL may not hold `|` or `>`; the title is escaped.
    let link_url = item.url.replace('|', "%7C").replace('>', "%3E");
    let title = slack_escape(item.title);
    let mut text = format!("*<{link_url}|{title}>*");
    if let Some(name) = item.author {
        text.push_str(&format!(" — {}", slack_escape(name)));
    }
    if event == PushEvent::DeletedUpstream {
        text = format!("{}\n{text}", slack_escape(&headline(event, item)));
    } else if !item.text.is_empty() {
        text.push('\n');
        text.push_str(&slack_escape(item.text));
    }
    // Clip after escaping, so an entity is never cut in half.
    let section = clip_escaped(&text, SLACK_SECTION);
    json!({
        "text": clip(&slack_escape(&headline(event, item)), SLACK_SECTION),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": section}}],
        "unfurl_links": false,
        "unfurl_media": false,
    })
}

/// [`clip`] that backs off an `&…;` entity it would cut.
fn clip_escaped(s: &str, max: usize) -> String {
    let clipped = clip(s, max);
    if clipped.len() == s.len() {
        return clipped;
    }
    let body = clipped.trim_end_matches('…');
    match body.rfind('&') {
        Some(i) if !body[i..].contains(';') => format!("{}…", &body[..i]),
        _ => clipped,
    }
}

#[cfg(test)]
mod tests;
