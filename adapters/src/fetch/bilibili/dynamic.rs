//! `dynamic:<id>` (t.bilibili.com and /opus/ links): the polymer detail API.
//!
//! Every picture of a dynamic is kept, in order: `major.draw.items[]` (the
//! old picture dynamic) and `major.opus.pics[]` (the opus shape), a picture
//! with a `live_url` also as its motion clip. A forwarded dynamic's original
//! is `quoted`. A dynamic that is an article (`type`
//! `DYNAMIC_TYPE_ARTICLE`, or its comments are an article's, type 12) only
//! carries a summary here, so the whole article is read through the opus
//! detail API instead (see `article`).

use serde_json::Value;
use vaultstream_core::ContentKind;
use vaultstream_core::parsed::{FetchError, MediaRole, ParsedItem};

use super::{absolute, article, author, get, with_referer};
use crate::fetch::live::LivePhotos;
use crate::fetch::value::{array_at, first_str, int_at, stat, str_at, u32_at, unix_secs};
use crate::fetch::{Ctx, html, malformed, media};

pub(super) async fn fetch(ctx: &Ctx, id: &str) -> Result<ParsedItem, FetchError> {
    // Without `features=itemOpusStyle` the answer keeps the `major.draw`
    // shape the recorded fixture has (yt-dlp calls it the same way).
    let body = get(
        ctx,
        &format!("https://api.bilibili.com/x/polymer/web-dynamic/v1/detail?id={id}"),
        "the dynamic detail API",
    )
    .await?;
    let item = body
        .pointer("/data/item")
        .filter(|i| i.is_object())
        .ok_or_else(|| malformed("the dynamic detail answer has no `data.item`", ""))?;
    if is_article(item) {
        return article::fetch_opus(ctx, id).await;
    }
    let mut parsed = parse_dynamic_item(item)?;
    parsed.raw = body.clone();
    Ok(parsed)
}

/// Article dynamics: the type says so, or the comment area is an article's.
fn is_article(item: &Value) -> bool {
    str_at(item, "/type").as_deref() == Some("DYNAMIC_TYPE_ARTICLE")
        || int_at(item, "/basic/comment_type") == Some(12)
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
        media_list.push(with_referer(media(MediaRole::Cover, absolute(&cover))));
    }
    let pictures = array_at(&major, "/draw/items")
        .iter()
        .map(|d| (str_at(d, "/src"), d))
        .chain(
            array_at(&major, "/opus/pics")
                .iter()
                .map(|p| (str_at(p, "/url"), p)),
        );
    let mut live = LivePhotos::default();
    for (src, d) in pictures {
        let Some(src) = src.map(|s| absolute(&s)) else {
            continue;
        };
        let mut m = with_referer(media(MediaRole::Image, src.clone()));
        m.width = u32_at(d, "/width");
        m.height = u32_at(d, "/height");
        media_list.push(m);
        if let Some(clip) = str_at(d, "/live_url") {
            live.push(&src, with_referer(media(MediaRole::Video, absolute(&clip))));
        }
    }
    let mut fields = Default::default();
    live.finish(&mut media_list, &mut fields);
    let mut stats = Default::default();
    for (key, ptr) in [
        ("likes", "/module_stat/like/count"),
        ("comments", "/module_stat/comment/count"),
        ("shares", "/module_stat/forward/count"),
    ] {
        stat(&mut stats, key, int_at(modules, ptr));
    }
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
        fields,
        raw: item.clone(),
    })
}
