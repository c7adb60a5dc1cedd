//! Bilibili: every link kind we recognise.
//!
//! Layout:
//! - `video`: `BV…` through the web view API (+ the play URL); a video of
//!   several pages lists each page as a part.
//! - `dynamic`: `dynamic:<id>` (dynamics and opus pages) through the polymer
//!   detail API; a dynamic that is an article goes on to `article`.
//! - `article`: `cv<id>` through the article view API, and opus pages that
//!   are articles through the opus detail API.
//! - `season`: `ep<id>`/`ss<id>` (bangumi/PGC) through the PGC season API.
//! - `rich`: the two rich-text formats of articles (opus paragraphs, Quill
//!   ops) rendered to sanitised HTML, text and pictures.
//!
//! Bilibili answers HTTP 200 with a `code` in the body for most failures, so
//! the body code decides the class; HTTP 412 is its risk control.
//!
//! `fields` keys: `live_photos` (opus/dynamic pictures with a motion clip,
//! see `fetch::live`), `collection` (an article's 文集, `data.list` as
//! given), `episodes_total` (a season's announced episode count, when
//! positive), `rating` (a season's `{score, count}` as given),
//! `season_type` (1 番剧, 2 电影, 3 纪录片, 4 国创, 5 电视剧, 7 综艺).

mod article;
mod dynamic;
mod rich;
mod season;
mod video;

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use serde_json::Value;
use vaultstream_core::Platform;
use vaultstream_core::parsed::{ErrorClass, FetchError, MediaRef, ParsedAuthor, ParsedItem};

use super::value::{id_at, str_at};
use super::{Adapter, Ctx, FetchRequest, build_url, malformed};
use crate::http::client::{Get, Response};

pub(crate) struct Bilibili;

const REFERER: &str = "https://www.bilibili.com/";

#[async_trait]
impl Adapter for Bilibili {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let id = req.identity.platform_id.as_str();
        if id.starts_with("BV") {
            video::fetch(ctx, id, video::shared_page(req.source_url.as_deref())).await
        } else if let Some(dynamic_id) = id.strip_prefix("dynamic:") {
            dynamic::fetch(ctx, numeric(dynamic_id, id)?).await
        } else if let Some(cv) = id.strip_prefix("cv") {
            article::fetch_cv(ctx, numeric(cv, id)?).await
        } else if let Some(ep) = id.strip_prefix("ep") {
            season::fetch(ctx, season::Which::Episode(numeric(ep, id)?)).await
        } else if let Some(ss) = id.strip_prefix("ss") {
            season::fetch(ctx, season::Which::Season(numeric(ss, id)?)).await
        } else {
            Err(FetchError::permanent(format!(
                "`{id}` is not a Bilibili id we know"
            )))
        }
    }
}

/// The digits after a prefix; anything else is not an id we can ask for.
fn numeric<'a>(digits: &'a str, whole: &str) -> Result<&'a str, FetchError> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FetchError::permanent(format!(
            "`{whole}` is not a Bilibili id we know"
        )));
    }
    Ok(digits)
}

fn api(url: &str) -> Result<Get, FetchError> {
    Ok(Get::new(build_url(url)?, Platform::Bilibili).header("referer", REFERER))
}

/// One API GET: its body once its `code` says success.
async fn get(ctx: &Ctx, url: &str, what: &str) -> Result<Value, FetchError> {
    send(ctx, api(url)?, what).await
}

/// [`get`] for a request with its own extra headers.
async fn send(ctx: &Ctx, req: Get, what: &str) -> Result<Value, FetchError> {
    let resp = ctx.http.get(req).await?;
    checked(&resp, what)
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
        // PGC: members-only or not shown in this region; a member's (or a
        // local account's) cookies get past it.
        -10403 => FetchError::auth_required(format!(
            "Bilibili restricts this to members or other regions (code {code})"
        )),
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

/// Bilibili writes many URLs protocol-relative (`//i0.hdslb.com/…`).
fn absolute(url: &str) -> String {
    match url.strip_prefix("//") {
        Some(rest) => format!("https://{rest}"),
        None => url.to_owned(),
    }
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

    #[test]
    fn protocol_relative_urls() {
        assert_eq!(
            absolute("//i0.hdslb.com/a.png"),
            "https://i0.hdslb.com/a.png"
        );
        assert_eq!(
            absolute("http://i0.hdslb.com/a.png"),
            "http://i0.hdslb.com/a.png"
        );
    }
}
