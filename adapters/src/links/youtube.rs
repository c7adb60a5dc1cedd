//! YouTube: one video per 11-character id (case-sensitive).

use url::Url;
use vaultstream_core::{ContentKind, Platform};

use super::{Found, content, is, query_param, segments};

pub(crate) const HOSTS: &[&str] = &[
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "music.youtube.com",
    "youtu.be",
    "www.youtu.be",
    "youtube-nocookie.com",
    "www.youtube-nocookie.com",
];

fn video(id: &str) -> Option<Found> {
    // `/embed/videoseries?list=…` is a playlist whose name happens to be 11
    // letters long.
    let valid = id.len() == 11
        && id != "videoseries"
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return None;
    }
    content(
        Platform::Youtube,
        id.to_owned(),
        format!("https://www.youtube.com/watch?v={id}"),
        ContentKind::Video,
    )
}

pub(crate) fn recognise(host: &str, url: &Url) -> Option<Found> {
    if !HOSTS.contains(&host) {
        return None;
    }
    let seg = segments(url);
    if host.ends_with("youtu.be") {
        return video(seg.first()?);
    }
    match seg.as_slice() {
        // `?v=a&v=b` plays `a`: the first one wins, and a bad first one is
        // not replaced by a later one.
        [watch] if is(Some(watch), "watch") => video(&query_param(url, "v")?),
        [kind, id, ..]
            if ["shorts", "embed", "v", "live", "e"]
                .iter()
                .any(|k| kind.eq_ignore_ascii_case(k)) =>
        {
            video(id)
        }
        _ => None,
    }
}
