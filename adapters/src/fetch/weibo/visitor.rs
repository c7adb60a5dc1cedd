//! Weibo's visitor cookies: what a browser without an account gets from
//! Weibo's passport before it may read public statuses.
//!
//! Two public flows, tried in this order:
//! - `POST visitor.passport.weibo.cn/visitor/genvisitor2` with
//!   `cb=visitor_gray_callback&tid=&from=weibo`: a JSONP answer whose
//!   `data.sub`/`data.subp` are the `SUB`/`SUBP` cookies (`retcode`
//!   20000000 is success).
//! - the older `POST passport.weibo.com/visitor/genvisitor` (`data.tid`,
//!   `data.confidence`, `data.new_tid`), then
//!   `GET passport.weibo.com/visitor/visitor?a=incarnate&t=<tid>…`, whose
//!   answer carries `data.sub`/`data.subp` the same way.
//!
//! The cookies are read from the answer's body, not only from
//! `Set-Cookie` (some answers set fewer cookies than they name). One set is
//! cached per [`super::super::Fetcher`] behind an async mutex, so
//! concurrent jobs wait for one fetch instead of each asking the passport;
//! it is fetched again after [`LIFETIME`] or when a status answers with
//! the login wall despite it ([`Visitor::refresh`]).

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;
use vaultstream_core::Platform;
use vaultstream_core::parsed::{ErrorClass, FetchError};

use super::super::value::{int_at, str_at};
use super::super::{Ctx, build_url};
use crate::http::client::{Get, IPHONE_UA};
use crate::http::status::excerpt;

/// How long a set of visitor cookies is used before a fresh one is asked
/// for (sooner when Weibo shows the login wall).
pub(crate) const LIFETIME: Duration = Duration::from_secs(12 * 3600);

const SUCCESS: i64 = 20_000_000;

/// A `Cookie` header value and which fetch produced it.
#[derive(Clone, Debug)]
pub(crate) struct Cookies {
    pub header: String,
    generation: u64,
    fetched_at: Instant,
}

/// The cache of one `Fetcher`.
#[derive(Debug, Default)]
pub(crate) struct Visitor {
    current: Mutex<(u64, Option<Cookies>)>,
}

impl Visitor {
    /// The cached cookies, fetched first when there are none or they are
    /// older than [`LIFETIME`].
    pub(crate) async fn get(&self, ctx: &Ctx) -> Result<Cookies, FetchError> {
        let mut slot = self.current.lock().await;
        if let Some(c) = &slot.1
            && c.fetched_at.elapsed() < LIFETIME
        {
            return Ok(c.clone());
        }
        fill(&mut slot, ctx).await
    }

    /// Fresh cookies after `stale` met the login wall. When another job
    /// has replaced `stale` already, its cookies are used, so a wall seen
    /// by many jobs at once costs one passport fetch.
    pub(crate) async fn refresh(&self, ctx: &Ctx, stale: &Cookies) -> Result<Cookies, FetchError> {
        let mut slot = self.current.lock().await;
        if let Some(c) = &slot.1
            && c.generation != stale.generation
        {
            return Ok(c.clone());
        }
        fill(&mut slot, ctx).await
    }
}

async fn fill(slot: &mut (u64, Option<Cookies>), ctx: &Ctx) -> Result<Cookies, FetchError> {
    let header = match genvisitor2(ctx).await {
        Ok(h) => h,
        Err(first) => {
            tracing::info!(
                error.class = %first.class,
                error = %first.report(),
                "Weibo genvisitor2 failed; trying the older visitor flow"
            );
            incarnate(ctx).await.map_err(|second| {
                // The newer flow's failure is the one to report unless
                // only the older one says the passport is down.
                if second.class.is_retryable() && !first.class.is_retryable() {
                    second
                } else {
                    first
                }
            })?
        }
    };
    slot.0 += 1;
    let cookies = Cookies {
        header,
        generation: slot.0,
        fetched_at: Instant::now(),
    };
    slot.1 = Some(cookies.clone());
    tracing::debug!(generation = slot.0, "fetched Weibo visitor cookies");
    Ok(cookies)
}

fn passport(url: &str, form: Option<String>) -> Result<Get, FetchError> {
    let mut get = Get::new(build_url(url)?, Platform::Weibo)
        .user_agent(IPHONE_UA)
        .header("referer", "https://m.weibo.cn/");
    get.form = form;
    Ok(get)
}

async fn genvisitor2(ctx: &Ctx) -> Result<String, FetchError> {
    let get = passport(
        "https://visitor.passport.weibo.cn/visitor/genvisitor2",
        Some("cb=visitor_gray_callback&tid=&from=weibo".to_owned()),
    )?;
    let data = jsonp_data(ctx, get, "genvisitor2").await?;
    cookie_header(&data, "genvisitor2")
}

/// The older flow: a visitor id (`tid`), then the cookies for it.
async fn incarnate(ctx: &Ctx) -> Result<String, FetchError> {
    const FP: &str = r#"{"os":"2","browser":"Gecko57,0,0,0","fonts":"undefined","screenInfo":"1440*900*24","plugins":""}"#;
    let form = format!(
        "cb=gen_callback&fp={}",
        percent_encoding::utf8_percent_encode(FP, percent_encoding::NON_ALPHANUMERIC)
    );
    let get = passport("https://passport.weibo.com/visitor/genvisitor", Some(form))?;
    let data = jsonp_data(ctx, get, "genvisitor").await?;
    let tid = str_at(&data, "/tid").ok_or_else(|| refused("genvisitor", "no `tid`"))?;
    let confidence = int_at(&data, "/confidence").unwrap_or(100);
    let new_tid = data.get("new_tid").and_then(Value::as_bool) == Some(true);
    let mut url = build_url("https://passport.weibo.com/visitor/visitor")?;
    url.query_pairs_mut()
        .append_pair("a", "incarnate")
        .append_pair("t", &tid)
        .append_pair("w", if new_tid { "3" } else { "2" })
        .append_pair("c", &format!("{confidence:03}"))
        .append_pair("gc", "")
        .append_pair("cb", "cross_domain")
        .append_pair("from", "weibo")
        .append_pair("_rand", &random_fraction());
    let data = jsonp_data(ctx, passport(url.as_str(), None)?, "incarnate").await?;
    cookie_header(&data, "incarnate")
}

/// `Math.random()` as the passport's script sends it; any value will do.
fn random_fraction() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("0.{nanos:09}")
}

/// A passport answer's `data` when its `retcode` says success.
async fn jsonp_data(ctx: &Ctx, get: Get, step: &str) -> Result<Value, FetchError> {
    let resp = ctx.http.get(get).await.map_err(|e| FetchError {
        message: format!("Weibo's visitor passport ({step}) failed: {}", e.message),
        ..e
    })?;
    resp.check_status(ErrorClass::AuthRequired)
        .map_err(|e| FetchError {
            message: format!("Weibo's visitor passport ({step}) failed: {}", e.message),
            ..e
        })?;
    let text = resp.text();
    let body = jsonp(&text)
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .ok_or_else(|| refused(step, &format!("not JSONP: {}", excerpt(&resp.body))))?;
    match int_at(&body, "/retcode") {
        Some(SUCCESS) => body
            .get("data")
            .filter(|d| d.is_object())
            .cloned()
            .ok_or_else(|| refused(step, "no `data`")),
        code => Err(refused(
            step,
            &format!(
                "retcode {code:?} {}",
                str_at(&body, "/msg").unwrap_or_default()
            ),
        )),
    }
}

/// `SUB=…; SUBP=…` from an answer's `data`.
fn cookie_header(data: &Value, step: &str) -> Result<String, FetchError> {
    let sub = str_at(data, "/sub").ok_or_else(|| refused(step, "no `sub` cookie"))?;
    let mut header = format!("SUB={sub}");
    if let Some(subp) = str_at(data, "/subp") {
        header.push_str(&format!("; SUBP={subp}"));
    }
    Ok(header)
}

fn refused(step: &str, why: &str) -> FetchError {
    FetchError::auth_required(
        "Weibo's passport gave no visitor cookies; set VAULTSTREAM_COOKIES_WEIBO",
    )
    .with_detail(format!("{step}: {why}"))
}

/// The JSON inside `window.cb && cb({...});`.
fn jsonp(text: &str) -> Option<&str> {
    let start = text.find('(')? + 1;
    let end = text.rfind(')')?;
    (start < end).then(|| text[start..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwraps_jsonp() {
        let text =
            r#"window.gen_callback && gen_callback({"retcode":20000000,"data":{"tid":"a(b)"}});"#;
        let v: Value = serde_json::from_str(jsonp(text).expect("jsonp")).expect("json");
        assert_eq!(v["data"]["tid"], "a(b)");
        assert_eq!(jsonp("nothing"), None);
    }

    #[test]
    fn cookies_from_data() {
        let d = serde_json::json!({"sub": "_2A", "subp": "0033"});
        assert_eq!(cookie_header(&d, "x").expect("ok"), "SUB=_2A; SUBP=0033");
        let err = cookie_header(&serde_json::json!({}), "x").expect_err("no sub");
        assert_eq!(err.class, ErrorClass::AuthRequired);
    }
}
