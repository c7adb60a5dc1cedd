//! Douyin: the share page `www.iesdouyin.com/share/video/<id>/`, whose
//! `window._ROUTER_DATA` holds the aweme item.
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
        let url = build_url(&format!("https://www.iesdouyin.com/share/video/{id}/"))?;
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
        Some(Err(e)) => Err(malformed("_ROUTER_DATA is not JSON", e.to_string()).with_source(e)),
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
    let is_photo_post = !images.is_empty();
    let mut media_list: Vec<MediaRef> = Vec::new();
    if let Some(cover) = str_at(i, "/video/cover/url_list/0") {
        let mut c = media(MediaRole::Cover, cover);
        c.width = u32_at(i, "/video/cover/width");
        c.height = u32_at(i, "/video/cover/height");
        media_list.push(c);
    }
    for img in images {
        if let Some(u) = str_at(img, "/url_list/0") {
            let mut m = media(MediaRole::Image, u);
            m.width = u32_at(img, "/width");
            m.height = u32_at(img, "/height");
            media_list.push(m);
        }
    }
    if !is_photo_post && let Some(play) = str_at(i, "/video/play_addr/url_list/0") {
        // Kept as the upstream gives it (a watermarked redirector); swapping
        // `/playwm/` for `/play/` is folklore we could not verify.
        let mut v = media(MediaRole::Video, play);
        v.width = u32_at(i, "/video/width");
        v.height = u32_at(i, "/video/height");
        v.duration_secs = int_at(i, "/video/duration")
            .filter(|ms| *ms > 0)
            .map(|ms| ms as f64 / 1000.0);
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
        fields: Default::default(),
        raw: i.clone(),
    })
}
