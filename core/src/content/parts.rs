//! The parts of a whole post as the API shows them, and the readable title
//! an item without one is shown under.
//!
//! Parts are stored on the item as the adapter gave them (a JSON list of
//! [`ParsedPart`]); each media row names the part it belongs to by index.
//! A view of a part carries its own media, in the item's order, so a client
//! can lay out a thread or a season without matching indexes itself.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{AuthorView, MediaView};
use crate::parsed::ParsedPart;

/// One part of a whole post: a tweet of a self-thread, an episode of a
/// season, a page of a multi-part video, a post of a repost chain. A field
/// the platform does not give is null, never invented.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartView {
    /// Its place in the item, from 0; media name it in their `part`.
    pub index: u32,
    /// The platform's id of the part (a tweet id, an episode id…).
    pub id: Option<String>,
    pub title: Option<String>,
    /// Plain text.
    pub text: Option<String>,
    /// Sanitised HTML, where the platform has rich text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// The part's own original URL.
    pub url: Option<String>,
    /// Its author, when it differs from the item's (a reposted status).
    pub author: Option<AuthorView>,
    pub published_at: Option<DateTime<Utc>>,
    pub duration_secs: Option<f64>,
    /// The part the user shared (the tweet of the thread, the episode of
    /// the season).
    pub shared: bool,
    /// The item's media that belong to this part, in the item's order.
    pub media: Vec<MediaView>,
}

impl PartView {
    fn new(index: u32, p: ParsedPart) -> Self {
        PartView {
            index,
            id: p.id,
            title: p.title,
            text: p.text,
            html: p.html,
            url: p.url,
            author: p.author.and_then(|a| {
                (a.name.is_some() || a.id.is_some() || a.url.is_some()).then_some(AuthorView {
                    name: a.name,
                    id: a.id,
                    url: a.url,
                })
            }),
            published_at: p.published_at,
            duration_secs: p.duration_secs,
            shared: p.shared,
            media: Vec::new(),
        }
    }
}

/// The stored parts (`contents.parts`) as views, each with its media
/// (those whose `part` is its index, in `media`'s order). A value that is
/// not a list of parts reads as none: the item is shown as a single part.
pub fn part_views(stored: Option<&serde_json::Value>, media: &[MediaView]) -> Vec<PartView> {
    let Some(value) = stored else {
        return Vec::new();
    };
    let parts: Vec<ParsedPart> = match serde_json::from_value(value.clone()) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "stored parts are not readable; shown without them");
            return Vec::new();
        }
    };
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let mut view = PartView::new(index, p);
            view.media = media
                .iter()
                .filter(|m| m.part.is_some_and(|n| i64::from(n) == i64::from(index)))
                .cloned()
                .collect();
            view
        })
        .collect()
}

/// What an item is called where a title is needed: its title when it has
/// one, else a readable name made from its kind, platform and author —
/// "Thread by @jack", "Weibo post by 新浪新闻", "Bilibili article by X",
/// "Zhihu pin" — never a made-up title.
pub fn display_title(
    title: Option<&str>,
    platform: &str,
    kind: &str,
    canonical_url: &str,
    author: Option<&AuthorView>,
) -> String {
    if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
        return t.to_owned();
    }
    let kind = kind_noun(kind);
    let by = author.and_then(|a| author_label(platform, a));
    match (platform, by) {
        // On X people go by their handle, and "X post" reads oddly.
        ("twitter", Some(by)) => format!("{} by {by}", capitalised(kind)),
        ("web", by) => {
            let host = url::Url::parse(canonical_url).ok().and_then(|u| {
                u.host_str()
                    .map(|h| h.trim_start_matches("www.").to_owned())
            });
            let base = match host {
                Some(h) => format!("{} on {h}", capitalised(kind)),
                None => format!("Web {kind}"),
            };
            match by {
                Some(by) => format!("{base} by {by}"),
                None => base,
            }
        }
        (p, Some(by)) => format!("{} {kind} by {by}", platform_label(p)),
        (p, None) => format!("{} {kind}", platform_label(p)),
    }
}

/// A platform's name for people.
pub fn platform_label(platform: &str) -> &'static str {
    match platform {
        "bilibili" => "Bilibili",
        "twitter" => "X",
        "weibo" => "Weibo",
        "xiaohongshu" => "Xiaohongshu",
        "zhihu" => "Zhihu",
        "douyin" => "Douyin",
        "youtube" => "YouTube",
        _ => "Web",
    }
}

fn kind_noun(kind: &str) -> &'static str {
    match kind {
        "video" => "video",
        "post" => "post",
        "note" => "note",
        "answer" => "answer",
        "question" => "question",
        "article" => "article",
        "thread" => "thread",
        "season" => "season",
        "pin" => "pin",
        _ => "page",
    }
}

fn capitalised(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The author as people name them: an X handle (`@jack`, from the profile
/// URL), else the display name. Platform ids (numbers, Douyin's sec_uid)
/// are not names and are left out.
fn author_label(platform: &str, a: &AuthorView) -> Option<String> {
    let handle = (platform == "twitter")
        .then_some(a.url.as_deref())
        .flatten()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| {
            let mut segs = u.path_segments()?;
            let first = segs.next()?.to_owned();
            (!first.is_empty() && segs.all(str::is_empty)).then_some(first)
        })
        .filter(|h| h.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .map(|h| format!("@{h}"));
    handle.or_else(|| {
        a.name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author(name: Option<&str>, id: Option<&str>, url: Option<&str>) -> AuthorView {
        AuthorView {
            name: name.map(Into::into),
            id: id.map(Into::into),
            url: url.map(Into::into),
        }
    }

    #[test]
    fn a_title_wins_and_is_never_invented_over() {
        let a = author(Some("Jack"), Some("12"), Some("https://x.com/jack"));
        assert_eq!(
            display_title(Some("  Hello "), "twitter", "thread", "", Some(&a)),
            "Hello"
        );
        assert_eq!(
            display_title(Some(" "), "twitter", "thread", "", Some(&a)),
            "Thread by @jack"
        );
        assert_eq!(
            display_title(
                None,
                "twitter",
                "post",
                "",
                Some(&author(Some("Jack"), None, None))
            ),
            "Post by Jack"
        );
    }

    #[test]
    fn fallbacks_name_platform_kind_and_author() {
        let sina = author(Some("新浪新闻"), Some("2028810631"), None);
        assert_eq!(
            display_title(None, "weibo", "post", "", Some(&sina)),
            "Weibo post by 新浪新闻"
        );
        let x = author(Some("X"), None, Some("https://space.bilibili.com/1"));
        assert_eq!(
            display_title(None, "bilibili", "article", "", Some(&x)),
            "Bilibili article by X"
        );
        // An id alone is not a name.
        let bare = author(None, Some("MS4wLjABAAAA"), None);
        assert_eq!(
            display_title(None, "douyin", "note", "", Some(&bare)),
            "Douyin note"
        );
        assert_eq!(display_title(None, "zhihu", "pin", "", None), "Zhihu pin");
        assert_eq!(
            display_title(None, "twitter", "thread", "", None),
            "X thread"
        );
        assert_eq!(
            display_title(None, "web", "page", "https://www.example.com/a?b", None),
            "Page on example.com"
        );
    }

    #[test]
    fn parts_carry_their_media() {
        let stored = serde_json::json!([
            {"id": "1", "text": "one", "shared": true},
            {"id": "2", "text": "two", "html": "<p>two</p>",
             "author": {"name": "B", "id": null, "url": null, "avatar_url": null}},
        ]);
        let media: Vec<MediaView> = [None, Some(1), Some(0), Some(1)]
            .into_iter()
            .enumerate()
            .map(|(i, part)| MediaView::for_test(i as i64, part))
            .collect();
        let parts = part_views(Some(&stored), &media);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].index, 0);
        assert!(parts[0].shared && !parts[1].shared);
        let ids = |p: &PartView| p.media.iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids(&parts[0]), vec![2]);
        assert_eq!(ids(&parts[1]), vec![1, 3]);
        assert_eq!(
            parts[1].author.as_ref().and_then(|a| a.name.as_deref()),
            Some("B")
        );
        let json = serde_json::to_value(&parts[0]).unwrap();
        assert!(json.get("html").is_none(), "{json}");
        assert_eq!(json["author"], serde_json::Value::Null);
        assert!(part_views(Some(&serde_json::json!({"not": "a list"})), &media).is_empty());
        assert!(part_views(None, &media).is_empty());
    }
}
