//! Weibo: `m.weibo.cn/statuses/show` (the mobile web API, as RSSHub uses
//! it), with the long text from `statusesextend` when the post is cut.
//!
//! The body is `{"ok":1,"data":<mblog>}`; `ok: -100` means the visitor
//! cookies are missing or expired (a login wall), `ok: 0` a refusal
//! (deleted, or not visible to us). A redirect to `passport.weibo.*` is the
//! login page.

use async_trait::async_trait;
use serde_json::Value;
use vaultstream_core::parsed::{ErrorClass, FetchError, MediaRole, ParsedAuthor, ParsedItem};
use vaultstream_core::{ContentKind, Platform};

use super::value::{first_str, id_at, int_at, stat, str_at, u32_at};
use super::{Adapter, Ctx, FetchRequest, build_url, html, malformed, media};
use crate::http::client::{Get, IPHONE_UA, Response};

pub(crate) struct Weibo;

#[async_trait]
impl Adapter for Weibo {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let id = req.identity.platform_id.as_str();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(FetchError::permanent(format!("`{id}` is not a Weibo id")));
        }
        let resp = ctx
            .http
            .get(api(&format!("https://m.weibo.cn/statuses/show?id={id}"))?)
            .await?;
        let mut body = checked(&resp)?;
        let long = body.pointer("/data/isLongText").and_then(Value::as_bool) == Some(true);
        let have_long = str_at(&body, "/data/longText/longTextContent").is_some();
        if long && !have_long {
            // Best effort: the cut text is still a usable item.
            match long_text(ctx, id).await {
                Ok(Some(text)) => {
                    if let Some(data) = body.get_mut("data").and_then(Value::as_object_mut) {
                        data.insert(
                            "longText".to_owned(),
                            serde_json::json!({ "longTextContent": text }),
                        );
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::info!(
                    content.platform_id = id,
                    error = %e.report(),
                    "Weibo long text unavailable for {id}; keeping the cut text"
                ),
            }
        }
        let data = body
            .get("data")
            .filter(|d| d.is_object())
            .ok_or_else(|| malformed("the Weibo answer has no `data`", ""))?;
        let mut item = parse_mblog(data)?;
        item.raw = body.clone();
        Ok(item)
    }
}

fn api(url: &str) -> Result<Get, FetchError> {
    Ok(Get::new(build_url(url)?, Platform::Weibo)
        .user_agent(IPHONE_UA)
        .header("referer", "https://m.weibo.cn/")
        .header("mweibo-pwa", "1")
        .header("x-requested-with", "XMLHttpRequest"))
}

fn checked(resp: &Response) -> Result<Value, FetchError> {
    let login_page = resp
        .url
        .host_str()
        .is_some_and(|h| h.starts_with("passport.weibo") || h.starts_with("login.sina"));
    if login_page {
        return Err(FetchError::auth_required(
            "Weibo redirected to its login page; set VAULTSTREAM_COOKIES_WEIBO",
        )
        .with_detail(format!("landed on {}", resp.url)));
    }
    resp.check_status(ErrorClass::AuthRequired)?;
    let body = resp.json("the Weibo answer")?;
    match body.get("ok").and_then(super::value::as_int) {
        Some(1) => Ok(body),
        Some(-100) => Err(FetchError::auth_required(
            "Weibo wants a login (visitor cookies missing or expired)",
        )),
        Some(code) => {
            let msg = str_at(&body, "/msg").unwrap_or_default();
            Err(
                FetchError::permanent("Weibo refused: the post is deleted or not visible")
                    .with_detail(format!("ok={code} msg={msg}")),
            )
        }
        None => Err(malformed(
            "the Weibo answer has no `ok`",
            crate::http::status::excerpt(&resp.body),
        )),
    }
}

async fn long_text(ctx: &Ctx, id: &str) -> Result<Option<String>, FetchError> {
    let resp = ctx
        .http
        .get(api(&format!("https://m.weibo.cn/statusesextend?id={id}"))?)
        .await?;
    let body = checked(&resp)?;
    Ok(str_at(&body, "/data/longTextContent"))
}

/// One mblog object (also the reposted original).
fn parse_mblog(d: &Value) -> Result<ParsedItem, FetchError> {
    let rich = first_str(d, &["/longText/longTextContent", "/text", "/text_raw"]);
    let mid = first_str(d, &["/mid", "/idstr"]).or_else(|| id_at(d, "/id"));
    if rich.is_none() && mid.is_none() {
        return Err(malformed("the Weibo post has neither text nor id", ""));
    }
    let text = rich.as_deref().map(html::to_text).filter(|t| !t.is_empty());
    let uid = id_at(d, "/user/id");
    let mut stats = Default::default();
    stat(&mut stats, "shares", int_at(d, "/reposts_count"));
    stat(&mut stats, "comments", int_at(d, "/comments_count"));
    stat(&mut stats, "likes", int_at(d, "/attitudes_count"));

    let mut covers = Vec::new();
    let mut images = Vec::new();
    let mut videos = Vec::new();
    // `pics` is a list, or an object keyed "0", "1", … (RSSHub normalises it).
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
            v.duration_secs = super::value::f64_at(d, "/page_info/media_info/duration");
            videos.push(with_referer(v));
        }
        if let Some(cover) = str_at(d, "/page_info/page_pic/url") {
            covers.push(with_referer(media(MediaRole::Cover, cover)));
        }
    }
    let quoted = match d.get("retweeted_status").filter(|r| r.is_object()) {
        Some(r) => Some(Box::new(parse_mblog(r)?)),
        None => None,
    };
    let bid = str_at(d, "/bid");
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
        quoted,
        parts: Vec::new(),
        fields: Default::default(),
        raw: d.clone(),
    })
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
fn with_referer(mut m: vaultstream_core::parsed::MediaRef) -> vaultstream_core::parsed::MediaRef {
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
        let item = parse_mblog(&d).expect("parses");
        let urls: Vec<&str> = item.media.iter().map(|m| m.url.as_str()).collect();
        assert_eq!(urls, vec!["https://a", "https://b"]);
    }
}
