//! Zhihu: answers, questions, column articles, pins and videos.
//!
//! An answer's id is unique on its own, so `/question/<q>/answer/<a>` and
//! `/answer/<a>` are the same item; the id is prefixed with its kind because
//! the numeric spaces of answers, questions and articles overlap.

use url::Url;
use vaultstream_core::{ContentKind, Platform};

use super::{Found, content, numeric_id, query_param, segments};

pub(crate) const HOSTS: &[&str] = &[
    "zhihu.com",
    "www.zhihu.com",
    "m.zhihu.com",
    "zhuanlan.zhihu.com",
    "oia.zhihu.com",
    "link.zhihu.com",
];

fn item(kind: &str, id: &str) -> Option<Found> {
    let id = numeric_id(id, 1, 20)?;
    let (canonical, content_kind) = match kind {
        "answer" => (
            format!("https://www.zhihu.com/answer/{id}"),
            ContentKind::Answer,
        ),
        "question" => (
            format!("https://www.zhihu.com/question/{id}"),
            ContentKind::Question,
        ),
        "article" => (
            format!("https://zhuanlan.zhihu.com/p/{id}"),
            ContentKind::Article,
        ),
        "pin" => (format!("https://www.zhihu.com/pin/{id}"), ContentKind::Post),
        "zvideo" => (
            format!("https://www.zhihu.com/zvideo/{id}"),
            ContentKind::Video,
        ),
        _ => return None,
    };
    content(
        Platform::Zhihu,
        format!("{kind}:{id}"),
        canonical,
        content_kind,
    )
}

pub(crate) fn recognise(host: &str, url: &Url) -> Option<Found> {
    if !HOSTS.contains(&host) {
        return None;
    }
    let seg = segments(url);
    let lower: Vec<String> = seg.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    match host {
        // link.zhihu.com/?target=<url>: Zhihu's outbound-link interstitial;
        // the content is the target.
        "link.zhihu.com" => {
            let target = query_param(url, "target")?;
            Url::parse(&target).ok().map(Found::Unwrap)
        }
        "zhuanlan.zhihu.com" => match lower.as_slice() {
            ["p", _] => item("article", seg[1]),
            _ => None,
        },
        // The app's "open in browser" links.
        "oia.zhihu.com" => match lower.as_slice() {
            ["answers", _] => item("answer", seg[1]),
            ["questions", _] => item("question", seg[1]),
            ["articles", _] => item("article", seg[1]),
            ["pins", _] => item("pin", seg[1]),
            _ => None,
        },
        _ => match lower.as_slice() {
            ["question", _, "answer", _, ..] => item("answer", seg[3]),
            // /question/<q>/answers/updated etc. only re-sort the question.
            ["question", _] | ["question", _, "answers", ..] => item("question", seg[1]),
            ["answer", _] | ["appview", "answer", _] => item("answer", seg[seg.len() - 1]),
            ["appview", "p", _] => item("article", seg[2]),
            ["pin", _] | ["appview", "pin", _] => item("pin", seg[seg.len() - 1]),
            ["zvideo", _] => item("zvideo", seg[1]),
            _ => None,
        },
    }
}
