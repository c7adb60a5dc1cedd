//! JSON Feed 1.1 (<https://www.jsonfeed.org/version/1.1/>): `version`,
//! `title` and `items` (each with its `id`) are required; `next_url`
//! pages to older items; every archived file is an `attachment`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Channel, Entry, clip};

pub const VERSION: &str = "https://jsonfeed.org/version/1.1";
const SUMMARY_CHARS: usize = 500;

/// A JSON Feed 1.1 document.
#[derive(Debug, Serialize, ToSchema)]
pub struct JsonFeed {
    /// `https://jsonfeed.org/version/1.1`.
    pub version: &'static str,
    pub title: String,
    pub description: String,
    pub home_page_url: String,
    /// This page (with the feed's token).
    pub feed_url: String,
    /// The next, older page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_url: Option<String>,
    pub items: Vec<JsonFeedItem>,
}

/// One item of a JSON Feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct JsonFeedItem {
    /// The item's canonical URL: unique and stable.
    pub id: String,
    pub url: String,
    pub title: String,
    /// The full text with the archived pictures inline.
    pub content_html: String,
    pub content_text: String,
    pub summary: String,
    pub date_published: DateTime<Utc>,
    pub date_modified: DateTime<Utc>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<JsonFeedAuthor>,
    pub tags: Vec<String>,
    /// The archived files (URLs carry the feed's token).
    pub attachments: Vec<JsonFeedAttachment>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JsonFeedAuthor {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JsonFeedAttachment {
    pub url: String,
    pub mime_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_in_bytes: Option<i64>,
}

pub fn document(ch: &Channel, entries: &[Entry]) -> JsonFeed {
    JsonFeed {
        version: VERSION,
        title: ch.title.clone(),
        description: ch.description.clone(),
        home_page_url: ch.home_url.clone(),
        feed_url: ch.self_url.clone(),
        next_url: ch.next_url.clone(),
        items: entries
            .iter()
            .map(|e| JsonFeedItem {
                id: e.id.clone(),
                url: e.link.clone(),
                title: e.title.clone(),
                content_html: e.html.clone(),
                content_text: e.text.clone(),
                summary: clip(&e.text, SUMMARY_CHARS),
                date_published: e.published,
                date_modified: e.updated,
                authors: e
                    .author
                    .iter()
                    .map(|name| JsonFeedAuthor {
                        name: name.clone(),
                        url: e.author_url.clone(),
                    })
                    .collect(),
                tags: e.tags.clone(),
                attachments: e
                    .enclosures
                    .iter()
                    .map(|m| JsonFeedAttachment {
                        url: m.url.clone(),
                        mime_type: m.mime.clone(),
                        size_in_bytes: m.bytes.filter(|b| *b > 0),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn render(ch: &Channel, entries: &[Entry]) -> String {
    serde_json::to_string_pretty(&document(ch, entries)).unwrap_or_else(|_| "{}".to_owned())
}
