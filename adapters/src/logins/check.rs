//! Is a login still good? One cheap authenticated request per platform,
//! and what its answer means.
//!
//! - Bilibili: `GET https://api.bilibili.com/x/web-interface/nav`
//!   (documented by the community API docs, SocialSisterYi/bilibili-API-collect
//!   `docs/login/login_info.md`): `code` 0 with `data.isLogin` true and
//!   `data.uname` is a login; `-101` is "not logged in"; `-352` (and
//!   `-412`, or HTTP 412) is risk control.
//! - Weibo: `GET https://m.weibo.cn/api/config` (what m.weibo.cn's own page
//!   asks first; used the same way by RSSHub's and weibo-crawler's cookie
//!   checks): `{"ok":1,"data":{"login":true,"uid":..}}`; `login: false`, or a
//!   redirect to the passport, is expired; HTTP 418 is its anti-crawler wall.
//! - Zhihu: `GET https://www.zhihu.com/api/v4/me` (the web app's own call):
//!   200 with `id` and `name` is a login; 401 is expired; 403 is its
//!   anti-crawler wall (error 40362 and friends).
//!
//! Other platforms have no check: their logins show as unchecked.

use serde_json::Value;
use url::Url;
use vaultstream_core::Platform;
use vaultstream_core::db::logins::LoginState;
use vaultstream_core::settings::Secret;

use crate::http::client::{Get, HttpClient, IPHONE_UA, Response};

/// What one check found; `detail` never holds a cookie (it quotes the
/// platform's code and message only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub state: LoginState,
    pub account: Option<String>,
    pub detail: String,
}

impl CheckOutcome {
    fn new(state: LoginState, detail: impl Into<String>) -> Self {
        Self {
            state,
            account: None,
            detail: detail.into(),
        }
    }
}

/// Platforms with a health check.
pub const CHECKED: [Platform; 3] = [Platform::Bilibili, Platform::Weibo, Platform::Zhihu];

pub fn supported(platform: Platform) -> bool {
    CHECKED.contains(&platform)
}

fn probe_url(platform: Platform) -> Option<&'static str> {
    match platform {
        Platform::Bilibili => Some("https://api.bilibili.com/x/web-interface/nav"),
        Platform::Weibo => Some("https://m.weibo.cn/api/config"),
        Platform::Zhihu => Some("https://www.zhihu.com/api/v4/me"),
        _ => None,
    }
}

/// Check `cookie` against `platform`; `None` when the platform has no
/// check. The request carries exactly this cookie (not whatever the
/// client would pick), and answers are never followed to another host.
pub(crate) async fn probe(
    http: &HttpClient,
    platform: Platform,
    cookie: &Secret<String>,
) -> Option<CheckOutcome> {
    let url = Url::parse(probe_url(platform)?).ok()?;
    let mut get = Get::new(url, platform);
    // `platform: None`: the client adds no stored cookie of its own.
    get.platform = None;
    get.cookie = Some(cookie.expose().clone());
    get = match platform {
        Platform::Bilibili => get.header("referer", "https://www.bilibili.com/"),
        Platform::Weibo => get
            .user_agent(IPHONE_UA)
            .header("referer", "https://m.weibo.cn/")
            .header("mweibo-pwa", "1"),
        _ => get,
    };
    let response = match http.get(get).await {
        Ok(r) => r,
        Err(e) => {
            return Some(CheckOutcome::new(
                LoginState::Unreachable,
                format!("no answer: {}", e.message),
            ));
        }
    };
    Some(match platform {
        Platform::Bilibili => bilibili(&response),
        Platform::Weibo => weibo(&response),
        _ => zhihu(&response),
    })
}

fn json(r: &Response) -> Option<Value> {
    serde_json::from_slice(&r.body).ok()
}

fn unexpected(r: &Response) -> CheckOutcome {
    CheckOutcome::new(
        LoginState::Unreachable,
        format!("unexpected answer (HTTP {})", r.status.as_u16()),
    )
}

/// Bilibili's `nav`.
pub(crate) fn bilibili(r: &Response) -> CheckOutcome {
    if r.status.as_u16() == 412 {
        return CheckOutcome::new(LoginState::RiskControl, "HTTP 412 (risk control)");
    }
    let Some(v) = json(r).filter(|_| r.status.is_success()) else {
        return unexpected(r);
    };
    let code = v.get("code").and_then(Value::as_i64);
    let message = v.get("message").and_then(Value::as_str).unwrap_or_default();
    match code {
        Some(0) if v.pointer("/data/isLogin").and_then(Value::as_bool) == Some(true) => {
            CheckOutcome {
                state: LoginState::Valid,
                account: v
                    .pointer("/data/uname")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                detail: "logged in".into(),
            }
        }
        Some(0) | Some(-101) => CheckOutcome::new(
            LoginState::Expired,
            format!("code {}: {message}", code.unwrap_or(0)),
        ),
        Some(c @ (-352 | -412)) => {
            CheckOutcome::new(LoginState::RiskControl, format!("code {c}: {message}"))
        }
        Some(c) => CheckOutcome::new(LoginState::Unreachable, format!("code {c}: {message}")),
        None => unexpected(r),
    }
}

/// Weibo's `api/config`.
pub(crate) fn weibo(r: &Response) -> CheckOutcome {
    if r.status.as_u16() == 418 {
        return CheckOutcome::new(LoginState::RiskControl, "HTTP 418 (anti-crawler wall)");
    }
    if r.url.host_str().is_some_and(|h| h.contains("passport")) {
        return CheckOutcome::new(LoginState::Expired, "redirected to the login page");
    }
    let Some(v) = json(r).filter(|_| r.status.is_success()) else {
        return unexpected(r);
    };
    match v.pointer("/data/login").and_then(Value::as_bool) {
        Some(true) => CheckOutcome {
            state: LoginState::Valid,
            account: v.pointer("/data/uid").and_then(|u| {
                u.as_str()
                    .map(str::to_owned)
                    .or_else(|| u.as_i64().map(|n| n.to_string()))
            }),
            detail: "logged in".into(),
        },
        Some(false) => CheckOutcome::new(LoginState::Expired, "login: false"),
        None => unexpected(r),
    }
}

/// Zhihu's `api/v4/me`.
pub(crate) fn zhihu(r: &Response) -> CheckOutcome {
    let v = json(r);
    let code = v
        .as_ref()
        .and_then(|v| v.pointer("/error/code"))
        .and_then(Value::as_i64);
    match r.status.as_u16() {
        200 => match v
            .as_ref()
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
        {
            Some(name) => CheckOutcome {
                state: LoginState::Valid,
                account: Some(name.to_owned()),
                detail: "logged in".into(),
            },
            None => unexpected(r),
        },
        401 => CheckOutcome::new(
            LoginState::Expired,
            format!("HTTP 401 (error {})", code.unwrap_or_default()),
        ),
        403 => CheckOutcome::new(
            LoginState::RiskControl,
            format!("HTTP 403 (error {})", code.unwrap_or_default()),
        ),
        _ => unexpected(r),
    }
}

#[cfg(test)]
mod tests {
    //! Answers as the platforms give them (shapes from the sources named in
    //! the module documentation).
    use super::*;
    use reqwest::StatusCode;
    use reqwest::header::HeaderMap;

    fn answer(status: u16, url: &str, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
            url: Url::parse(url).unwrap(),
        }
    }

    #[test]
    fn bilibili_nav() {
        let nav = "https://api.bilibili.com/x/web-interface/nav";
        let ok = bilibili(&answer(
            200,
            nav,
            r#"{"code":0,"data":{"isLogin":true,"uname":"bob"}}"#,
        ));
        assert_eq!(
            (ok.state, ok.account.as_deref()),
            (LoginState::Valid, Some("bob"))
        );
        let out = bilibili(&answer(
            200,
            nav,
            r#"{"code":-101,"message":"账号未登录","data":{"isLogin":false}}"#,
        ));
        assert_eq!(out.state, LoginState::Expired);
        assert_eq!(
            bilibili(&answer(200, nav, r#"{"code":-352,"message":"-352"}"#)).state,
            LoginState::RiskControl
        );
        assert_eq!(
            bilibili(&answer(412, nav, "blocked")).state,
            LoginState::RiskControl
        );
        assert_eq!(
            bilibili(&answer(502, nav, "")).state,
            LoginState::Unreachable
        );
        assert_eq!(
            bilibili(&answer(200, nav, "<html>")).state,
            LoginState::Unreachable
        );
    }

    #[test]
    fn weibo_config() {
        let cfg = "https://m.weibo.cn/api/config";
        let ok = weibo(&answer(
            200,
            cfg,
            r#"{"data":{"login":true,"uid":"123","st":"x"},"ok":1}"#,
        ));
        assert_eq!(
            (ok.state, ok.account.as_deref()),
            (LoginState::Valid, Some("123"))
        );
        let out = weibo(&answer(200, cfg, r#"{"data":{"login":false},"ok":1}"#));
        assert_eq!(out.state, LoginState::Expired);
        let wall = weibo(&answer(
            200,
            "https://passport.weibo.cn/signin/login",
            "<html>",
        ));
        assert_eq!(wall.state, LoginState::Expired);
        assert_eq!(weibo(&answer(418, cfg, "")).state, LoginState::RiskControl);
    }

    #[test]
    fn zhihu_me() {
        let me = "https://www.zhihu.com/api/v4/me";
        let ok = zhihu(&answer(
            200,
            me,
            r#"{"id":"abc","name":"知乎用户","url_token":"u"}"#,
        ));
        assert_eq!(
            (ok.state, ok.account.as_deref()),
            (LoginState::Valid, Some("知乎用户"))
        );
        let out = zhihu(&answer(
            401,
            me,
            r#"{"error":{"code":100,"message":"请求头或参数封装错误"}}"#,
        ));
        assert_eq!(out.state, LoginState::Expired);
        assert!(out.detail.contains("100"));
        assert_eq!(
            zhihu(&answer(403, me, r#"{"error":{"code":40362}}"#)).state,
            LoginState::RiskControl
        );
        assert_eq!(zhihu(&answer(500, me, "")).state, LoginState::Unreachable);
    }
}
