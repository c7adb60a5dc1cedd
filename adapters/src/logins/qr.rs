//! Logging in by QR code, where a platform offers it: Bilibili's web QR
//! login, as documented by the community API docs
//! (SocialSisterYi/bilibili-API-collect, `docs/login/login_action/QR.md`):
//!
//! 1. `GET https://passport.bilibili.com/x/passport-login/web/qrcode/generate`
//!    → `{"code":0,"data":{"url":"https://account.bilibili.com/h5/account-h5/auth/scan-web?...","qrcode_key":"<32 chars>"}}`.
//!    The `url` is what the QR code holds; the app scans it.
//! 2. `GET .../qrcode/poll?qrcode_key=<key>` answers at once with
//!    `data.code`: 86101 not scanned, 86090 scanned but not confirmed,
//!    86038 expired (after 180 s), 0 confirmed — that answer carries the
//!    login as `Set-Cookie` (`SESSDATA`, `bili_jct`, `DedeUserID`, ...).
//!
//! The key lets whoever holds it collect the login: it is never logged.
//! Other platforms have no documented web QR flow we use yet.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::SET_COOKIE;
use serde_json::Value;
use url::Url;
use vaultstream_core::Platform;
use vaultstream_core::parsed::FetchError;
use vaultstream_core::settings::Secret;

use super::jar;
use crate::http::client::{Get, HttpClient};

const GENERATE: &str = "https://passport.bilibili.com/x/passport-login/web/qrcode/generate";
const POLL: &str = "https://passport.bilibili.com/x/passport-login/web/qrcode/poll";
/// How long a code stays usable on Bilibili's side.
pub const QR_LIFETIME: Duration = Duration::from_secs(180);
/// How often a waiting login asks whether it was scanned (Bilibili's own
/// page asks about every second; we ask less often).
pub const POLL_EVERY: Duration = Duration::from_secs(2);

pub fn supported(platform: Platform) -> bool {
    platform == Platform::Bilibili
}

/// A code to show: what it encodes, and the key to poll with.
#[derive(Clone)]
pub struct QrStart {
    pub url: String,
    pub key: Secret<String>,
}

impl std::fmt::Debug for QrStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the key too.
        f.write_str("QrStart { [redacted] }")
    }
}

/// Where a QR login stands.
#[derive(Debug, Clone)]
pub enum QrPoll {
    /// Not scanned yet.
    Waiting,
    /// Scanned; waiting for the user to confirm in the app.
    Scanned,
    /// The code expired (or the user did not confirm in time).
    Expired,
    /// Confirmed: the login's cookies and the session cookie's expiry.
    Done {
        cookie: Secret<String>,
        expires_at: Option<DateTime<Utc>>,
    },
}

impl QrPoll {
    pub fn word(&self) -> &'static str {
        match self {
            QrPoll::Waiting => "waiting",
            QrPoll::Scanned => "scanned",
            QrPoll::Expired => "expired",
            QrPoll::Done { .. } => "done",
        }
    }
}

fn passport(url: Url) -> Get {
    Get::new(url, Platform::Bilibili).header("referer", "https://www.bilibili.com/")
}

/// A request for a code that must not carry the stored login.
fn anonymous(url: Url) -> Get {
    let mut g = passport(url);
    g.platform = None;
    g
}

fn refused(what: &str, v: &Value) -> FetchError {
    FetchError::permanent(format!(
        "Bilibili refused the QR login {what}: code {} {}",
        v.get("code").and_then(Value::as_i64).unwrap_or_default(),
        v.get("message").and_then(Value::as_str).unwrap_or_default()
    ))
}

/// Step 1: a fresh code.
pub(crate) async fn generate(http: &HttpClient) -> Result<QrStart, FetchError> {
    let url = Url::parse(GENERATE).map_err(|e| FetchError::permanent(e.to_string()))?;
    let r = http.get(anonymous(url)).await?;
    r.check_status(vaultstream_core::parsed::ErrorClass::AuthRequired)?;
    let v = r.json("the QR code answer")?;
    if v.get("code").and_then(Value::as_i64) != Some(0) {
        return Err(refused("code", &v));
    }
    let text = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    match (text("/data/url"), text("/data/qrcode_key")) {
        (Some(url), Some(key)) => Ok(QrStart {
            url: url.to_owned(),
            key: Secret::new(key.to_owned()),
        }),
        _ => Err(FetchError::permanent(
            "Bilibili's QR code answer has no url or qrcode_key",
        )),
    }
}

/// Step 2: one poll.
pub(crate) async fn poll(http: &HttpClient, key: &Secret<String>) -> Result<QrPoll, FetchError> {
    let mut url = Url::parse(POLL).map_err(|e| FetchError::permanent(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("qrcode_key", key.expose());
    let mut get = anonymous(url);
    get.secret_query = true;
    let r = http.get(get).await?;
    r.check_status(vaultstream_core::parsed::ErrorClass::AuthRequired)?;
    let v = r.json("the QR poll answer")?;
    if v.get("code").and_then(Value::as_i64) != Some(0) {
        return Err(refused("poll", &v));
    }
    match v.pointer("/data/code").and_then(Value::as_i64) {
        Some(86101) => Ok(QrPoll::Waiting),
        Some(86090) => Ok(QrPoll::Scanned),
        Some(86038) => Ok(QrPoll::Expired),
        Some(0) => {
            let now = Utc::now();
            let set: Vec<jar::SetCookie> = r
                .headers
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|h| h.to_str().ok())
                .filter_map(|h| jar::parse_set_cookie(h, now))
                .collect();
            let (cookie, expires_at) = jar::from_set_cookies(&set, "SESSDATA");
            if !cookie.contains("SESSDATA=") {
                return Err(FetchError::permanent(
                    "Bilibili confirmed the QR login but set no SESSDATA cookie",
                ));
            }
            Ok(QrPoll::Done {
                cookie: Secret::new(cookie),
                expires_at,
            })
        }
        _ => Err(refused("poll", &v)),
    }
}

fn code(url: &str) -> Option<qrcode::QrCode> {
    qrcode::QrCode::new(url.as_bytes()).ok()
}

/// The code as text for a terminal (two rows per character).
pub fn terminal(url: &str) -> String {
    use qrcode::render::unicode::Dense1x2;
    code(url).map_or_else(String::new, |c| {
        c.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build()
    })
}

/// The code as an SVG document (for the operator page).
pub fn svg(url: &str) -> String {
    use qrcode::render::svg;
    code(url).map_or_else(String::new, |c| {
        c.render::<svg::Color<'_>>()
            .min_dimensions(240, 240)
            .build()
    })
}

/// The code as a PNG (for the bot), 8 pixels per module with a 4-module
/// quiet zone.
pub fn png(url: &str) -> Vec<u8> {
    let Some(c) = code(url) else {
        return Vec::new();
    };
    let (w, scale, quiet) = (c.width(), 8u32, 4u32);
    let colors = c.to_colors();
    let side = (w as u32 + 2 * quiet) * scale;
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        let dark = mx >= quiet
            && my >= quiet
            && (mx - quiet) < w as u32
            && (my - quiet) < w as u32
            && colors[((my - quiet) as usize) * w + (mx - quiet) as usize] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    match img.write_to(&mut out, image::ImageFormat::Png) {
        Ok(()) => out.into_inner(),
        Err(_) => Vec::new(),
    }
}
