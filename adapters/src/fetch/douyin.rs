//! Douyin: the share page `www.iesdouyin.com/share/video/<id>/` (or
//! `/share/note/<id>/` for a link that named an image note), whose
//! `window._ROUTER_DATA` holds the aweme item.
//!
//! An image note (`aweme_type` 68, or any item with `images[]`) is kind
//! `note`: every picture in order, watermark-free where the note gives such
//! a URL (`watermark_free_download_url_list`, else a `url_list` entry that
//! is not a `water` rendition; `download_url_list` is watermarked), and a
//! live photo's clip (`images[i].video.play_addr`) after the pictures, paired
//! in `fields.live_photos`. The note's top-level `video.play_addr` is its
//! background music, not a video: it is kept as `fields.music`
//! (`{url, title?, author?}`), never downloaded as the item's video.
//!
//! Only a phone UA gets the server-rendered page (a desktop UA is sent to
//! www.douyin.com, which has no data). Newer pages may be a client-rendered
//! shell without `videoInfoRes` unless cookies are sent: that is reported as
//! a login wall so an operator can supply them.

use async_trait::async_trait;
use serde_json::Value;
use vaultstream_core::parsed::{
    ErrorClass, FetchError, MediaRef, MediaRole, ParsedAuthor, ParsedItem,
};
use vaultstream_core::{ContentKind, Platform};

use super::live::LivePhotos;
use super::value::{array_at, first_str, int_at, stat, str_at, u32_at, unix_secs};
use super::{Adapter, Ctx, FetchRequest, build_url, html, malformed, media};
use crate::http::client::{Get, IPHONE_UA};

pub(crate) struct Douyin;

#[async_trait]
impl Adapter for Douyin {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let id = req.identity.platform_id.as_str();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FetchError::permanent(format!("`{id}` is not a Douyin id")));
        }
        let page = if req.identity.kind == ContentKind::Note {
            "note"
        } else {
            "video"
        };
        let url = build_url(&format!("https://www.iesdouyin.com/share/{page}/{id}/"))?;
        let resp = ctx
            .http
            .get(Get::new(url, Platform::Douyin).html().user_agent(IPHONE_UA))
            .await?;
        resp.check_status(ErrorClass::AuthRequired)?;
        let data = router_data(&resp.text())?;
        let mut item = parse_router_data(&data)?;
        item.raw = data;
        Ok(item)
    }
}

/// The JSON after `window._ROUTER_DATA = ` (up to `</script>`).
pub(crate) fn router_data(page: &str) -> Result<Value, FetchError> {
    const MARK: &str = "window._ROUTER_DATA";
    let start = page
        .find(MARK)
        .and_then(|i| {
            page[i + MARK.len()..]
                .find('=')
                .map(|j| i + MARK.len() + j + 1)
        })
        .ok_or_else(|| {
            malformed(
                "the share page has no _ROUTER_DATA (not a server-rendered share page)",
                "",
            )
        })?;
    let rest = &page[start..];
    let end = rest.find("</script>").unwrap_or(rest.len());
    // Parse one value and ignore what follows (`;`, whitespace): a JSON
    // string may itself contain `{}` or `</`, so no brace matching.
    let mut stream = serde_json::Deserializer::from_str(rest[..end].trim()).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(malformed("_ROUTER_DATA is not JSON", e.to_string())),
        None => Err(malformed("_ROUTER_DATA is empty", "")),
    }
}

pub(crate) fn parse_router_data(data: &Value) -> Result<ParsedItem, FetchError> {
    // The key is `video_(id)/page` for videos and `note_(id)/page` for photo
    // posts; take whichever page carries the item.
    let pages = data
        .get("loaderData")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("_ROUTER_DATA has no loaderData", ""))?;
    let Some(info) = pages
        .iter()
        .filter(|(k, _)| k.ends_with("/page"))
        .find_map(|(_, v)| v.get("videoInfoRes"))
    else {
        return Err(FetchError::auth_required(
            "Douyin served a page without the video data (it wants cookies); set VAULTSTREAM_COOKIES_DOUYIN",
        ));
    };
    if let Some(code) = int_at(info, "/status_code").filter(|c| *c != 0) {
        return Err(FetchError::permanent(format!(
            "Douyin refused the item (status {code})"
        )));
    }
    let Some(item) = array_at(info, "/item_list").first() else {
        let reason = array_at(info, "/filter_list")
            .first()
            .and_then(|f| first_str(f, &["/detail_msg", "/filter_reason"]))
            .unwrap_or_else(|| "no item".to_owned());
        return Err(
            FetchError::permanent("the Douyin item is deleted or hidden").with_detail(reason),
        );
    };
    parse_item(item)
}

fn parse_item(i: &Value) -> Result<ParsedItem, FetchError> {
    let id =
        first_str(i, &["/aweme_id"]).ok_or_else(|| malformed("the item has no aweme_id", ""))?;
    let images = array_at(i, "/images");
    let is_photo_post = !images.is_empty() || int_at(i, "/aweme_type") == Some(68);
    let mut media_list: Vec<MediaRef> = Vec::new();
    if let Some(cover) = str_at(i, "/video/cover/url_list/0") {
        let mut c = media(MediaRole::Cover, cover);
        c.width = u32_at(i, "/video/cover/width");
        c.height = u32_at(i, "/video/cover/height");
        media_list.push(c);
    }
    let mut live = LivePhotos::default();
    for img in images {
        let Some(u) = picture_url(img) else {
            continue;
        };
        let mut m = media(MediaRole::Image, u.clone());
        m.width = u32_at(img, "/width");
        m.height = u32_at(img, "/height");
        media_list.push(m);
        if let Some(clip) = first_str(
            img,
            &[
                "/video/play_addr/url_list/0",
                "/video/bit_rate/0/play_addr/url_list/0",
            ],
        ) {
            let mut v = media(MediaRole::Video, clip);
            v.width = u32_at(img, "/video/width");
            v.height = u32_at(img, "/video/height");
            v.duration_secs = millis(img, "/video/duration");
            live.push(&u, v);
        }
    }
    let mut fields = std::collections::BTreeMap::new();
    live.finish(&mut media_list, &mut fields);
    if is_photo_post && let Some(music) = str_at(i, "/video/play_addr/url_list/0") {
        let mut m = serde_json::Map::new();
        m.insert("url".to_owned(), Value::String(music));
        for key in ["title", "author"] {
            if let Some(v) = str_at(i, &format!("/music/{key}")) {
                m.insert(key.to_owned(), Value::String(v));
            }
        }
        fields.insert("music".to_owned(), Value::Object(m));
    }
    if !is_photo_post && let Some(play) = str_at(i, "/video/play_addr/url_list/0") {
        // Kept as the upstream gives it (a watermarked redirector); swapping
        // `/playwm/` for `/play/` is folklore we could not verify.
        let mut v = media(MediaRole::Video, play);
        v.width = u32_at(i, "/video/width");
        v.height = u32_at(i, "/video/height");
        v.duration_secs = millis(i, "/video/duration");
        media_list.push(v);
    }
    let desc = str_at(i, "/desc");
    let mut stats = Default::default();
    stat(&mut stats, "likes", int_at(i, "/statistics/digg_count"));
    stat(
        &mut stats,
        "comments",
        int_at(i, "/statistics/comment_count"),
    );
    stat(&mut stats, "shares", int_at(i, "/statistics/share_count"));
    stat(
        &mut stats,
        "collects",
        int_at(i, "/statistics/collect_count"),
    );
    // The share page reports 0 plays: that is "not given", not zero.
    stat(
        &mut stats,
        "views",
        int_at(i, "/statistics/play_count").filter(|n| *n > 0),
    );
    let sec_uid = str_at(i, "/author/sec_uid");
    Ok(ParsedItem {
        kind: Some(if is_photo_post {
            ContentKind::Note
        } else {
            ContentKind::Video
        }),
        // Douyin has no separate title: the description is both.
        title: desc.clone(),
        html: desc.as_deref().map(html::text_to_html),
        text: desc,
        author: Some(ParsedAuthor {
            name: str_at(i, "/author/nickname"),
            url: sec_uid
                .as_ref()
                .map(|s| format!("https://www.douyin.com/user/{s}")),
            id: sec_uid.or_else(|| first_str(i, &["/author/unique_id", "/author/short_id"])),
            avatar_url: str_at(i, "/author/avatar_thumb/url_list/0"),
        }),
        published_at: int_at(i, "/create_time").and_then(unix_secs),
        stats,
        tags: array_at(i, "/text_extra")
            .iter()
            .filter_map(|t| str_at(t, "/hashtag_name"))
            .collect(),
        canonical_url: Some(if is_photo_post {
            format!("https://www.douyin.com/note/{id}")
        } else {
            format!("https://www.douyin.com/video/{id}")
        }),
        media: media_list,
        quoted: None,
        parts: Vec::new(),
        fields,
        raw: i.clone(),
    })
}

/// A picture's URL, watermark-free where the note gives one.
fn picture_url(img: &Value) -> Option<String> {
    str_at(img, "/watermark_free_download_url_list/0")
        .or_else(|| {
            array_at(img, "/url_list")
                .iter()
                .filter_map(Value::as_str)
                .find(|u| !u.contains("water"))
                .map(str::to_owned)
        })
        .or_else(|| first_str(img, &["/url_list/0", "/download_url_list/0"]))
}

/// A duration in milliseconds, as seconds.
fn millis(v: &Value, ptr: &str) -> Option<f64> {
    int_at(v, ptr)
        .filter(|ms| *ms > 0)
        .map(|ms| ms as f64 / 1000.0)
}
