//! Zhihu: answers and questions through `www.zhihu.com/api/v4`, column
//! articles through `zhuanlan.zhihu.com/api/articles`, videos through
//! `api/v4/zvideos` (yt-dlp's endpoint), pins (想法) through `api/v4/pins`.
//!
//! A pin (kind `pin`) is its `content[]` items in order — text (HTML),
//! pictures, a pinned link — with `content_html` as the rendered body; a
//! repost's original (`origin_pin`, also given as `repin`) is `quoted`,
//! parsed the same way. `fields.card` is the pinned link item as given
//! (`{type: "link", url, title, image_url…}`).
//!
//! Ids come as numbers in old bodies and strings in new ones (ids above
//! 2^53). Without `include=` the answer endpoint omits the content and the
//! counters, so we always ask for them; a body without them still parses.
//! A 403 from Zhihu is its anti-crawler wall: cookies get past it.

use async_trait::async_trait;
use serde_json::Value;
use vaultstream_core::parsed::{ErrorClass, FetchError, MediaRole, ParsedAuthor, ParsedItem};
use vaultstream_core::{ContentKind, Platform};

use super::value::{f64_at, first_str, id_at, int_at, stat, str_at, unix_secs};
use super::{Adapter, Ctx, FetchRequest, build_url, html, malformed, media};
use crate::http::client::Get;

pub(crate) struct Zhihu;

const ANSWER_INCLUDE: &str =
    "content,excerpt,voteup_count,comment_count,created_time,updated_time,question,author";
const QUESTION_INCLUDE: &str =
    "detail,answer_count,follower_count,comment_count,visit_count,author";

#[async_trait]
impl Adapter for Zhihu {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let pid = req.identity.platform_id.as_str();
        let (kind, id) = pid.split_once(':').unwrap_or(("", pid));
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FetchError::permanent(format!("`{pid}` is not a Zhihu id")));
        }
        let (url, what) = match kind {
            "answer" => (
                format!("https://www.zhihu.com/api/v4/answers/{id}?include={ANSWER_INCLUDE}"),
                "the answer API",
            ),
            "question" => (
                format!("https://www.zhihu.com/api/v4/questions/{id}?include={QUESTION_INCLUDE}"),
                "the question API",
            ),
            "article" => (
                format!("https://zhuanlan.zhihu.com/api/articles/{id}"),
                "the article API",
            ),
            "zvideo" => (
                format!("https://www.zhihu.com/api/v4/zvideos/{id}"),
                "the zvideo API",
            ),
            "pin" => (
                format!("https://www.zhihu.com/api/v4/pins/{id}"),
                "the pin API",
            ),
            _ => return Err(FetchError::permanent(format!("`{pid}` is not a Zhihu id"))),
        };
        let resp = ctx
            .http
            .get(
                Get::new(build_url(&url)?, Platform::Zhihu)
                    .header("referer", "https://www.zhihu.com/"),
            )
            .await?;
        if resp.status.is_client_error() {
            // Zhihu's error bodies: {"error":{"code":..,"message":..}}.
            let upstream = serde_json::from_slice::<Value>(&resp.body)
                .ok()
                .and_then(|b| str_at(&b, "/error/message"));
            if let Err(e) = resp.check_status(ErrorClass::AuthRequired) {
                return Err(match upstream {
                    Some(m) => FetchError {
                        detail: Some(format!("Zhihu: {m}")),
                        ..e
                    },
                    None => e,
                });
            }
        }
        resp.check_status(ErrorClass::AuthRequired)?;
        let body = resp.json(what)?;
        if let Some(m) = str_at(&body, "/error/message") {
            return Err(FetchError::permanent("Zhihu refused the request").with_detail(m));
        }
        match kind {
            "answer" => parse_answer(&body),
            "question" => parse_question(&body),
            "article" => parse_article(&body),
            "pin" => parse_pin(&body),
            _ => parse_zvideo(&body),
        }
    }
}

fn author(v: &Value) -> Option<ParsedAuthor> {
    let a = v.get("author").filter(|a| a.is_object())?;
    let token = str_at(a, "/url_token");
    Some(ParsedAuthor {
        name: str_at(a, "/name"),
        url: token
            .as_ref()
            .map(|t| format!("https://www.zhihu.com/people/{t}")),
        id: token.or_else(|| id_at(a, "/id")),
        avatar_url: str_at(a, "/avatar_url"),
    })
    // Anonymous authors come as url_token "" and name "匿名用户".
    .filter(|a| a.name.is_some())
}

/// Rich body: plain text, sanitised HTML and the pictures inside.
fn body_parts(content: Option<String>) -> (Option<String>, Option<String>, Vec<String>) {
    match content {
        Some(c) => {
            let text = Some(html::to_text(&c)).filter(|t| !t.is_empty());
            let images = html::image_urls(&c, None);
            (text, Some(html::sanitise(&c)), images)
        }
        None => (None, None, Vec::new()),
    }
}

pub(crate) fn parse_answer(b: &Value) -> Result<ParsedItem, FetchError> {
    let id = id_at(b, "/id").ok_or_else(|| malformed("the answer has no `id`", ""))?;
    let qid = id_at(b, "/question/id");
    let (text, html_body, images) = body_parts(str_at(b, "/content"));
    let mut stats = Default::default();
    stat(&mut stats, "voteups", int_at(b, "/voteup_count"));
    stat(&mut stats, "comments", int_at(b, "/comment_count"));
    Ok(ParsedItem {
        kind: Some(ContentKind::Answer),
        title: str_at(b, "/question/title"),
        // Without `content` (no include=), the excerpt is all there is.
        text: text.or_else(|| str_at(b, "/excerpt")),
        html: html_body,
        author: author(b),
        published_at: int_at(b, "/created_time").and_then(unix_secs),
        stats,
        tags: Vec::new(),
        canonical_url: Some(match &qid {
            Some(q) => format!("https://www.zhihu.com/question/{q}/answer/{id}"),
            None => format!("https://www.zhihu.com/answer/{id}"),
        }),
        media: images
            .into_iter()
            .map(|u| media(MediaRole::Image, u))
            .collect(),
        quoted: None,
        parts: Vec::new(),
        fields: Default::default(),
        raw: b.clone(),
    })
}

pub(crate) fn parse_question(b: &Value) -> Result<ParsedItem, FetchError> {
    let id = id_at(b, "/id").ok_or_else(|| malformed("the question has no `id`", ""))?;
    let (text, html_body, images) = body_parts(str_at(b, "/detail"));
    let mut stats = Default::default();
    stat(&mut stats, "answers", int_at(b, "/answer_count"));
    stat(&mut stats, "followers", int_at(b, "/follower_count"));
    stat(&mut stats, "comments", int_at(b, "/comment_count"));
    stat(&mut stats, "views", int_at(b, "/visit_count"));
    Ok(ParsedItem {
        kind: Some(ContentKind::Question),
        title: str_at(b, "/title"),
        text,
        html: html_body,
        author: author(b),
        published_at: int_at(b, "/created").and_then(unix_secs),
        stats,
        tags: Vec::new(),
        canonical_url: Some(format!("https://www.zhihu.com/question/{id}")),
        media: images
            .into_iter()
            .map(|u| media(MediaRole::Image, u))
            .collect(),
        quoted: None,
        parts: Vec::new(),
        fields: Default::default(),
        raw: b.clone(),
    })
}

pub(crate) fn parse_article(b: &Value) -> Result<ParsedItem, FetchError> {
    let id = id_at(b, "/id").ok_or_else(|| malformed("the article has no `id`", ""))?;
    let (text, html_body, images) = body_parts(str_at(b, "/content"));
    let mut stats = Default::default();
    stat(&mut stats, "voteups", int_at(b, "/voteup_count"));
    stat(&mut stats, "comments", int_at(b, "/comment_count"));
    let mut media_list = Vec::new();
    if let Some(cover) = first_str(b, &["/title_image", "/image_url"]) {
        media_list.push(media(MediaRole::Cover, cover));
    }
    media_list.extend(images.into_iter().map(|u| media(MediaRole::Image, u)));
    Ok(ParsedItem {
        kind: Some(ContentKind::Article),
        title: str_at(b, "/title"),
        text: text.or_else(|| str_at(b, "/excerpt")),
        html: html_body,
        author: author(b),
        published_at: int_at(b, "/created").and_then(unix_secs),
        stats,
        tags: super::value::array_at(b, "/topics")
            .iter()
            .filter_map(|t| str_at(t, "/name"))
            .collect(),
        canonical_url: Some(format!("https://zhuanlan.zhihu.com/p/{id}")),
        media: media_list,
        quoted: None,
        parts: Vec::new(),
        fields: Default::default(),
        raw: b.clone(),
    })
}

/// A pin (also the reposted original inside one).
pub(crate) fn parse_pin(b: &Value) -> Result<ParsedItem, FetchError> {
    let id = id_at(b, "/id").ok_or_else(|| malformed("the pin has no `id`", ""))?;
    if b.get("is_deleted") == Some(&Value::Bool(true)) {
        return Err(FetchError::permanent("the Zhihu pin is deleted"));
    }
    let mut text_html = String::new();
    let mut pictures = Vec::new();
    let mut card = None;
    for c in super::value::array_at(b, "/content") {
        match str_at(c, "/type").as_deref() {
            Some("text") => {
                if let Some(t) = first_str(c, &["/content", "/own_text"]) {
                    text_html.push_str(&format!("<p>{t}</p>"));
                }
            }
            Some("image") => {
                if let Some(url) = str_at(c, "/url") {
                    let mut m = media(MediaRole::Image, url);
                    m.width = super::value::u32_at(c, "/width");
                    m.height = super::value::u32_at(c, "/height");
                    if c.get("is_gif") == Some(&Value::Bool(true)) {
                        m.mime = Some("image/gif".to_owned());
                    }
                    pictures.push(m);
                }
            }
            Some("link") => card = Some(c.clone()),
            _ => {}
        }
    }
    let rendered = str_at(b, "/content_html");
    let text = Some(html::to_text(&text_html))
        .filter(|t| !t.is_empty())
        .or_else(|| {
            rendered
                .as_deref()
                .map(html::to_text)
                .filter(|t| !t.is_empty())
        });
    if pictures.is_empty()
        && let Some(r) = &rendered
    {
        pictures = html::image_urls(r, None)
            .into_iter()
            .map(|u| media(MediaRole::Image, u))
            .collect();
    }
    let body_html = rendered.or_else(|| Some(text_html).filter(|h| !h.is_empty()));
    let mut stats = Default::default();
    // `like_count` stays 0 on pins; the reactions are the likes.
    stat(&mut stats, "likes", int_at(b, "/reaction_count"));
    stat(&mut stats, "comments", int_at(b, "/comment_count"));
    stat(&mut stats, "reposts", int_at(b, "/repin_count"));
    let quoted = ["/origin_pin", "/repin"]
        .iter()
        .find_map(|p| b.pointer(p).filter(|o| o.is_object()))
        .and_then(|origin| match parse_pin(origin) {
            Ok(item) => Some(Box::new(item)),
            Err(e) => {
                tracing::info!(error = %e.report(), "the reposted Zhihu pin is unreadable; kept without it");
                None
            }
        });
    let mut fields = std::collections::BTreeMap::new();
    if let Some(card) = card {
        fields.insert("card".to_owned(), card);
    }
    Ok(ParsedItem {
        kind: Some(ContentKind::Pin),
        // Zhihu's own short title of the pin (its text, cut).
        title: str_at(b, "/excerpt_title"),
        text,
        html: body_html.as_deref().map(html::sanitise),
        author: author(b),
        published_at: int_at(b, "/created").and_then(unix_secs),
        stats,
        tags: super::value::array_at(b, "/tags")
            .iter()
            .filter_map(|t| t.as_str().map(|t| t.trim().trim_matches('#').trim()))
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        canonical_url: Some(format!("https://www.zhihu.com/pin/{id}")),
        media: pictures,
        quoted,
        parts: Vec::new(),
        fields,
        raw: b.clone(),
    })
}

/// Field map from yt-dlp's ZhihuIE; no recorded body exists.
pub(crate) fn parse_zvideo(b: &Value) -> Result<ParsedItem, FetchError> {
    let id = id_at(b, "/id").ok_or_else(|| malformed("the zvideo has no `id`", ""))?;
    let mut media_list = Vec::new();
    if let Some(cover) = first_str(b, &["/video/thumbnail", "/image_url"]) {
        media_list.push(media(MediaRole::Cover, cover));
    }
    if let Some((url, format)) = best_format(b.pointer("/video/playlist")) {
        let mut v = media(MediaRole::Video, url);
        v.width = super::value::u32_at(format, "/width");
        v.height = super::value::u32_at(format, "/height");
        v.duration_secs = f64_at(b, "/video/duration");
        media_list.push(v);
    }
    let mut stats = Default::default();
    stat(&mut stats, "views", int_at(b, "/play_count"));
    stat(&mut stats, "likes", int_at(b, "/liked_count"));
    stat(&mut stats, "comments", int_at(b, "/comment_count"));
    let text = str_at(b, "/description");
    Ok(ParsedItem {
        kind: Some(ContentKind::Video),
        title: str_at(b, "/title"),
        html: text.as_deref().map(html::text_to_html),
        text,
        author: author(b),
        published_at: int_at(b, "/published_at").and_then(unix_secs),
        stats,
        tags: Vec::new(),
        canonical_url: Some(format!("https://www.zhihu.com/zvideo/{id}")),
        media: media_list,
        quoted: None,
        parts: Vec::new(),
        fields: Default::default(),
        raw: b.clone(),
    })
}

/// The best playable format of a zvideo playlist: the named qualities best
/// first (`fhd`, `hd`, `sd`, `ld`), then any other by its pixel count.
fn best_format(playlist: Option<&Value>) -> Option<(String, &Value)> {
    let playlist = playlist?.as_object()?;
    let rank = |name: &str, f: &Value| {
        let named = ["ld", "sd", "hd", "fhd"]
            .iter()
            .position(|q| *q == name)
            .map_or(0, |i| i + 1);
        let pixels = u64::from(super::value::u32_at(f, "/width").unwrap_or(0))
            * u64::from(super::value::u32_at(f, "/height").unwrap_or(0));
        (named, pixels)
    };
    playlist
        .iter()
        .filter_map(|(name, f)| first_str(f, &["/url", "/play_url"]).map(|u| (rank(name, f), u, f)))
        .max_by_key(|(r, _, _)| *r)
        .map(|(_, url, f)| (url, f))
}
