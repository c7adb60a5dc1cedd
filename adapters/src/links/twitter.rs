//! Twitter / X: one status (tweet) per numeric snowflake id.
//!
//! The user name in the path is decoration (the status resolves under any
//! name, and users rename), so only the id counts; mirrors such as
//! fxtwitter.com keep Twitter's paths.

use url::Url;
use vaultstream_core::{ContentKind, Platform};

use super::{Found, content, is, numeric_id, segments};

pub(crate) const HOSTS: &[&str] = &[
    "twitter.com",
    "www.twitter.com",
    "mobile.twitter.com",
    "m.twitter.com",
    "x.com",
    "www.x.com",
    "mobile.x.com",
    "fxtwitter.com",
    "www.fxtwitter.com",
    "d.fxtwitter.com",
    "vxtwitter.com",
    "www.vxtwitter.com",
    "d.vxtwitter.com",
    "fixupx.com",
    "www.fixupx.com",
    "d.fixupx.com",
    "fixvx.com",
    "www.fixvx.com",
    "d.fixvx.com",
    "t.co",
];

/// Snowflakes are 19 digits today; 20 fits a u64 and leaves headroom.
const MAX_ID_DIGITS: usize = 20;

pub(crate) fn recognise(host: &str, url: &Url) -> Option<Found> {
    if !HOSTS.contains(&host) {
        return None;
    }
    let seg = segments(url);
    if host == "t.co" {
        return (!seg.is_empty()).then_some(Found::Short);
    }
    // /i/web/status/<id>, /i/status/<id>, /<user>/status(es)/<id>
    let (id, rest) = match seg.as_slice() {
        [i, web, status, id, rest @ ..]
            if i.eq_ignore_ascii_case("i")
                && web.eq_ignore_ascii_case("web")
                && is_status(status) =>
        {
            (*id, rest)
        }
        [_user, status, id, rest @ ..] if is_status(status) => (*id, rest),
        _ => return None,
    };
    if !is_status_suffix(rest) {
        return None;
    }
    let id = numeric_id(id, 1, MAX_ID_DIGITS)?;
    content(
        Platform::Twitter,
        id.to_string(),
        format!("https://x.com/i/status/{id}"),
        ContentKind::Post,
    )
}

fn is_status(s: &str) -> bool {
    s.eq_ignore_ascii_case("status") || s.eq_ignore_ascii_case("statuses")
}

/// Sub-pages of one tweet that still show that tweet.
fn is_status_suffix(rest: &[&str]) -> bool {
    match rest {
        [] => true,
        [one] => ["analytics", "quotes", "retweets", "likes", "history"]
            .iter()
            .any(|k| one.eq_ignore_ascii_case(k)),
        [kind, n] if is(Some(kind), "photo") || is(Some(kind), "video") => {
            n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit())
        }
        [retweets, with_comments] => {
            is(Some(retweets), "retweets") && is(Some(with_comments), "with_comments")
        }
        _ => false,
    }
}
