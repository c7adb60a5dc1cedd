//! Xiaohongshu (RED): one note per 24-hex-digit id.
//!
//! Share URLs carry `xsec_token`/`xsec_source`/`share_id`; they change with
//! every share of the same note and are not part of its identity (the
//! fetcher may still use the token from `submitted_url`).

use url::Url;
use vaultstream_core::{ContentKind, Platform};

use super::{Found, content, is, segments};

pub(crate) const HOSTS: &[&str] = &[
    "xiaohongshu.com",
    "www.xiaohongshu.com",
    "m.xiaohongshu.com",
    "xhslink.com",
    "www.xhslink.com",
];

fn note(id: &str) -> Option<Found> {
    if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let id = id.to_ascii_lowercase();
    let canonical = format!("https://www.xiaohongshu.com/explore/{id}");
    content(Platform::Xiaohongshu, id, canonical, ContentKind::Note)
}

pub(crate) fn recognise(host: &str, url: &Url) -> Option<Found> {
    if !HOSTS.contains(&host) {
        return None;
    }
    let seg = segments(url);
    if host.ends_with("xhslink.com") {
        // xhslink.com/<code>, /a/<code>, /m/<code>, /o/<code>
        return (!seg.is_empty()).then_some(Found::Short);
    }
    match seg.as_slice() {
        [explore, id] if is(Some(explore), "explore") => note(id),
        [discovery, item, id] if is(Some(discovery), "discovery") && is(Some(item), "item") => {
            note(id)
        }
        [user, profile, _uid, id] if is(Some(user), "user") && is(Some(profile), "profile") => {
            note(id)
        }
        _ => None,
    }
}
