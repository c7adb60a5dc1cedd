//! Douyin: one aweme (video or photo note) per numeric id.
//!
//! The web app opens items in a modal over any page (`?modal_id=<id>` on
//! discover, jingxuan, user pages); that modal is the item, whatever the page
//! behind it.

use url::Url;
use vaultstream_core::{ContentKind, Platform};

use super::{Found, content, is, numeric_id, query_param, segments};

pub(crate) const HOSTS: &[&str] = &[
    "douyin.com",
    "www.douyin.com",
    "m.douyin.com",
    "iesdouyin.com",
    "www.iesdouyin.com",
    "v.douyin.com",
];

fn aweme(id: &str, kind: ContentKind) -> Option<Found> {
    let id = numeric_id(id, 15, 20)?;
    let path = if kind == ContentKind::Note {
        "note"
    } else {
        "video"
    };
    content(
        Platform::Douyin,
        id.to_string(),
        format!("https://www.douyin.com/{path}/{id}"),
        kind,
    )
}

pub(crate) fn recognise(host: &str, url: &Url) -> Option<Found> {
    if !HOSTS.contains(&host) {
        return None;
    }
    let seg = segments(url);
    if host == "v.douyin.com" {
        return (!seg.is_empty()).then_some(Found::Short);
    }
    let kind_of = |s: &&str| {
        if is(Some(s), "video") {
            Some(ContentKind::Video)
        } else if is(Some(s), "note") || is(Some(s), "slides") {
            Some(ContentKind::Note)
        } else {
            None
        }
    };
    let by_path = match seg.as_slice() {
        // www.douyin.com/video/<id>, /note/<id>
        [kind, id] => kind_of(kind).and_then(|k| aweme(id, k)),
        // iesdouyin.com/share/video/<id>/, m.douyin.com/share/note/<id>
        [share, kind, id, ..] if is(Some(share), "share") => {
            kind_of(kind).and_then(|k| aweme(id, k))
        }
        _ => None,
    };
    by_path.or_else(|| aweme(&query_param(url, "modal_id")?, ContentKind::Video))
}
