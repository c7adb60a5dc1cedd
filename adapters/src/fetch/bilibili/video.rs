//! `BV…`: the web view API, then the play URL of one page.
//!
//! A video of several pages (`data.pages[]`, "P1, P2…") lists every page as
//! a part (its title, duration, cid and `?p=N` URL); the page the shared
//! link named with `?p=N` is marked `shared`, and its stream is the one
//! archived (the first page's when the link named none).

use serde_json::Value;
use url::Url;
use vaultstream_core::ContentKind;
use vaultstream_core::parsed::{FetchError, MediaRef, MediaRole, ParsedItem, ParsedPart};

use super::{author, get, hashtags, with_referer};
use crate::fetch::value::{array_at, first_str, int_at, stat, str_at, u32_at, unix_secs};
use crate::fetch::{Ctx, html, malformed, media};

/// The `p` (1-based page number) of the link the user shared, if any.
pub(super) fn shared_page(source_url: Option<&str>) -> Option<u32> {
    let url = Url::parse(source_url?).ok()?;
    let p = url.query_pairs().find(|(k, _)| k == "p")?.1;
    p.trim().parse().ok().filter(|p| *p > 0)
}

pub(super) async fn fetch(
    ctx: &Ctx,
    bvid: &str,
    shared: Option<u32>,
) -> Result<ParsedItem, FetchError> {
    let body = get(
        ctx,
        &format!("https://api.bilibili.com/x/web-interface/view?bvid={bvid}"),
        "the video view API",
    )
    .await?;
    let mut item = parse_video(&body, shared)?;
    // The stream of the shared page (else the first); its URL needs a
    // second call, expires in about two hours, and the item is useful
    // without it, so a failure only costs the video.
    let part = item.parts.iter().position(|p| p.shared);
    let cid = part
        .and_then(|i| item.parts.get(i))
        .and_then(|p| p.id.as_deref())
        .and_then(|c| c.parse().ok())
        .or_else(|| int_at(&body, "/data/cid"))
        .or_else(|| int_at(&body, "/data/pages/0/cid"));
    if let Some(cid) = cid {
        match play_url(ctx, bvid, cid).await {
            Ok(Some(mut v)) => {
                if !item.parts.is_empty() {
                    v.part = Some(part.unwrap_or(0) as u32);
                }
                item.media.push(v);
            }
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
pub(super) fn parse_video(body: &Value, shared: Option<u32>) -> Result<ParsedItem, FetchError> {
    let d = body
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| malformed("the view API answer has no `data`", ""))?;
    let title = str_at(d, "/title");
    let bvid = str_at(d, "/bvid");
    if title.is_none() && bvid.is_none() {
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
    // Old captures have no `bvid`; the page URLs then use the av number.
    let page_base = bvid
        .clone()
        .or_else(|| int_at(d, "/aid").map(|a| format!("av{a}")));
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
        canonical_url: bvid.map(|b| format!("https://www.bilibili.com/video/{b}")),
        media: media_list,
        quoted: None,
        parts: pages(d, page_base.as_deref(), shared),
        fields: Default::default(),
        raw: body.clone(),
    })
}

/// Every page of a multi-page video, in order; none for a single page.
fn pages(d: &Value, base: Option<&str>, shared: Option<u32>) -> Vec<ParsedPart> {
    let pages = array_at(d, "/pages");
    if pages.len() < 2 {
        return Vec::new();
    }
    pages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let number = int_at(p, "/page").unwrap_or(i as i64 + 1);
            ParsedPart {
                id: int_at(p, "/cid").map(|c| c.to_string()),
                title: str_at(p, "/part"),
                url: base.map(|b| format!("https://www.bilibili.com/video/{b}?p={number}")),
                duration_secs: int_at(p, "/duration").filter(|s| *s > 0).map(|s| s as f64),
                shared: shared.is_some_and(|s| i64::from(s) == number),
                ..ParsedPart::default()
            }
        })
        .collect()
}

async fn play_url(ctx: &Ctx, bvid: &str, cid: i64) -> Result<Option<MediaRef>, FetchError> {
    // `platform=html5` gives one progressive MP4 (no DASH merge needed); the
    // old unsigned path avoids Wbi signing.
    let url = format!(
        "https://api.bilibili.com/x/player/playurl?bvid={bvid}&cid={cid}&qn=64&fnval=1&platform=html5"
    );
    let body = get(ctx, &url, "the play URL API").await?;
    Ok(str_at(&body, "/data/durl/0/url").map(|url| {
        let mut v = with_referer(media(MediaRole::Video, url));
        v.duration_secs = int_at(&body, "/data/timelength")
            .filter(|ms| *ms > 0)
            .map(|ms| ms as f64 / 1000.0);
        v.mime = Some("video/mp4".to_owned());
        v
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_page_comes_from_the_link() {
        let p = |u: &str| shared_page(Some(u));
        assert_eq!(
            p("https://www.bilibili.com/video/BV1xx411c7mD?p=2"),
            Some(2)
        );
        assert_eq!(
            p("https://www.bilibili.com/video/BV1xx411c7mD?spm=x&p=3"),
            Some(3)
        );
        assert_eq!(p("https://www.bilibili.com/video/BV1xx411c7mD"), None);
        assert_eq!(p("https://www.bilibili.com/video/BV1xx411c7mD?p=0"), None);
        assert_eq!(p("https://www.bilibili.com/video/BV1xx411c7mD?p=x"), None);
        assert_eq!(shared_page(None), None);
    }
}
