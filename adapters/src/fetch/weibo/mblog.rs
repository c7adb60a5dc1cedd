//! One Weibo status ("mblog") as an item. The parser reads both shapes a
//! status comes in: m.weibo.cn's (`pics[]` with `large.url`) and
//! weibo.com's `ajax` one (`pic_ids[]` in order, `pic_infos{id: {largest,
//! original, type, video}}`), so the same object from either API parses.
//!
//! A repost is one item with two parts: the repost (shared: it is what the
//! link names) and the original, whose author is its own; every picture of
//! both is in the item's media with its part. Weibo keeps a repost of a
//! repost flat (the original is always the root; the middle reposts are
//! `//@name:` quotes in the text), so there are never more than two.

use serde_json::{Value, json};
use vaultstream_core::ContentKind;
use vaultstream_core::parsed::{
    FetchError, MediaRef, MediaRole, ParsedAuthor, ParsedItem, ParsedPart,
};

use super::super::value::{array_at, f64_at, first_str, id_at, int_at, stat, str_at, u32_at};
use super::super::{html, malformed, media};

/// The item of a status, with its reposted original as a second part.
pub(super) fn parse_status(d: &Value) -> Result<ParsedItem, FetchError> {
    let mut item = parse_one(d)?;
    let Some(r) = d.get("retweeted_status").filter(|r| r.is_object()) else {
        return Ok(item);
    };
    let original = parse_one(r)?;
    item.parts = vec![
        part(&item, d, None, true),
        part(&original, r, original.author.clone(), false),
    ];
    let mut covers = Vec::new();
    let mut images = Vec::new();
    let mut videos = Vec::new();
    for (n, post) in [&item, &original].into_iter().enumerate() {
        for m in &post.media {
            let mut m = m.clone();
            m.part = Some(n as u32);
            match m.role {
                MediaRole::Cover => covers.push(m),
                MediaRole::Video => videos.push(m),
                _ => images.push(m),
            }
        }
    }
    let live: Vec<Value> = [&item, &original]
        .into_iter()
        .enumerate()
        .flat_map(|(n, post)| {
            let listed = post.fields.get("live_photos").and_then(Value::as_array);
            listed.into_iter().flatten().map(move |l| {
                let mut l = l.clone();
                l["part"] = json!(n);
                l
            })
        })
        .collect();
    item.media = covers.into_iter().chain(images).chain(videos).collect();
    if !live.is_empty() {
        item.fields
            .insert("live_photos".to_owned(), Value::Array(live));
    }
    item.quoted = Some(Box::new(original));
    Ok(item)
}

fn part(post: &ParsedItem, d: &Value, author: Option<ParsedAuthor>, shared: bool) -> ParsedPart {
    ParsedPart {
        id: mid_of(d).or_else(|| first_str(d, &["/bid", "/mblogid"])),
        title: None,
        text: post.text.clone(),
        html: post.html.clone(),
        url: post.canonical_url.clone(),
        author,
        published_at: post.published_at,
        duration_secs: None,
        shared,
    }
}

pub(super) fn mid_of(d: &Value) -> Option<String> {
    first_str(d, &["/mid", "/idstr"]).or_else(|| id_at(d, "/id"))
}

/// One mblog object on its own (the repost's original is parsed the same
/// way).
fn parse_one(d: &Value) -> Result<ParsedItem, FetchError> {
    let rich = first_str(d, &["/longText/longTextContent", "/text", "/text_raw"]);
    let mid = mid_of(d);
    let bid = first_str(d, &["/bid", "/mblogid"]);
    if rich.is_none() && mid.is_none() && bid.is_none() {
        return Err(malformed("the Weibo post has neither text nor id", ""));
    }
    let text = rich.as_deref().map(html::to_text).filter(|t| !t.is_empty());
    let uid = id_at(d, "/user/id");
    let mut stats = Default::default();
    stat(&mut stats, "shares", int_at(d, "/reposts_count"));
    stat(&mut stats, "comments", int_at(d, "/comments_count"));
    stat(&mut stats, "likes", int_at(d, "/attitudes_count"));

    let (images, mut videos, live) = pictures(d);
    let mut covers = Vec::new();
    if str_at(d, "/page_info/type").as_deref() == Some("video") {
        let video_url = first_str(
            d,
            &[
                "/page_info/urls/mp4_720p_mp4",
                "/page_info/urls/mp4_hd_mp4",
                "/page_info/urls/mp4_ld_mp4",
                "/page_info/media_info/stream_url_hd",
                "/page_info/media_info/stream_url",
            ],
        );
        if let Some(url) = video_url {
            let mut v = media(MediaRole::Video, url);
            v.duration_secs = f64_at(d, "/page_info/media_info/duration");
            videos.insert(0, with_referer(v));
        }
        if let Some(cover) = str_at(d, "/page_info/page_pic/url") {
            covers.push(with_referer(media(MediaRole::Cover, cover)));
        }
    }
    let mut fields = std::collections::BTreeMap::new();
    if !live.is_empty() {
        fields.insert("live_photos".to_owned(), Value::Array(live));
    }
    Ok(ParsedItem {
        kind: Some(ContentKind::Post),
        title: None,
        html: rich.as_deref().map(html::sanitise),
        tags: text.as_deref().map(topics).unwrap_or_default(),
        text,
        author: Some(ParsedAuthor {
            name: str_at(d, "/user/screen_name"),
            url: uid.as_ref().map(|u| format!("https://weibo.com/u/{u}")),
            id: uid.clone(),
            avatar_url: first_str(d, &["/user/avatar_hd", "/user/profile_image_url"]),
        }),
        published_at: str_at(d, "/created_at").and_then(|s| parse_created(&s)),
        stats,
        canonical_url: match (&uid, bid.or(mid)) {
            (Some(u), Some(b)) => Some(format!("https://weibo.com/{u}/{b}")),
            _ => None,
        },
        media: covers.into_iter().chain(images).chain(videos).collect(),
        quoted: None,
        parts: Vec::new(),
        fields,
        raw: d.clone(),
    })
}

/// The status's pictures in order, the videos of its live photos, and the
/// `live_photos` field (`{pic_id, image, video}` each).
fn pictures(d: &Value) -> (Vec<MediaRef>, Vec<MediaRef>, Vec<Value>) {
    let mut images = Vec::new();
    let mut videos = Vec::new();
    let mut live = Vec::new();
    // weibo.com: `pic_ids` orders `pic_infos`.
    for pid in array_at(d, "/pic_ids").iter().filter_map(Value::as_str) {
        let Some(info) = d.pointer("/pic_infos").and_then(|p| p.get(pid)) else {
            continue;
        };
        let size = ["largest", "original", "large", "mw2000"]
            .into_iter()
            .find(|k| str_at(info, &format!("/{k}/url")).is_some());
        let Some(size) = size else { continue };
        let Some(url) = str_at(info, &format!("/{size}/url")) else {
            continue;
        };
        let mut m = media(MediaRole::Image, url.clone());
        m.width = u32_at(info, &format!("/{size}/width"));
        m.height = u32_at(info, &format!("/{size}/height"));
        images.push(with_referer(m));
        // A live photo: the still and its motion, both kept. Some answers
        // name the type; the motion URL alone says it too (a GIF's type
        // says "gif").
        let kind = str_at(info, "/type");
        let motion =
            str_at(info, "/video").filter(|_| matches!(kind.as_deref(), None | Some("livephoto")));
        if let Some(video) = motion {
            let mut v = media(MediaRole::Video, video.clone());
            v.mime = Some("video/quicktime".to_owned());
            videos.push(with_referer(v));
            live.push(json!({"pic_id": pid, "image": url, "video": video}));
        }
    }
    if !images.is_empty() {
        return (images, videos, live);
    }
    // m.weibo.cn: `pics` is a list, or an object keyed "0", "1", …
    // (RSSHub normalises it).
    let pics: Vec<&Value> = match d.get("pics") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(o)) => {
            let mut entries: Vec<(&String, &Value)> = o.iter().collect();
            entries.sort_by_key(|(k, _)| k.parse::<u32>().unwrap_or(u32::MAX));
            entries.into_iter().map(|(_, v)| v).collect()
        }
        _ => Vec::new(),
    };
    for p in pics {
        let (url, geo) = match str_at(p, "/large/url") {
            Some(u) => (Some(u), "/large/geo"),
            None => (str_at(p, "/url"), "/geo"),
        };
        if let Some(url) = url {
            let mut m = media(MediaRole::Image, url);
            m.width = u32_at(p, &format!("{geo}/width"));
            m.height = u32_at(p, &format!("{geo}/height"));
            images.push(with_referer(m));
        }
    }
    (images, videos, live)
}

/// `Thu Nov 13 21:18:29 +0800 2025` (statuses/show). List APIs give relative
/// forms ("08-02", "13小时前") without a year or a reference time: those
/// stay unknown rather than guessed.
fn parse_created(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_str(s.trim(), "%a %b %d %H:%M:%S %z %Y")
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// `#话题#` topics in the plain text, each once.
fn topics(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let parts: Vec<&str> = text.split('#').collect();
    // Odd-indexed parts sit between a pair of '#'.
    for (i, part) in parts.iter().enumerate() {
        let closed = i + 1 < parts.len();
        if i % 2 == 1 && closed {
            let t = part.trim();
            if !t.is_empty() && t.chars().count() <= 64 && !out.iter().any(|o| o == t) {
                out.push(t.to_owned());
            }
        }
    }
    out
}

/// sinaimg.cn serves images to Weibo's own pages; a foreign Referer gets a
/// placeholder.
fn with_referer(mut m: MediaRef) -> MediaRef {
    m.headers
        .insert("Referer".to_owned(), "https://weibo.com/".to_owned());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_at_forms() {
        let t = parse_created("Thu Nov 13 21:18:29 +0800 2025").map(|t| t.timestamp());
        assert_eq!(t, Some(1_763_039_909));
        assert_eq!(parse_created("08-02"), None);
        assert_eq!(parse_created("13小时前"), None);
    }

    #[test]
    fn topics_between_hashes() {
        assert_eq!(topics("a #话题一# b #二#c #未闭合"), vec!["话题一", "二"]);
    }

    #[test]
    fn pics_as_object() {
        let d = serde_json::json!({"mid": "1", "text": "x", "pics": {"1": {"url": "https://b"}, "0": {"url": "https://a"}}});
        let item = parse_status(&d).expect("parses");
        let urls: Vec<&str> = item.media.iter().map(|m| m.url.as_str()).collect();
        assert_eq!(urls, vec!["https://a", "https://b"]);
    }
}
