//! Bangumi/PGC (`ep<id>`, `ss<id>`): the PGC season API
//! (`pgc/view/web/season?season_id=` or `?ep_id=`), whose envelope is
//! `{code, message, result}` (`result`, not `data`).
//!
//! The item is the season (kind `season`): its title, its description
//! (`evaluate`) as text, its cover, and its episodes (`result.episodes[]`,
//! the main feature, in order) as parts with their title (`title` and
//! `long_title`), URL, duration (given in ms) and publication time; an
//! episode's own cover is an image of its part. For an `ep` link the
//! episode is marked `shared` (looked up among the extras in
//! `result.section[]` too, and listed after the episodes when it is one),
//! and its page is the item's video, which the media step downloads
//! through yt-dlp (members-only or paid episodes fail there, per file).
//! A whole season (`ss`) archives no video.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use vaultstream_core::ContentKind;
use vaultstream_core::parsed::{FetchError, MediaRole, ParsedItem, ParsedPart};

use super::{absolute, author, get, with_referer};
use crate::fetch::value::{array_at, first_str, id_at, int_at, stat, str_at, u32_at, unix_secs};
use crate::fetch::{Ctx, html, malformed, media};

/// What the link named.
pub(super) enum Which<'a> {
    Episode(&'a str),
    Season(&'a str),
}

pub(super) async fn fetch(ctx: &Ctx, which: Which<'_>) -> Result<ParsedItem, FetchError> {
    let query = match &which {
        Which::Episode(ep) => format!("ep_id={ep}"),
        Which::Season(ss) => format!("season_id={ss}"),
    };
    let body = get(
        ctx,
        &format!("https://api.bilibili.com/pgc/view/web/season?{query}"),
        "the PGC season API",
    )
    .await?;
    let shared = match which {
        Which::Episode(ep) => Some(ep),
        Which::Season(_) => None,
    };
    parse_season(&body, shared)
}

/// A `pgc/view/web/season` body (code already checked).
pub(super) fn parse_season(
    body: &Value,
    shared_ep: Option<&str>,
) -> Result<ParsedItem, FetchError> {
    let r = body
        .get("result")
        .filter(|r| r.is_object())
        .ok_or_else(|| malformed("the PGC season answer has no `result`", ""))?;
    let title = first_str(r, &["/title", "/season_title"]);
    let season_id = id_at(r, "/season_id");
    if title.is_none() && season_id.is_none() {
        return Err(malformed(
            "the PGC season `result` has neither `title` nor `season_id`",
            "",
        ));
    }
    let mut episodes: Vec<&Value> = array_at(r, "/episodes").iter().collect();
    let is_shared = |e: &Value| shared_ep.is_some_and(|s| id_at(e, "/id").as_deref() == Some(s));
    if shared_ep.is_some() && !episodes.iter().any(|e| is_shared(e)) {
        // An extra (PV, special) of the season: keep it, after the episodes.
        let extra = array_at(r, "/section")
            .iter()
            .flat_map(|s| array_at(s, "/episodes"))
            .find(|e| is_shared(e));
        episodes.extend(extra);
    }

    let mut media_list = Vec::new();
    if let Some(cover) = str_at(r, "/cover") {
        media_list.push(with_referer(media(MediaRole::Cover, absolute(&cover))));
    }
    let mut parts = Vec::with_capacity(episodes.len());
    let mut shared_video = None;
    for (i, e) in episodes.iter().enumerate() {
        let part = episode(e, is_shared(e));
        if let Some(cover) = str_at(e, "/cover") {
            let mut m = with_referer(media(MediaRole::Image, absolute(&cover)));
            m.width = u32_at(e, "/dimension/width");
            m.height = u32_at(e, "/dimension/height");
            m.part = Some(i as u32);
            media_list.push(m);
        }
        if part.shared
            && let Some(url) = &part.url
        {
            let mut v = media(MediaRole::Video, url.clone());
            v.duration_secs = part.duration_secs;
            v.part = Some(i as u32);
            shared_video = Some(v);
        }
        parts.push(part);
    }
    media_list.extend(shared_video);

    let text = str_at(r, "/evaluate");
    let mut stats = Default::default();
    for (key, ptr) in [
        ("views", "/stat/views"),
        ("likes", "/stat/likes"),
        ("coins", "/stat/coins"),
        ("favorites", "/stat/favorites"),
        ("comments", "/stat/reply"),
        ("shares", "/stat/share"),
        ("danmaku", "/stat/danmakus"),
    ] {
        stat(&mut stats, key, int_at(r, ptr));
    }
    let mut fields = std::collections::BTreeMap::new();
    if let Some(total) = int_at(r, "/total").filter(|t| *t > 0) {
        fields.insert("episodes_total".to_owned(), Value::from(total));
    }
    if let Some(rating) = r.get("rating").filter(|v| v.is_object()) {
        fields.insert("rating".to_owned(), rating.clone());
    }
    if let Some(kind) = r.get("type").filter(|v| v.is_number()) {
        fields.insert("season_type".to_owned(), kind.clone());
    }
    let canonical_url = parts
        .iter()
        .find(|p| p.shared)
        .and_then(|p| p.url.clone())
        .or_else(|| str_at(r, "/share_url"))
        .or_else(|| season_id.map(|s| format!("https://www.bilibili.com/bangumi/play/ss{s}")));
    Ok(ParsedItem {
        kind: Some(ContentKind::Season),
        title,
        html: text.as_deref().map(html::text_to_html),
        text,
        author: author(r, "/up_info/mid", "/up_info/uname", "/up_info/avatar"),
        published_at: str_at(r, "/publish/pub_time")
            .and_then(|t| beijing_time(&t))
            .or_else(|| {
                episodes
                    .first()
                    .and_then(|e| int_at(e, "/pub_time"))
                    .and_then(unix_secs)
            }),
        stats,
        tags: array_at(r, "/styles")
            .iter()
            .filter_map(|s| s.as_str().map(str::trim).filter(|s| !s.is_empty()))
            .map(str::to_owned)
            .collect(),
        canonical_url,
        media: media_list,
        parts,
        fields,
        quoted: None,
        raw: body.clone(),
    })
}

fn episode(e: &Value, shared: bool) -> ParsedPart {
    let title = match (str_at(e, "/title"), str_at(e, "/long_title")) {
        (Some(t), Some(l)) => Some(format!("{t} {l}")),
        (t, l) => t.or(l),
    };
    let id = id_at(e, "/id");
    ParsedPart {
        url: str_at(e, "/share_url")
            .or_else(|| str_at(e, "/link"))
            .or_else(|| {
                id.as_ref()
                    .map(|i| format!("https://www.bilibili.com/bangumi/play/ep{i}"))
            }),
        id,
        title,
        published_at: int_at(e, "/pub_time").and_then(unix_secs),
        duration_secs: int_at(e, "/duration")
            .filter(|ms| *ms > 0)
            .map(|ms| ms as f64 / 1000.0),
        shared,
        ..ParsedPart::default()
    }
}

/// `"2023-03-03 18:00:00"`: Bilibili's wall-clock times are Beijing time
/// (UTC+8, no daylight saving).
fn beijing_time(s: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    Some(local.and_utc() - chrono::Duration::hours(8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_times_are_beijing_time() {
        assert_eq!(
            beijing_time("2023-03-03 18:00:00").map(|t| t.timestamp()),
            Some(1_677_837_600)
        );
        assert_eq!(beijing_time("soon"), None);
    }
}
