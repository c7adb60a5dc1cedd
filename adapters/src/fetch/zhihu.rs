//! Zhihu: answers and questions through `www.zhihu.com/api/v4`, column
//! articles through `zhuanlan.zhihu.com/api/articles`, videos through
//! `api/v4/zvideos` (yt-dlp's endpoint).
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
use super::{Adapter, Ctx, FetchRequest, build_url, html, malformed, media, unsupported};
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
            "pin" => return Err(unsupported(req, "Zhihu pins")),
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

/// Field map from yt-dlp's ZhihuIE; no recorded body exists.
pub(crate) fn parse_zvideo(b: &Value) -> Result<ParsedItem, FetchError> {
    let id = id_at(b, "/id").ok_or_else(|| malformed("the zvideo has no `id`", ""))?;
    let mut media_list = Vec::new();
    if let Some(cover) = first_str(b, &["/video/thumbnail", "/image_url"]) {
        media_list.push(media(MediaRole::Cover, cover));
    }
    let playlist = b.pointer("/video/playlist").and_then(Value::as_object);
    let best = ["fhd", "hd", "sd", "ld"]
        .iter()
        .filter_map(|q| playlist.and_then(|p| p.get(*q)))
        .chain(playlist.into_iter().flat_map(|p| p.values()))
        .find_map(|f| first_str(f, &["/url", "/play_url"]).map(|u| (u, f)));
    if let Some((url, format)) = best {
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
