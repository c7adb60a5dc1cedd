//! Bilibili: videos (`BV…`) through the web view API, dynamics/opus
//! (`dynamic:<id>`) through the polymer detail API.
//!
//! Bilibili answers HTTP 200 with a `code` in the body for most failures, so
//! the body code decides the class; HTTP 412 is its risk control.

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use serde_json::Value;
use vaultstream_core::parsed::{
    ErrorClass, FetchError, MediaRef, MediaRole, ParsedAuthor, ParsedItem,
};
use vaultstream_core::{ContentKind, Platform};

use super::value::{array_at, first_str, id_at, int_at, stat, str_at, u32_at, unix_secs};
use super::{Adapter, Ctx, FetchRequest, build_url, html, malformed, media, unsupported};
use crate::http::client::{Get, Response};

pub(crate) struct Bilibili;

const REFERER: &str = "https://www.bilibili.com/";

#[async_trait]
impl Adapter for Bilibili {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let id = req.identity.platform_id.as_str();
        if id.starts_with("BV") {
            video(ctx, id).await
        } else if let Some(dynamic_id) = id.strip_prefix("dynamic:") {
            dynamic(ctx, dynamic_id).await
        } else if id.starts_with("cv") {
            Err(unsupported(req, "Bilibili articles (cv)"))
        } else if id.starts_with("ep") || id.starts_with("ss") {
            Err(unsupported(req, "Bilibili bangumi episodes and seasons"))
        } else {
            Err(FetchError::permanent(format!(
                "`{id}` is not a Bilibili id we know"
            )))
        }
    }
}

fn api(url: &str) -> Result<Get, FetchError> {
    Ok(Get::new(build_url(url)?, Platform::Bilibili).header("referer", REFERER))
}

/// The body of a Bilibili API response after its `code` says success.
fn checked(resp: &Response, what: &str) -> Result<Value, FetchError> {
    if resp.status.as_u16() == 412 {
        // 412 is Bilibili's risk control ("request blocked"), not a real
        // precondition failure: back off.
        return Err(FetchError::rate_limited(
            "Bilibili risk control blocked the request (HTTP 412)",
            crate::http::status::retry_after(&resp.headers),
        ));
    }
    resp.check_status(ErrorClass::AuthRequired)?;
    let body = resp.json(what)?;
    let Some(code) = body.get("code").and_then(Value::as_i64) else {
        return Err(malformed(
            &format!("{what} has no `code`"),
            crate::http::status::excerpt(&resp.body),
        ));
    };
    if code == 0 {
        return Ok(body);
    }
    let message = str_at(&body, "/message").unwrap_or_default();
    let detail = format!("Bilibili code {code}: {message}");
    let err = match code {
        -404 | 62002 | 62004 | 62012 | 4101131 | 4101105 => FetchError::permanent(format!(
            "deleted, hidden or not found on Bilibili ({what}, code {code})"
        )),
        -101 | -403 => {
            FetchError::auth_required(format!("Bilibili needs a login to show this (code {code})"))
        }
        -352 | -412 | -509 | -799 => FetchError::rate_limited(
            format!("Bilibili risk control or rate limit (code {code})"),
            None,
        ),
        -500 | -502 | -503 | -504 => {
            FetchError::retryable(format!("Bilibili failed (code {code})"))
        }
        _ => FetchError::permanent(format!("Bilibili refused the request (code {code})")),
    };
    Err(err.with_detail(detail))
}

async fn video(ctx: &Ctx, bvid: &str) -> Result<ParsedItem, FetchError> {
    let resp = ctx
        .http
        .get(api(&format!(
            "https://api.bilibili.com/x/web-interface/view?bvid={bvid}"
        ))?)
        .await?;
    let body = checked(&resp, "the video view API")?;
    let mut item = parse_video(&body)?;
    // The stream URL needs a second call; it expires in about two hours and
    // the item is useful without it, so a failure only costs the video.
    if let Some(cid) = int_at(&body, "/data/cid").or_else(|| int_at(&body, "/data/pages/0/cid")) {
        match play_url(ctx, bvid, cid).await {
            Ok(Some(v)) => item.media.push(v),
            Ok(None) => {}
            Err(e) => tracing::info!(
                content.platform_id = bvid,
                error.class = %e.class,
                error = %e.report(),
                "Bilibili play URL unavailable for {bvid}; archiving without the video"
            ),
        }
    }
    Ok(item)
}

/// Parse a `x/web-interface/view` body (code already checked).
pub(crate) fn parse_video(body: &Value) -> Result<ParsedItem, FetchError> {
    let d = body
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| malformed("the view API answer has no `data`", ""))?;
    let title = str_at(d, "/title");
    if title.is_none() && str_at(d, "/bvid").is_none() {
        return Err(malformed(
            "the view API `data` has neither `title` nor `bvid`",
            "",
        ));
    }
    let text = first_str(d, &["/desc", "/desc_v2/0/raw_text"]).filter(|t| t != "-");
    let mut stats = Default::default();
    for (key, ptr) in [
        ("views", "/stat/view"),
        ("danmaku", "/stat/danmaku"),
        ("comments", "/stat/reply"),
        ("favorites", "/stat/favorite"),
        ("coins", "/stat/coin"),
        ("shares", "/stat/share"),
        ("likes", "/stat/like"),
    ] {
        stat(&mut stats, key, int_at(d, ptr));
    }
    let mut media_list = Vec::new();
    if let Some(pic) = str_at(d, "/pic") {
        let mut cover = with_referer(media(MediaRole::Cover, pic));
        cover.width = u32_at(d, "/dimension/width");
        cover.height = u32_at(d, "/dimension/height");
        media_list.push(cover);
    }
    Ok(ParsedItem {
        kind: Some(ContentKind::Video),
        html: text.as_deref().map(html::text_to_html),
        title,
        text,
        author: author(d, "/owner/mid", "/owner/name", "/owner/face"),
        published_at: int_at(d, "/pubdate").and_then(unix_secs),
        stats,
        // The view API has no tag list; the uploader's hashtags in
        // `dynamic` ("#tag1##tag2#") are the tags shown under the video.
        tags: str_at(d, "/dynamic")
            .map(|s| hashtags(&s))
            .unwrap_or_default(),
        canonical_url: str_at(d, "/bvid").map(|b| format!("https://www.bilibili.com/video/{b}")),
        media: media_list,
        quoted: None,
        parts: Vec::new(),
        fields: Default::default(),
        raw: body.clone(),
    })
}

async fn play_url(ctx: &Ctx, bvid: &str, cid: i64) -> Result<Option<MediaRef>, FetchError> {
    // `platform=html5` gives one progressive MP4 (no DASH merge needed); the
    // old unsigned path avoids Wbi signing.
    let resp = ctx
        .http
        .get(api(&format!(
            "https://api.bilibili.com/x/player/playurl?bvid={bvid}&cid={cid}&qn=64&fnval=1&platform=html5"
        ))?)
        .await?;
    let body = checked(&resp, "the play URL API")?;
    Ok(str_at(&body, "/data/durl/0/url").map(|url| {
        let mut v = with_referer(media(MediaRole::Video, url));
        v.duration_secs = int_at(&body, "/data/timelength")
            .filter(|ms| *ms > 0)
            .map(|ms| ms as f64 / 1000.0);
        v.mime = Some("video/mp4".to_owned());
        v
    }))
}

async fn dynamic(ctx: &Ctx, id: &str) -> Result<ParsedItem, FetchError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FetchError::permanent(format!(
            "`{id}` is not a Bilibili dynamic id"
        )));
    }
    // Without `features=itemOpusStyle` the answer keeps the `major.draw`
    // shape the recorded fixture has (yt-dlp calls it the same way).
    let resp = ctx
        .http
        .get(api(&format!(
            "https://api.bilibili.com/x/polymer/web-dynamic/v1/detail?id={id}"
        ))?)
        .await?;
    let body = checked(&resp, "the dynamic detail API")?;
    let item = body
        .pointer("/data/item")
        .filter(|i| i.is_object())
        .ok_or_else(|| malformed("the dynamic detail answer has no `data.item`", ""))?;
    let mut parsed = parse_dynamic_item(item)?;
    parsed.raw = body.clone();
    Ok(parsed)
}

/// One dynamic item (also used for the forwarded original in `orig`).
fn parse_dynamic_item(item: &Value) -> Result<ParsedItem, FetchError> {
    let modules = item
        .get("modules")
        .filter(|m| m.is_object())
        .ok_or_else(|| malformed("the dynamic item has no `modules`", ""))?;
    let dynamic = modules
        .get("module_dynamic")
        .cloned()
        .unwrap_or(Value::Null);
    let major = dynamic.get("major").cloned().unwrap_or(Value::Null);
    let text = first_str(&dynamic, &["/desc/text", "/major/opus/summary/text"]);
    let title = first_str(&major, &["/opus/title", "/archive/title", "/article/title"]);
    let mut media_list = Vec::new();
    if let Some(cover) = str_at(&major, "/archive/cover") {
        media_list.push(with_referer(media(MediaRole::Cover, cover)));
    }
    let draws = array_at(&major, "/draw/items")
        .iter()
        .map(|d| (str_at(d, "/src"), d))
        .chain(
            array_at(&major, "/opus/pics")
                .iter()
                .map(|p| (str_at(p, "/url"), p)),
        );
    for (src, d) in draws {
        if let Some(src) = src {
            let mut m = with_referer(media(MediaRole::Image, src));
            m.width = u32_at(d, "/width");
            m.height = u32_at(d, "/height");
            media_list.push(m);
        }
    }
    let mut stats = Default::default();
    stat(
        &mut stats,
        "likes",
        int_at(modules, "/module_stat/like/count"),
    );
    stat(
        &mut stats,
        "comments",
        int_at(modules, "/module_stat/comment/count"),
    );
    stat(
        &mut stats,
        "shares",
        int_at(modules, "/module_stat/forward/count"),
    );
    let quoted = match item.get("orig").filter(|o| o.is_object()) {
        Some(orig) => Some(Box::new(parse_dynamic_item(orig)?)),
        None => None,
    };
    // A video dynamic points at the video page.
    let canonical_url = str_at(&major, "/archive/bvid")
        .map(|b| format!("https://www.bilibili.com/video/{b}"))
        .or_else(|| str_at(item, "/id_str").map(|i| format!("https://www.bilibili.com/opus/{i}")));
    Ok(ParsedItem {
        kind: Some(ContentKind::Post),
        html: text.as_deref().map(html::text_to_html),
        title,
        text,
        author: author(
            modules,
            "/module_author/mid",
            "/module_author/name",
            "/module_author/face",
        ),
        published_at: int_at(modules, "/module_author/pub_ts").and_then(unix_secs),
        stats,
        tags: Vec::new(),
        canonical_url,
        media: media_list,
        quoted,
        parts: Vec::new(),
        fields: Default::default(),
        raw: item.clone(),
    })
}

fn author(v: &Value, mid: &str, name: &str, face: &str) -> Option<ParsedAuthor> {
    let id = id_at(v, mid);
    let name = str_at(v, name);
    (id.is_some() || name.is_some()).then(|| ParsedAuthor {
        url: id
            .as_ref()
            .map(|m| format!("https://space.bilibili.com/{m}")),
        id,
        name,
        avatar_url: str_at(v, face),
    })
}

/// i0.hdslb.com and the video CDN refuse requests without a Bilibili Referer.
fn with_referer(mut m: MediaRef) -> MediaRef {
    m.headers.insert("Referer".to_owned(), REFERER.to_owned());
    m
}

fn hashtags(s: &str) -> Vec<String> {
    static TAG: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"#([^#\n]{1,64})#").ok());
    let Some(re) = TAG.as_ref() else {
        return Vec::new();
    };
    let mut tags: Vec<String> = Vec::new();
    for c in re.captures_iter(s) {
        let t = c[1].trim().to_owned();
        if !t.is_empty() && !tags.contains(&t) {
            tags.push(t);
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashtags_from_dynamic_text() {
        assert_eq!(
            hashtags("进来就出不去了！！！\n#全民音乐UP主##CB##warma#"),
            vec!["全民音乐UP主", "CB", "warma"]
        );
    }
}
