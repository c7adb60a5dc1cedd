//! A fake of Bilibili's login surface, built from the community API docs
//! (SocialSisterYi/bilibili-API-collect: `docs/login/login_info.md` for
//! `nav`, `docs/login/login_action/QR.md` for the web QR login,
//! `docs/video/info.md` for `view`'s login answers), for the login tests:
//!
//! - `GET api.bilibili.com/x/web-interface/nav`: a known `SESSDATA` →
//!   `{"code":0,"data":{"isLogin":true,"uname":..,"mid":..}}`; none or an
//!   expired one → `{"code":-101,"message":"账号未登录","data":{"isLogin":false}}`;
//!   in risk mode `{"code":-352,"message":"风控校验失败"}`.
//! - `GET api.bilibili.com/x/web-interface/view?bvid=..`: the body the test
//!   registered for that video when the request's `SESSDATA` is live (or
//!   the video needs no login), else `-101`; with a refresh armed, the
//!   answer also rotates the session with `Set-Cookie: SESSDATA=..`, as
//!   Bilibili does when a session nears its end.
//! - `GET passport.bilibili.com/x/passport-login/web/qrcode/generate`:
//!   `{"code":0,"data":{"url":..,"qrcode_key":<32 hex>}}` (or the risk
//!   answer while generating is refused).
//! - `GET .../qrcode/poll?qrcode_key=`: answers at once, like the real
//!   one: `86101` not scanned, `86090` scanned, `86038` once the code is
//!   older than its lifetime (180 s on Bilibili; tests shorten it), `0`
//!   once confirmed — with the login as several `Set-Cookie` headers.
//!
//! Served as `/h/<host>/...` like [`crate::replay`], so the same
//! `VAULTSTREAM_UPSTREAM_OVERRIDES` shape points the adapters here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const HOSTS: &[&str] = &["api.bilibili.com", "passport.bilibili.com"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qr {
    Waiting,
    Scanned,
    Confirmed,
}

#[derive(Default)]
struct State {
    sessions: BTreeSet<String>,
    uname: String,
    risk: bool,
    refuse_qr: bool,
    /// Videos: bvid → (needs a login, body).
    videos: BTreeMap<String, (bool, String)>,
    /// Rotate this session to the new one on the next `view` answer.
    rotate: Option<(String, String)>,
    qr: BTreeMap<String, (Instant, Qr)>,
    /// Other answers: target prefix → JSON body.
    routes: Vec<(String, String)>,
    counter: u64,
    /// Requests: (path and query, the `Cookie` header).
    hits: Vec<(String, String)>,
}

/// Cheap to clone; every clone controls the same server.
#[derive(Clone)]
pub struct FakeBilibili {
    pub base: String,
    qr_lifetime: Duration,
    state: Arc<Mutex<State>>,
}

fn sessdata(headers: &HeaderMap) -> Option<String> {
    let cookie = headers.get(header::COOKIE)?.to_str().ok()?;
    cookie.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim() == "SESSDATA").then(|| v.trim().to_owned())
    })
}

fn json_reply(v: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        v.to_string(),
    )
        .into_response()
}

impl FakeBilibili {
    /// `qr_lifetime`: how long a code can be scanned (Bilibili: 180 s).
    pub async fn start(qr_lifetime: Duration) -> Self {
        let fake = FakeBilibili {
            base: String::new(),
            qr_lifetime,
            state: Arc::default(),
        };
        let me = fake.clone();
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let me = me.clone();
            async move { me.answer(&uri, &headers) }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeBilibili {
            base: format!("http://{addr}"),
            ..fake
        }
    }

    /// `VAULTSTREAM_UPSTREAM_OVERRIDES` for Bilibili's hosts.
    pub fn overrides(&self) -> String {
        HOSTS
            .iter()
            .map(|h| format!("{h}={}/h/{h}", self.base))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A live session (the value of a `SESSDATA` cookie) for `uname`.
    pub fn add_session(&self, sessdata: &str, uname: &str) {
        let mut s = self.lock();
        s.sessions.insert(sessdata.to_owned());
        s.uname = uname.to_owned();
    }

    /// The session ends (Bilibili logged it out or it expired).
    pub fn expire_session(&self, sessdata: &str) {
        self.lock().sessions.remove(sessdata);
    }

    pub fn set_risk(&self, on: bool) {
        self.lock().risk = on;
    }

    pub fn refuse_qr(&self, on: bool) {
        self.lock().refuse_qr = on;
    }

    /// `view?bvid=` answers `body`; with `needs_login`, only to a live session.
    pub fn video(&self, bvid: &str, needs_login: bool, body: impl Into<String>) {
        self.lock()
            .videos
            .insert(bvid.to_owned(), (needs_login, body.into()));
    }

    /// The next `view` answer to `old` rotates it to `new` (`Set-Cookie`).
    pub fn rotate_session(&self, old: &str, new: &str) {
        self.lock().rotate = Some((old.to_owned(), new.to_owned()));
    }

    /// Answer requests whose target starts with `prefix` with `body` (JSON),
    /// e.g. the play URL a video fetch asks for next.
    pub fn route(&self, prefix: &str, body: impl Into<String>) {
        self.lock().routes.push((prefix.to_owned(), body.into()));
    }

    /// The QR keys handed out, oldest first.
    pub fn qr_keys(&self) -> Vec<String> {
        let s = self.lock();
        let mut keys: Vec<(Instant, String)> =
            s.qr.iter().map(|(k, (t, _))| (*t, k.clone())).collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect()
    }

    /// The app scanned the code (not confirmed yet).
    pub fn scan(&self, key: &str) {
        if let Some(q) = self.lock().qr.get_mut(key) {
            q.1 = Qr::Scanned;
        }
    }

    /// The user confirmed the login in the app.
    pub fn confirm(&self, key: &str) {
        if let Some(q) = self.lock().qr.get_mut(key) {
            q.1 = Qr::Confirmed;
        }
    }

    /// Requests so far: (path and query without `/h/`, `Cookie` header).
    pub fn hits(&self) -> Vec<(String, String)> {
        self.lock().hits.clone()
    }

    fn answer(&self, uri: &Uri, headers: &HeaderMap) -> Response {
        let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or_default();
        let target = pq.strip_prefix("/h/").unwrap_or(pq).to_owned();
        let cookie = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let session = sessdata(headers);
        let mut s = self.lock();
        s.hits.push((target.clone(), cookie));
        let live = session.as_ref().is_some_and(|v| s.sessions.contains(v));
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let param = |name: &str| {
            query.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k == name).then(|| v.to_owned())
            })
        };
        let not_logged_in =
            json!({"code": -101, "message": "账号未登录", "ttl": 1, "data": {"isLogin": false}});
        match path {
            "api.bilibili.com/x/web-interface/nav" if s.risk => json_reply(
                json!({"code": -352, "message": "风控校验失败", "ttl": 1, "data": {"v_voucher": "voucher_fake"}}),
            ),
            "api.bilibili.com/x/web-interface/nav" if live => json_reply(json!({
                "code": 0, "message": "0", "ttl": 1,
                "data": {"isLogin": true, "mid": 7, "uname": s.uname, "vipStatus": 0}
            })),
            "api.bilibili.com/x/web-interface/nav" => json_reply(not_logged_in),
            "api.bilibili.com/x/web-interface/view" => {
                let Some((needs, body)) = param("bvid").and_then(|b| s.videos.get(&b).cloned())
                else {
                    return json_reply(json!({"code": -404, "message": "啥都木有", "ttl": 1}));
                };
                if needs && !live {
                    return json_reply(not_logged_in);
                }
                let mut resp = (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response();
                if let Some((old, new)) = s.rotate.clone()
                    && session.as_deref() == Some(old.as_str())
                {
                    s.sessions.remove(&old);
                    s.sessions.insert(new.clone());
                    s.rotate = None;
                    let set = format!(
                        "SESSDATA={new}; Path=/; Domain=bilibili.com; Expires=Wed, 02 Jun 2027 10:00:00 GMT; HttpOnly; Secure"
                    );
                    if let Ok(v) = HeaderValue::from_str(&set) {
                        resp.headers_mut().append(header::SET_COOKIE, v);
                    }
                    resp.headers_mut().append(
                        header::SET_COOKIE,
                        HeaderValue::from_static("buvid_fp=tracker; Path=/; Domain=bilibili.com"),
                    );
                }
                resp
            }
            "passport.bilibili.com/x/passport-login/web/qrcode/generate" if s.refuse_qr => {
                json_reply(json!({"code": -352, "message": "风控校验失败", "ttl": 1}))
            }
            "passport.bilibili.com/x/passport-login/web/qrcode/generate" => {
                s.counter += 1;
                let key = format!("{:032x}", 0x5eed_0000_u64 + s.counter);
                s.qr.insert(key.clone(), (Instant::now(), Qr::Waiting));
                json_reply(json!({
                    "code": 0, "message": "0", "ttl": 1,
                    "data": {
                        "url": format!("https://account.bilibili.com/h5/account-h5/auth/scan-web?navhide=1&callback=close&qrcode_key={key}&from="),
                        "qrcode_key": key
                    }
                }))
            }
            "passport.bilibili.com/x/passport-login/web/qrcode/poll" => {
                let key = param("qrcode_key").unwrap_or_default();
                let state = s.qr.get(&key).copied();
                let data = |code: i64, message: &str| {
                    json!({"code": 0, "message": "0", "ttl": 1, "data": {
                        "url": "", "refresh_token": "", "timestamp": 0, "code": code, "message": message
                    }})
                };
                match state {
                    Some((born, _)) if born.elapsed() >= self.qr_lifetime => {
                        json_reply(data(86038, "二维码已失效"))
                    }
                    None => json_reply(data(86038, "二维码已失效")),
                    Some((_, Qr::Waiting)) => json_reply(data(86101, "未扫码")),
                    Some((_, Qr::Scanned)) => json_reply(data(86090, "二维码已扫码未确认")),
                    Some((_, Qr::Confirmed)) => {
                        s.qr.remove(&key);
                        s.counter += 1;
                        let sess = format!("qr{:08x}%2C1780000000%2Cabcd", s.counter);
                        s.sessions.insert(sess.clone());
                        s.uname = "qr_user".into();
                        let mut resp = json_reply(
                            json!({"code": 0, "message": "0", "ttl": 1, "data": {
                                "url": format!("https://passport.biligame.com/x/passport-login/web/crossDomain?DedeUserID=7&SESSDATA={sess}&bili_jct=jct"),
                                "refresh_token": "rt", "timestamp": 1780000000000_i64, "code": 0, "message": ""
                            }}),
                        );
                        for c in [
                            format!("SESSDATA={sess}; Path=/; Domain=bilibili.com; Expires=Wed, 02 Jun 2027 10:00:00 GMT; HttpOnly; Secure"),
                            "bili_jct=0123456789abcdef; Path=/; Domain=bilibili.com; Expires=Wed, 02 Jun 2027 10:00:00 GMT".into(),
                            "DedeUserID=7; Path=/; Domain=bilibili.com; Expires=Wed, 02 Jun 2027 10:00:00 GMT".into(),
                            "DedeUserID__ckMd5=ffff; Path=/; Domain=bilibili.com".into(),
                            "sid=fake; Path=/; Domain=bilibili.com".into(),
                        ] {
                            if let Ok(v) = HeaderValue::from_str(&c) {
                                resp.headers_mut().append(header::SET_COOKIE, v);
                            }
                        }
                        resp
                    }
                }
            }
            _ => match s
                .routes
                .iter()
                .find(|(p, _)| target.starts_with(p.as_str()))
            {
                Some((_, body)) => (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    body.clone(),
                )
                    .into_response(),
                None => (
                    StatusCode::from_u16(599).unwrap_or(StatusCode::BAD_GATEWAY),
                    "no route",
                )
                    .into_response(),
            },
        }
    }
}
