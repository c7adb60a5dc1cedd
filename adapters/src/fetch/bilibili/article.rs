//! Articles: `cv<id>` through the article view API, opus pages that are
//! articles through the opus detail API.
//!
//! The article view API (`x/article/view?id=`) returns the body itself:
//! HTML when `data.type` is 0, a JSON string of Quill ops (`{"ops":[…]}`)
//! when it is 3 (those also carry the same body as opus paragraphs in
//! `data.opus`, read when the ops cannot be). The opus detail API
//! (`x/polymer/web-dynamic/v1/opus/detail`) answers `data.item.modules[]`;
//! an old article it cannot render answers `data.fallback {id, type: 2}`,
//! and the article view API is asked for that id instead.
//!
//! The item: kind `article`, the title, the body as text and sanitised
//! HTML, the cover (banner) first, then every picture of the body in
//! order (and the motion clip of a live picture after them).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;
use url::Url;
use vaultstream_core::ContentKind;
use vaultstream_core::parsed::{FetchError, MediaRole, ParsedItem};

use super::rich::{self, Rich};
use super::{absolute, api, author, get, send, with_referer};
use crate::fetch::live::LivePhotos;
use crate::fetch::value::{array_at, first_str, id_at, int_at, stat, str_at, unix_secs};
use crate::fetch::{Ctx, html, malformed, media};
use crate::http::status::excerpt;

/// What the opus detail API needs to render every article (`htmlNewStyle`;
/// the documented browser set).
const OPUS_FEATURES: &str = "onlyfansVote,onlyfansAssetsV2,decorationCard,htmlNewStyle,ugcDelete,editable,opusPrivateVisible,tribeeEdit,avatarAutoTheme,avatarTypeOpus";

pub(super) async fn fetch_cv(ctx: &Ctx, id: &str) -> Result<ParsedItem, FetchError> {
    let body = get(
        ctx,
        &format!("https://api.bilibili.com/x/article/view?id={id}"),
        "the article view API",
    )
    .await?;
    parse_article_view(&body, id)
}

pub(super) async fn fetch_opus(ctx: &Ctx, id: &str) -> Result<ParsedItem, FetchError> {
    // The API wants a non-empty `buvid3` cookie (any value); an operator's
    // own Bilibili cookies replace it.
    let url = format!(
        "https://api.bilibili.com/x/polymer/web-dynamic/v1/opus/detail?id={id}&features={OPUS_FEATURES}"
    );
    let req = api(&url)?.header("cookie", "buvid3=vaultstream");
    let body = send(ctx, req, "the opus detail API").await?;
    if int_at(&body, "/data/fallback/type") == Some(2)
        && let Some(cv) = id_at(&body, "/data/fallback/id")
    {
        return fetch_cv(ctx, &cv).await;
    }
    parse_opus(&body)
}

/// A `x/article/view` body (code already checked).
pub(super) fn parse_article_view(body: &Value, id: &str) -> Result<ParsedItem, FetchError> {
    let d = body
        .get("data")
        .filter(|d| d.is_object())
        .ok_or_else(|| malformed("the article view answer has no `data`", ""))?;
    let title = str_at(d, "/title");
    let content = str_at(d, "/content");
    if title.is_none() && content.is_none() {
        return Err(malformed(
            "the article view `data` has neither `title` nor `content`",
            "",
        ));
    }
    let base = Url::parse(&format!("https://www.bilibili.com/read/cv{id}")).ok();
    let opus = array_at(d, "/opus/content/paragraphs");
    let body_rich = match content {
        Some(c) if int_at(d, "/type") == Some(3) || c.starts_with('{') => {
            match serde_json::from_str::<Value>(&c) {
                Ok(delta) if delta.get("ops").is_some_and(Value::is_array) => {
                    Some(rich::ops(array_at(&delta, "/ops")))
                }
                _ if !opus.is_empty() => Some(rich::paragraphs(opus)),
                _ => {
                    return Err(malformed(
                        "the article's `content` is neither HTML nor Quill ops",
                        excerpt(c.as_bytes()),
                    ));
                }
            }
        }
        Some(c) => Some(from_html(&c, base.as_ref())),
        None if !opus.is_empty() => Some(rich::paragraphs(opus)),
        None => None,
    };
    // The banner is the article's cover; `origin_image_urls` are the cover
    // pictures the list pages show, the first of which stands in for it.
    let cover = first_str(d, &["/banner_url", "/origin_image_urls/0", "/image_urls/0"]);
    let mut stats = Default::default();
    for (key, ptr) in [
        ("views", "/stats/view"),
        ("likes", "/stats/like"),
        ("favorites", "/stats/favorite"),
        ("comments", "/stats/reply"),
        ("shares", "/stats/share"),
        ("coins", "/stats/coin"),
    ] {
        stat(&mut stats, key, int_at(d, ptr));
    }
    let mut item = article_item(body_rich, cover);
    item.title = title;
    if item.text.is_none() {
        item.text = str_at(d, "/summary");
    }
    item.author = author(d, "/author/mid", "/author/name", "/author/face");
    item.published_at = int_at(d, "/publish_time")
        .or_else(|| int_at(d, "/ctime"))
        .and_then(unix_secs);
    item.stats = stats;
    item.tags = array_at(d, "/tags")
        .iter()
        .filter_map(|t| str_at(t, "/name"))
        .collect();
    item.canonical_url = Some(format!("https://www.bilibili.com/read/cv{id}"));
    if let Some(list) = d
        .get("list")
        .filter(|l| int_at(l, "/id").is_some_and(|i| i > 0))
    {
        item.fields.insert("collection".to_owned(), list.clone());
    }
    item.raw = body.clone();
    Ok(item)
}

/// An opus detail body whose item is an article (code already checked).
pub(super) fn parse_opus(body: &Value) -> Result<ParsedItem, FetchError> {
    let it = body
        .pointer("/data/item")
        .filter(|i| i.is_object())
        .ok_or_else(|| malformed("the opus detail answer has no `data.item`", ""))?;
    let modules = array_at(it, "/modules");
    if modules.is_empty() {
        return Err(malformed("the opus detail item has no `modules`", ""));
    }
    // `modules` is a list of `{module_type, module_<x>: {…}}`.
    let module = |key: &str| {
        modules
            .iter()
            .find_map(|m| m.get(key))
            .filter(|m| m.is_object())
    };
    let body_rich = module("module_content").map(|c| rich::paragraphs(array_at(c, "/paragraphs")));
    let mut item = article_item(body_rich, None);
    item.title = module("module_title")
        .and_then(|t| str_at(t, "/text"))
        .or_else(|| {
            // The page title, with the site's suffix.
            str_at(it, "/basic/title").map(|t| t.trim_end_matches(" - 哔哩哔哩").to_owned())
        });
    if let Some(a) = module("module_author") {
        item.author = author(a, "/mid", "/name", "/face");
        item.published_at = int_at(a, "/pub_ts").and_then(unix_secs);
    }
    if let Some(extend) = module("module_extend") {
        item.tags = array_at(extend, "/items")
            .iter()
            .filter_map(|t| str_at(t, "/text"))
            .collect();
    }
    if let Some(s) = module("module_stat") {
        for (key, ptr) in [
            ("likes", "/like/count"),
            ("comments", "/comment/count"),
            ("shares", "/forward/count"),
            ("favorites", "/favorite/count"),
            ("coins", "/coin/count"),
        ] {
            stat(&mut item.stats, key, int_at(s, ptr));
        }
    }
    item.canonical_url =
        str_at(it, "/id_str").map(|i| format!("https://www.bilibili.com/opus/{i}"));
    item.raw = body.clone();
    Ok(item)
}

/// The article's body and media; the caller fills in the rest.
fn article_item(body: Option<Rich>, cover: Option<String>) -> ParsedItem {
    let mut media_list = Vec::new();
    if let Some(c) = cover {
        media_list.push(with_referer(media(MediaRole::Cover, absolute(&c))));
    }
    let mut live = LivePhotos::default();
    let (text, html_body) = match body {
        Some(rich) => {
            for p in rich.pictures {
                let mut m = with_referer(media(MediaRole::Image, p.url.clone()));
                m.width = p.width;
                m.height = p.height;
                media_list.push(m);
                if let Some(clip) = p.live_url {
                    live.push(&p.url, with_referer(media(MediaRole::Video, clip)));
                }
            }
            (
                Some(rich.text).filter(|t| !t.is_empty()),
                Some(rich.html).filter(|h| !h.is_empty()),
            )
        }
        None => (None, None),
    };
    let mut fields = Default::default();
    live.finish(&mut media_list, &mut fields);
    ParsedItem {
        kind: Some(ContentKind::Article),
        text,
        html: html_body,
        media: media_list,
        fields,
        ..ParsedItem::default()
    }
}

/// A type-0 (HTML) body: pictures are lazy-loaded (`data-src`) and written
/// protocol-relative, so both are made plain before sanitising.
fn from_html(content: &str, base: Option<&Url>) -> Rich {
    static IMG: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?i)<img\b[^>]*>").ok());
    let content = match IMG.as_ref() {
        Some(re) => re
            .replace_all(content, |c: &regex::Captures<'_>| {
                let tag = &c[0];
                let tag = if tag.contains(" src=") {
                    tag.to_owned()
                } else {
                    tag.replacen("data-src=", "src=", 1)
                };
                tag.replace("src=\"//", "src=\"https://")
            })
            .into_owned(),
        None => content.to_owned(),
    };
    let pictures = html::image_urls(&content, base)
        .into_iter()
        .map(|url| rich::Picture {
            url,
            width: None,
            height: None,
            live_url: None,
        })
        .collect();
    let html = html::sanitise(&content);
    Rich {
        text: html::to_text(&html),
        html,
        pictures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_and_protocol_relative_pictures() {
        let base = Url::parse("https://www.bilibili.com/read/cv1").ok();
        let rich = from_html(
            r#"<p>a</p><figure class="img-box"><img data-src="//i0.hdslb.com/bfs/article/x.jpg" width="1280"></figure><img src="https://i0.hdslb.com/y.png">"#,
            base.as_ref(),
        );
        assert!(
            rich.html
                .contains(r#"<img src="https://i0.hdslb.com/bfs/article/x.jpg""#),
            "{}",
            rich.html
        );
        assert_eq!(
            rich.pictures
                .iter()
                .map(|p| p.url.as_str())
                .collect::<Vec<_>>(),
            vec![
                "https://i0.hdslb.com/bfs/article/x.jpg",
                "https://i0.hdslb.com/y.png"
            ]
        );
        assert_eq!(rich.text, "a");
    }
}
