//! Weibo: `m.weibo.cn/statuses/show` (the mobile web API, as RSSHub uses
//! it), with the full text from `statusesextend` for every cut post (the
//! status and the original it reposts).
//!
//! Layout: `visitor` (Weibo's visitor cookies, fetched once per fetcher and
//! refreshed), `mblog` (one status → one item, a repost with two parts).
//!
//! Cookies: the operator's (`VAULTSTREAM_COOKIES_WEIBO`) when set;
//! otherwise visitor cookies from Weibo's passport, as a browser without an
//! account gets them. A login wall met with visitor cookies gets them
//! fetched again (once per request) before it counts as a login wall.
//!
//! The body is `{"ok":1,"data":<mblog>}`; `ok: -100` means the cookies are
//! missing or expired (a login wall), `ok: 0` a refusal (deleted, or not
//! visible to us). A redirect to `passport.weibo.*` is the login page or
//! the visitor system.
//!
//! `fields`:
//! - `live_photos`: `[{pic_id, image, video, part?}]` — each live photo's
//!   still and motion (both are in the media: the still as an image, the
//!   motion as a video of the same part).
//! - `long_text_missing`: `[mid]` — posts Weibo said were cut whose full
//!   text it would not give (deleted meanwhile, or refused); their text is
//!   the cut one.

pub(crate) mod visitor;

mod mblog;

use async_trait::async_trait;
use serde_json::Value;
use vaultstream_core::Platform;
use vaultstream_core::parsed::{ErrorClass, FetchError, ParsedItem};

use super::value::str_at;
use super::{Adapter, Ctx, FetchRequest, build_url, malformed};
use crate::http::client::{Get, IPHONE_UA, Response};
use visitor::Cookies;

pub(crate) struct Weibo;

#[async_trait]
impl Adapter for Weibo {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let id = req.identity.platform_id.as_str();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(FetchError::permanent(format!("`{id}` is not a Weibo id")));
        }
        let mut session = Session::start(ctx).await;
        let mut body = session
            .api(&format!("https://m.weibo.cn/statuses/show?id={id}"))
            .await?;
        let missing = complete_long_texts(&mut session, &mut body).await?;
        let data = body
            .get("data")
            .filter(|d| d.is_object())
            .ok_or_else(|| malformed("the Weibo answer has no `data`", ""))?;
        let mut item = mblog::parse_status(data)?;
        if !missing.is_empty() {
            item.fields
                .insert("long_text_missing".to_owned(), serde_json::json!(missing));
        }
        item.raw = body.clone();
        Ok(item)
    }
}

/// The cookies one fetch sends, and what to say when Weibo still walls.
struct Session<'a> {
    ctx: &'a Ctx,
    /// Visitor cookies in use (none when the operator set cookies).
    visitor: Option<Cookies>,
    /// Why there are no visitor cookies, when fetching them failed.
    visitor_error: Option<FetchError>,
}

impl<'a> Session<'a> {
    async fn start(ctx: &'a Ctx) -> Self {
        let mut session = Self {
            ctx,
            visitor: None,
            visitor_error: None,
        };
        ctx.cfg.logins.fresh().await;
        if ctx.cfg.cookie(Platform::Weibo).is_some() {
            return session;
        }
        match ctx.weibo_visitor.get(ctx).await {
            Ok(c) => session.visitor = Some(c),
            // Public statuses sometimes answer without cookies: try, and
            // report this failure if Weibo walls.
            Err(e) => session.visitor_error = Some(e),
        }
        session
    }

    /// One m.weibo.cn API answer. A login wall with visitor cookies gets
    /// fresh ones and one more try.
    async fn api(&mut self, url: &str) -> Result<Value, FetchError> {
        let wall = match self.once(url).await {
            Err(e) if e.class == ErrorClass::AuthRequired => e,
            other => return other,
        };
        if let Some(stale) = self.visitor.take() {
            let fresh = self.ctx.weibo_visitor.refresh(self.ctx, &stale).await?;
            self.visitor = Some(fresh);
            return self.once(url).await.map_err(|e| {
                if e.class == ErrorClass::AuthRequired {
                    FetchError::auth_required(
                        "Weibo wants a login even with fresh visitor cookies; \
                         set VAULTSTREAM_COOKIES_WEIBO",
                    )
                    .with_detail(e.detail.unwrap_or(e.message))
                } else {
                    e
                }
            });
        }
        // No visitor cookies because the passport failed: that failure is
        // the cause (retryable when the passport was down).
        Err(self.visitor_error.clone().unwrap_or(wall))
    }

    async fn once(&self, url: &str) -> Result<Value, FetchError> {
        let mut get = Get::new(build_url(url)?, Platform::Weibo)
            .user_agent(IPHONE_UA)
            .header("referer", "https://m.weibo.cn/")
            .header("mweibo-pwa", "1")
            .header("x-requested-with", "XMLHttpRequest");
        get.cookie = self.visitor.as_ref().map(|c| c.header.clone());
        checked(&self.ctx.http.get(get).await?)
    }
}

fn checked(resp: &Response) -> Result<Value, FetchError> {
    let login_page = resp
        .url
        .host_str()
        .is_some_and(|h| h.contains("passport.weibo") || h.starts_with("login.sina"));
    if login_page {
        return Err(FetchError::auth_required(
            "Weibo redirected to its login page; set VAULTSTREAM_COOKIES_WEIBO",
        )
        .with_detail(format!("landed on {}", resp.url)));
    }
    resp.check_status(ErrorClass::AuthRequired)?;
    let body = resp.json("the Weibo answer")?;
    match body.get("ok").and_then(super::value::as_int) {
        Some(1) => Ok(body),
        Some(-100) => Err(FetchError::auth_required(
            "Weibo wants a login (visitor cookies missing or expired)",
        )),
        Some(code) => {
            let msg = str_at(&body, "/msg").unwrap_or_default();
            Err(
                FetchError::permanent("Weibo refused: the post is deleted or not visible")
                    .with_detail(format!("ok={code} msg={msg}")),
            )
        }
        None => Err(malformed(
            "the Weibo answer has no `ok`",
            crate::http::status::excerpt(&resp.body),
        )),
    }
}

/// The full text of every cut post (`isLongText` without an inline
/// `longText`), put into the body where the parser reads it. A failure
/// that may pass fails the fetch (a later attempt gets the whole text);
/// one that will not leaves the cut text, and its post is returned.
async fn complete_long_texts(
    session: &mut Session<'_>,
    body: &mut Value,
) -> Result<Vec<String>, FetchError> {
    let mut missing = Vec::new();
    for ptr in ["/data", "/data/retweeted_status"] {
        let Some(post) = body.pointer(ptr).filter(|p| p.is_object()) else {
            continue;
        };
        let cut = post.get("isLongText").and_then(Value::as_bool) == Some(true)
            && str_at(post, "/longText/longTextContent").is_none();
        let Some(mid) = mblog::mid_of(post).filter(|_| cut) else {
            continue;
        };
        let url = format!("https://m.weibo.cn/statusesextend?id={mid}");
        let text = match session.api(&url).await {
            Ok(b) => str_at(&b, "/data/longTextContent"),
            Err(e) if e.class.is_retryable() => return Err(e),
            Err(e) => {
                tracing::info!(
                    content.platform_id = %mid,
                    error = %e.report(),
                    "Weibo long text unavailable for {mid}; keeping the cut text"
                );
                None
            }
        };
        match (text, body.pointer_mut(ptr).and_then(Value::as_object_mut)) {
            (Some(text), Some(post)) => {
                post.insert(
                    "longText".to_owned(),
                    serde_json::json!({ "longTextContent": text }),
                );
            }
            _ => missing.push(mid),
        }
    }
    Ok(missing)
}
