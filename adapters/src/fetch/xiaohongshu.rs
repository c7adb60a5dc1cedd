//! Xiaohongshu: the note page's `window.__INITIAL_STATE__`.
//!
//! The web feed API (`edith.xiaohongshu.com/api/sns/web/v1/feed`) needs
//! signed headers we cannot produce, so the page is the source. The page
//! state is JavaScript, not JSON (bare `undefined`), and uses camelCase where
//! the feed API uses snake_case for the same note; [`parse_note`] reads both
//! so a feed body parses the same way. Anonymous access needs the share
//! link's `xsec_token`, taken from the submitted URL.
//!
//! Every picture of a note is kept in order (`image_list[].url_default`, or
//! the `WB_DFT` entry of `info_list`); a live photo (`live_photo: true`)
//! also gives its clip (`stream.<codec>[].master_url`), after the pictures
//! and paired in `fields.live_photos`. A video note's video is the original
//! upload when the note names it (`video.consumer.origin_video_key` →
//! `sns-video-bd.xhscdn.com/<key>`, without the watermark the web streams
//! carry), else the best of `video.media.stream.{h264,h265,av1,h266}[]`:
//! unwatermarked first (`stream_desc` `WM_…` is watermarked), then the most
//! pixels, then the highest bitrate.

use async_trait::async_trait;
use serde_json::Value;
use url::Url;
use vaultstream_core::parsed::{
    ErrorClass, FetchError, MediaRef, MediaRole, ParsedAuthor, ParsedItem,
};
use vaultstream_core::{ContentKind, Platform};

use super::live::LivePhotos;
use super::value::{array_at, as_int, first_int, first_str, stat, u32_at, unix_millis};
use super::{Adapter, Ctx, FetchRequest, build_url, html, malformed, media};
use crate::http::client::Get;

pub(crate) struct Xiaohongshu;

#[async_trait]
impl Adapter for Xiaohongshu {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let id = req.identity.platform_id.as_str();
        if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FetchError::permanent(format!(
                "`{id}` is not a Xiaohongshu note id"
            )));
        }
        let mut url = build_url(&format!("https://www.xiaohongshu.com/explore/{id}"))?;
        let token = req
            .source_url
            .as_deref()
            .and_then(|s| Url::parse(s).ok())
            .and_then(|u| {
                u.query_pairs()
                    .find(|(k, _)| k == "xsec_token")
                    .map(|(_, v)| v.into_owned())
            });
        if let Some(token) = &token {
            url.query_pairs_mut()
                .append_pair("xsec_token", token)
                .append_pair("xsec_source", "pc_share");
        }
        let resp = ctx
            .http
            .get(Get::new(url, Platform::Xiaohongshu).html())
            .await?;
        // Inaccessible notes redirect to a login or error page.
        let path = resp.url.path().to_ascii_lowercase();
        if path.contains("login") {
            return Err(FetchError::auth_required(
                "Xiaohongshu asks for a login; set VAULTSTREAM_COOKIES_XIAOHONGSHU",
            )
            .with_detail(format!("landed on {}", resp.url)));
        }
        if path.starts_with("/404") || path.contains("/error") {
            return Err(
                not_accessible(token.is_some()).with_detail(format!("landed on {}", resp.url))
            );
        }
        resp.check_status(ErrorClass::AuthRequired)?;
        let state = initial_state(&resp.text())?;
        let Some(entry) = state
            .pointer("/note/noteDetailMap")
            .and_then(|m| m.get(id))
            .filter(|e| {
                e.get("note")
                    .is_some_and(|n| n.is_object() && n.as_object().is_some_and(|o| !o.is_empty()))
            })
        else {
            return Err(not_accessible(token.is_some()));
        };
        let mut item = parse_note(entry.get("note").unwrap_or(&Value::Null))?;
        item.raw = entry.clone();
        Ok(item)
    }
}

fn not_accessible(had_token: bool) -> FetchError {
    let hint = if had_token {
        "deleted, private, or the share link's xsec_token expired"
    } else {
        "deleted or private, or it needs the share link's xsec_token"
    };
    FetchError::permanent(format!("the Xiaohongshu note is not accessible ({hint})"))
}

/// The JSON inside `window.__INITIAL_STATE__=…</script>`.
pub(crate) fn initial_state(page: &str) -> Result<Value, FetchError> {
    const MARK: &str = "window.__INITIAL_STATE__";
    let start = page
        .find(MARK)
        .and_then(|i| {
            page[i + MARK.len()..]
                .find('=')
                .map(|j| i + MARK.len() + j + 1)
        })
        .ok_or_else(|| malformed("the note page has no __INITIAL_STATE__", ""))?;
    let rest = &page[start..];
    let end = rest.find("</script>").unwrap_or(rest.len());
    let js = rest[..end].trim().trim_end_matches(';');
    let json = undefined_to_null(js);
    let mut stream = serde_json::Deserializer::from_str(&json).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(malformed(
            "the note page's __INITIAL_STATE__ is not JSON",
            e.to_string(),
        )),
        None => Err(malformed("the note page's __INITIAL_STATE__ is empty", "")),
    }
}

/// Replace the JS identifier `undefined` with `null` outside strings.
fn undefined_to_null(js: &str) -> String {
    let mut out = String::with_capacity(js.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = js;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        let boundary_before = out
            .chars()
            .last()
            .is_none_or(|p| !(p.is_alphanumeric() || p == '_' || p == '$'));
        if boundary_before && rest.starts_with("undefined") {
            let after = rest["undefined".len()..].chars().next();
            if after.is_none_or(|a| !(a.is_alphanumeric() || a == '_' || a == '$')) {
                out.push_str("null");
                rest = &rest["undefined".len()..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A note object from the page state (camelCase) or the feed API
/// (`note_card`, snake_case).
pub(crate) fn parse_note(n: &Value) -> Result<ParsedItem, FetchError> {
    let id = first_str(n, &["/noteId", "/note_id", "/id"]);
    let images = first_array(n, &["/imageList", "/image_list"]);
    if id.is_none() && images.is_empty() && n.get("video").is_none() {
        return Err(malformed("the note has no id, images or video", ""));
    }
    let is_video = first_str(n, &["/type"]).as_deref() == Some("video");
    let mut media_list = Vec::new();
    let mut fields = Default::default();
    if is_video {
        // A video note's first image is its cover.
        if let Some(mut cover) = images.first().and_then(image) {
            cover.role = MediaRole::Cover;
            media_list.push(cover);
        }
        media_list.extend(video(n));
    } else {
        let mut live = LivePhotos::default();
        for img in images {
            let Some(picture) = image(img) else { continue };
            let live_photo = img.get("live_photo").or_else(|| img.get("livePhoto"));
            if live_photo == Some(&Value::Bool(true))
                && let Some(clip) = best_stream(img.get("stream"))
            {
                live.push(&picture.url, clip);
            }
            media_list.push(picture);
        }
        live.finish(&mut media_list, &mut fields);
    }
    let desc = first_str(n, &["/desc"]);
    // Topics are written `#name[话题]#`; the marker is page markup.
    let text = desc.map(|d| d.replace("[话题]#", "#"));
    let uid = first_str(n, &["/user/userId", "/user/user_id"]);
    let mut stats = Default::default();
    for (key, ptrs) in [
        (
            "likes",
            ["/interactInfo/likedCount", "/interact_info/liked_count"],
        ),
        (
            "collects",
            [
                "/interactInfo/collectedCount",
                "/interact_info/collected_count",
            ],
        ),
        (
            "comments",
            ["/interactInfo/commentCount", "/interact_info/comment_count"],
        ),
        (
            "shares",
            ["/interactInfo/shareCount", "/interact_info/share_count"],
        ),
    ] {
        stat(&mut stats, key, first_int(n, &ptrs));
    }
    Ok(ParsedItem {
        kind: Some(ContentKind::Note),
        // Real notes may have an empty title; the text then carries the item.
        title: first_str(n, &["/title", "/display_title"]),
        html: text.as_deref().map(html::text_to_html),
        text,
        author: Some(ParsedAuthor {
            name: first_str(n, &["/user/nickname", "/user/nickName"]),
            url: uid
                .as_ref()
                .map(|u| format!("https://www.xiaohongshu.com/user/profile/{u}")),
            id: uid,
            avatar_url: first_str(n, &["/user/avatar"]),
        })
        .filter(|a| a.name.is_some() || a.id.is_some()),
        published_at: first_int(n, &["/time"]).and_then(unix_millis),
        stats,
        tags: first_array(n, &["/tagList", "/tag_list"])
            .iter()
            .filter_map(|t| first_str(t, &["/name"]))
            .collect(),
        canonical_url: id.map(|i| format!("https://www.xiaohongshu.com/explore/{i}")),
        media: media_list,
        quoted: None,
        parts: Vec::new(),
        fields,
        raw: n.clone(),
    })
}

fn first_array<'a>(v: &'a Value, ptrs: &[&str]) -> &'a [Value] {
    ptrs.iter()
        .map(|p| array_at(v, p))
        .find(|a| !a.is_empty())
        .unwrap_or_default()
}

fn image(img: &Value) -> Option<MediaRef> {
    // The default-scene URL is the full picture; `urlPre`/WB_PRV a preview.
    let from_scenes = first_array(img, &["/infoList", "/info_list"])
        .iter()
        .find(|i| first_str(i, &["/imageScene", "/image_scene"]).as_deref() == Some("WB_DFT"))
        .and_then(|i| first_str(i, &["/url"]));
    let url = first_str(img, &["/urlDefault", "/url_default"])
        .or(from_scenes)
        .or_else(|| first_str(img, &["/url", "/urlPre", "/url_pre"]))?;
    let mut m = with_referer(media(MediaRole::Image, url));
    m.width = u32_at(img, "/width");
    m.height = u32_at(img, "/height");
    Some(m)
}

fn video(n: &Value) -> Option<MediaRef> {
    let duration = first_int(n, &["/video/capa/duration"])
        .filter(|s| *s > 0)
        .map(|s| s as f64);
    if let Some(key) = first_str(
        n,
        &[
            "/video/consumer/originVideoKey",
            "/video/consumer/origin_video_key",
        ],
    ) {
        let mut v = with_referer(media(
            MediaRole::Video,
            format!("https://sns-video-bd.xhscdn.com/{key}"),
        ));
        v.duration_secs = duration;
        return Some(v);
    }
    best_stream(n.pointer("/video/media/stream"))
}

/// The best stream of a `stream` object (`{h264: […], h265: […], …}`).
fn best_stream(stream: Option<&Value>) -> Option<MediaRef> {
    let stream = stream?;
    let (_, s, url) = ["h264", "h265", "av1", "h266"]
        .iter()
        .flat_map(|codec| array_at(stream, &format!("/{codec}")))
        .filter_map(|s| first_str(s, &["/masterUrl", "/master_url"]).map(|u| (s, u)))
        .map(|(s, u)| {
            let watermarked = first_str(s, &["/streamDesc", "/stream_desc"])
                .is_some_and(|d| d.starts_with("WM_"));
            let pixels = u64::from(u32_at(s, "/width").unwrap_or(0))
                * u64::from(u32_at(s, "/height").unwrap_or(0));
            let bitrate = first_int(s, &["/avgBitrate", "/avg_bitrate"]).unwrap_or(0);
            ((!watermarked, pixels, bitrate), s, u)
        })
        // `max_by_key` keeps the last of equals; the codec order above
        // (h264 first) should win ties, so compare in reverse.
        .rev()
        .max_by_key(|(rank, _, _)| *rank)?;
    let mut v = with_referer(media(MediaRole::Video, url));
    v.width = u32_at(s, "/width");
    v.height = u32_at(s, "/height");
    v.duration_secs = s
        .get("duration")
        .and_then(as_int)
        .filter(|ms| *ms > 0)
        .map(|ms| ms as f64 / 1000.0);
    v.mime = Some("video/mp4".to_owned());
    Some(v)
}

fn with_referer(mut m: MediaRef) -> MediaRef {
    m.headers.insert(
        "Referer".to_owned(),
        "https://www.xiaohongshu.com/".to_owned(),
    );
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undefined_outside_strings_only() {
        assert_eq!(
            undefined_to_null(
                r#"{"a":undefined,"b":"undefined","c":[undefined],"undefinedX":1,"d":"\"undefined"}"#
            ),
            r#"{"a":null,"b":"undefined","c":[null],"undefinedX":1,"d":"\"undefined"}"#
        );
    }

    /// VERBATIM feed API body (see tests/fixtures/PROVENANCE.md): the same
    /// parser reads the API's snake_case note.
    #[test]
    fn parses_the_feed_api_note() {
        let body: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/xiaohongshu/feed_64cca5ba000000001201e1af.json"
        ))
        .expect("fixture is JSON");
        let note = body.pointer("/data/items/0/note_card").expect("note_card");
        let item = parse_note(note).expect("parses");
        assert_eq!(
            item.title.as_deref(),
            Some("遇见荷花小姐姐，好运莲莲！▏古风女生头像")
        );
        assert!(
            item.text
                .as_deref()
                .is_some_and(|t| t.starts_with("#头像分享# #鲜花分享#"))
        );
        assert_eq!(item.stats.get("likes"), Some(&201));
        assert_eq!(item.stats.get("collects"), Some(&117));
        assert_eq!(item.stats.get("comments"), Some(&2));
        assert_eq!(item.stats.get("shares"), Some(&5));
        assert_eq!(item.tags, vec!["美"]);
        assert_eq!(
            item.published_at.map(|t| t.timestamp_millis()),
            Some(1_691_133_370_000)
        );
        let author = item.author.expect("author");
        assert_eq!(author.name.as_deref(), Some("天天Ai绘画师"));
        assert_eq!(author.id.as_deref(), Some("57d245e15e87e71c8569ff89"));
        assert_eq!(item.media.len(), 1);
        assert_eq!(item.media[0].role, MediaRole::Image);
        assert!(item.media[0].url.contains("!nd_dft_wlteh_webp_3"));
        assert_eq!(
            (item.media[0].width, item.media[0].height),
            (Some(1920), Some(1920))
        );
        assert_eq!(
            item.canonical_url.as_deref(),
            Some("https://www.xiaohongshu.com/explore/64cca5ba000000001201e1af")
        );
    }
}
