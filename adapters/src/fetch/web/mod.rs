//! Generic web pages: OpenGraph, Twitter cards, JSON-LD, then the readable
//! main text and its images.
//!
//! Layout: `charset` (the page's bytes decoded in the charset it is
//! written in: header, `<meta>`, or sniffed), `readable` (the main content
//! block and its pictures).
//!
//! The URL is whatever a user pasted, so this is the one adapter whose
//! requests go through the SSRF guard. Metadata wins over scraping: a page's
//! own `og:title` is better than anything we infer. A link straight to an
//! image or video becomes an item holding that one file (its body is not
//! downloaded here).

use std::collections::HashSet;
use std::sync::LazyLock;

use async_trait::async_trait;
use scraper::{Html, Selector};
use serde_json::Value;
use url::Url;
use vaultstream_core::parsed::{
    ErrorClass, FetchError, MediaRef, MediaRole, ParsedAuthor, ParsedItem,
};
use vaultstream_core::{ContentKind, Platform};

use super::value::{parse_iso, str_at};
use super::{Adapter, Ctx, FetchRequest, html, malformed, media};
use crate::http::client::Get;

mod charset;
mod readable;

pub(crate) struct Web;

/// More images than this in one page are galleries of thumbnails or ads.
const MAX_IMAGES: usize = 50;

#[async_trait]
impl Adapter for Web {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let raw_url = if req.identity.platform_id.starts_with("http") {
            &req.identity.platform_id
        } else {
            &req.identity.canonical_url
        };
        let url = Url::parse(raw_url).map_err(|e| {
            FetchError::permanent(format!("`{raw_url}` is not a URL: {e}")).with_source(e)
        })?;
        let mut get = Get::new(url, Platform::Web).html();
        get.guarded = true;
        get.only_documents = true;
        let resp = ctx.http.get(get).await?;
        resp.check_status(ErrorClass::Permanent)?;
        let ct = resp.content_type();
        let kind = ct.split(';').next().unwrap_or_default().trim().to_owned();
        if kind.starts_with("image/") || kind.starts_with("video/") {
            let role = if kind.starts_with("image/") {
                MediaRole::Image
            } else {
                MediaRole::Video
            };
            let mut m = media(role, resp.url.as_str());
            m.mime = Some(kind.clone());
            return Ok(ParsedItem {
                kind: Some(ContentKind::Page),
                title: resp
                    .url
                    .path_segments()
                    .and_then(|mut s| s.next_back())
                    .map(str::to_owned)
                    .filter(|s| !s.is_empty()),
                canonical_url: Some(resp.url.to_string()),
                media: vec![m],
                raw: serde_json::json!({ "url": resp.url.as_str(), "content_type": ct }),
                ..ParsedItem::default()
            });
        }
        if !(kind.is_empty() || kind.contains("html") || kind.contains("xml")) {
            return Err(FetchError::permanent(format!(
                "not a web page we can archive (content type `{kind}`)"
            )));
        }
        let (page, encoding, source) = charset::decode(&resp.body, &ct, resp.url.host_str());
        let mut item = parse_page(&page, &resp.url)?;
        item.raw = serde_json::json!({
            "url": resp.url.as_str(),
            "content_type": ct,
            "charset": encoding.name(),
            "charset_source": source.as_str(),
            "html": page,
        });
        Ok(item)
    }
}

fn sel(s: &'static str) -> Option<Selector> {
    Selector::parse(s).ok()
}

static META: LazyLock<Option<Selector>> = LazyLock::new(|| sel("meta"));
static TITLE: LazyLock<Option<Selector>> = LazyLock::new(|| sel("title"));
static CANONICAL: LazyLock<Option<Selector>> = LazyLock::new(|| sel(r#"link[rel~="canonical"]"#));
static LD_JSON: LazyLock<Option<Selector>> =
    LazyLock::new(|| sel(r#"script[type="application/ld+json"]"#));

/// OpenGraph image with the structured properties that follow it.
#[derive(Default)]
struct OgImage {
    url: String,
    width: Option<u32>,
    height: Option<u32>,
    mime: Option<String>,
}

/// Parse a page. Public to the crate so tests can feed pages directly.
pub(crate) fn parse_page(page: &str, url: &Url) -> Result<ParsedItem, FetchError> {
    if page.trim().is_empty() {
        return Err(malformed("the page is empty", url.to_string()));
    }
    let doc = Html::parse_document(page);
    let mut meta: Vec<(String, String)> = Vec::new();
    if let Some(s) = META.as_ref() {
        for m in doc.select(s) {
            let e = m.value();
            let key = e.attr("property").or(e.attr("name")).or(e.attr("itemprop"));
            if let (Some(k), Some(c)) = (key, e.attr("content")) {
                let c = c.split_whitespace().collect::<Vec<_>>().join(" ");
                if !c.is_empty() {
                    meta.push((k.trim().to_ascii_lowercase(), c));
                }
            }
        }
    }
    let get = |k: &str| meta.iter().find(|(mk, _)| mk == k).map(|(_, v)| v.clone());
    let all = |k: &str| -> Vec<String> {
        meta.iter()
            .filter(|(mk, _)| mk == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let abs = |s: &str| url.join(s.trim()).ok().map(String::from);

    // og:image and its structured properties, in order.
    let mut og_images: Vec<OgImage> = Vec::new();
    for (k, v) in &meta {
        match k.as_str() {
            "og:image" | "og:image:url" => {
                if let Some(u) = abs(v) {
                    og_images.push(OgImage {
                        url: u,
                        ..OgImage::default()
                    });
                }
            }
            "og:image:secure_url" => {
                if let (Some(last), Some(u)) = (og_images.last_mut(), abs(v)) {
                    last.url = u;
                }
            }
            "og:image:width" => {
                if let Some(last) = og_images.last_mut() {
                    last.width = v.parse().ok();
                }
            }
            "og:image:height" => {
                if let Some(last) = og_images.last_mut() {
                    last.height = v.parse().ok();
                }
            }
            "og:image:type" => {
                if let Some(last) = og_images.last_mut() {
                    last.mime = Some(v.clone());
                }
            }
            _ => {}
        }
    }

    let ld = json_ld(&doc);
    let title_tag = TITLE
        .as_ref()
        .and_then(|s| doc.select(s).next())
        .map(|t| t.text().collect::<String>().trim().to_owned())
        .filter(|t| !t.is_empty());
    let title = get("og:title")
        .or_else(|| get("twitter:title"))
        .or_else(|| {
            ld.as_ref()
                .and_then(|l| str_at(l, "/headline").or_else(|| str_at(l, "/name")))
        })
        .or(title_tag);
    let description = get("og:description")
        .or_else(|| get("twitter:description"))
        .or_else(|| get("description"))
        .or_else(|| ld.as_ref().and_then(|l| str_at(l, "/description")));

    // Readable text: the page's marked article, else its densest block of
    // paragraphs, else the body.
    let main = readable::main_block(&doc);
    let main_text = main.map(html::element_text).filter(|t| !t.is_empty());
    let main_html = main
        .map(readable::clean_html)
        .filter(|h| !h.trim().is_empty());
    let text = main_text
        .or_else(|| ld.as_ref().and_then(|l| str_at(l, "/articleBody")))
        .or_else(|| description.clone());
    let html_body = main_html.or_else(|| text.as_deref().map(html::text_to_html));

    let author_name = ld
        .as_ref()
        .and_then(ld_author)
        .or_else(|| get("author"))
        .or_else(|| get("article:author").filter(|a| !a.starts_with("http")))
        .or_else(|| get("twitter:creator"));
    let published = get("article:published_time")
        .or_else(|| ld.as_ref().and_then(|l| str_at(l, "/datePublished")))
        .or_else(|| get("date"))
        .and_then(|s| parse_iso(&s));

    let mut tags: Vec<String> = all("article:tag");
    if let Some(l) = &ld {
        match l.get("keywords") {
            Some(Value::String(s)) => tags.extend(s.split(',').map(|t| t.trim().to_owned())),
            Some(Value::Array(a)) => {
                tags.extend(a.iter().filter_map(|t| t.as_str().map(str::to_owned)))
            }
            _ => {}
        }
    }
    if tags.is_empty()
        && let Some(k) = get("keywords")
    {
        tags.extend(k.split(',').map(|t| t.trim().to_owned()));
    }
    let mut seen_tags = HashSet::new();
    tags.retain(|t| !t.is_empty() && seen_tags.insert(t.clone()));

    // Media: the page's declared image is its cover, then the other declared
    // images, then pictures in the main content, then declared videos.
    let mut seen = HashSet::new();
    let mut media_list: Vec<MediaRef> = Vec::new();
    let mut push = |m: MediaRef, list: &mut Vec<MediaRef>| {
        if seen.insert(m.url.clone()) {
            list.push(m);
        }
    };
    let mut declared: Vec<MediaRef> = og_images
        .into_iter()
        .map(|i| MediaRef {
            width: i.width,
            height: i.height,
            mime: i.mime,
            ..media(MediaRole::Image, i.url)
        })
        .collect();
    for extra in [get("twitter:image"), get("twitter:image:src")]
        .into_iter()
        .flatten()
    {
        if let Some(u) = abs(&extra) {
            declared.push(media(MediaRole::Image, u));
        }
    }
    if let Some(l) = &ld {
        for u in ld_images(l) {
            if let Some(u) = abs(&u) {
                declared.push(media(MediaRole::Image, u));
            }
        }
    }
    for (i, mut m) in declared.into_iter().enumerate() {
        if i == 0 {
            m.role = MediaRole::Cover;
        }
        push(m, &mut media_list);
    }
    if let Some(main) = main {
        for i in readable::images(main, url) {
            let m = MediaRef {
                width: i.width,
                height: i.height,
                ..media(MediaRole::Image, i.url)
            };
            push(m, &mut media_list);
        }
    }
    let videos = [
        "og:video:secure_url",
        "og:video",
        "og:video:url",
        "twitter:player:stream",
    ]
    .iter()
    .filter_map(|k| get(k))
    .chain(ld.as_ref().and_then(|l| str_at(l, "/contentUrl")))
    .filter_map(|v| abs(&v))
    .collect::<Vec<_>>();
    if let Some(v) = videos.into_iter().next() {
        let mut m = media(MediaRole::Video, v);
        m.width = get("og:video:width").and_then(|w| w.parse().ok());
        m.height = get("og:video:height").and_then(|h| h.parse().ok());
        m.mime = get("og:video:type");
        push(m, &mut media_list);
    }
    let cover_count = media_list
        .iter()
        .filter(|m| m.role == MediaRole::Cover)
        .count();
    media_list.truncate(MAX_IMAGES + cover_count + 1);

    let canonical_url = get("og:url")
        .or_else(|| {
            CANONICAL
                .as_ref()
                .and_then(|s| doc.select(s).next())
                .and_then(|l| l.value().attr("href").map(str::to_owned))
        })
        .and_then(|c| abs(&c));

    Ok(ParsedItem {
        kind: Some(ContentKind::Page),
        title,
        text,
        html: html_body,
        author: author_name.map(|name| ParsedAuthor {
            name: Some(name),
            ..ParsedAuthor::default()
        }),
        published_at: published,
        stats: Default::default(),
        tags,
        canonical_url,
        media: media_list,
        quoted: None,
        parts: Vec::new(),
        fields: Default::default(),
        raw: Value::Null,
    })
}

/// The first JSON-LD object that describes the page's content (inside
/// `@graph` or arrays too); pages often also carry WebSite/Organization
/// blocks that say nothing about this page.
fn json_ld(doc: &Html) -> Option<Value> {
    const CONTENT_TYPES: &[&str] = &[
        "Article",
        "NewsArticle",
        "BlogPosting",
        "Report",
        "TechArticle",
        "ScholarlyArticle",
        "SocialMediaPosting",
        "DiscussionForumPosting",
        "VideoObject",
        "WebPage",
        "Recipe",
        "Product",
    ];
    let s = LD_JSON.as_ref()?;
    let mut candidates: Vec<Value> = Vec::new();
    for script in doc.select(s) {
        let raw: String = script.text().collect();
        let Ok(v) = serde_json::from_str::<Value>(raw.trim()) else {
            continue;
        };
        flatten_ld(v, &mut candidates);
    }
    let type_of = |v: &Value| -> Vec<String> {
        match v.get("@type") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    CONTENT_TYPES
        .iter()
        .find_map(|want| {
            candidates
                .iter()
                .find(|c| type_of(c).iter().any(|t| t == want))
        })
        .cloned()
}

fn flatten_ld(v: Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(items) => items.into_iter().for_each(|i| flatten_ld(i, out)),
        Value::Object(mut o) => {
            if let Some(graph) = o.remove("@graph") {
                flatten_ld(graph, out);
            }
            out.push(Value::Object(o));
        }
        _ => {}
    }
}

fn ld_author(l: &Value) -> Option<String> {
    match l.get("author")? {
        Value::String(s) => Some(s.clone()),
        Value::Object(_) => str_at(l, "/author/name"),
        Value::Array(a) => {
            let names: Vec<String> = a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned).or_else(|| str_at(x, "/name")))
                .collect();
            (!names.is_empty()).then(|| names.join(", "))
        }
        _ => None,
    }
    .filter(|s| !s.trim().is_empty())
}

fn ld_images(l: &Value) -> Vec<String> {
    let one = |v: &Value| v.as_str().map(str::to_owned).or_else(|| str_at(v, "/url"));
    let mut out: Vec<String> = match l.get("image") {
        Some(Value::Array(a)) => a.iter().filter_map(one).collect(),
        Some(v) => one(v).into_iter().collect(),
        None => Vec::new(),
    };
    if let Some(t) = str_at(l, "/thumbnailUrl") {
        out.push(t);
    }
    out
}
