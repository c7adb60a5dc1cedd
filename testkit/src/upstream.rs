//! A scripted Twitter upstream on 127.0.0.1: FxTwitter's v2 API
//! (`/2/thread/{id}`, `/2/status/{id}`), its v1 API (`/status/{id}`) and
//! the syndication endpoint (`/tweet-result?id=`), reached through
//! `VAULTSTREAM_UPSTREAM_OVERRIDES`. The v2 API is the one that works: a
//! successful answer is the recorded v2 response (VERBATIM live capture, see
//! adapters/tests/fixtures/PROVENANCE.md); failures are injected per tweet
//! id, and every v2 request is counted so tests can assert "fetched once".
//! The fallbacks (v1, syndication) never succeed: they answer a scripted
//! 404 or 429 as v2 does and 500 otherwise, so a failure scripted for a
//! tweet is what the adapter reports, and an attempt whose v2 request broke
//! (in a drill, at the fault-injecting proxy) fails.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The recorded FxTwitter v1 answer for tweet 1580661436132757506 (photo).
pub const FX_PHOTO: &str =
    include_str!("../../adapters/tests/fixtures/twitter/fxtwitter_status_1580661436132757506.json");
pub const FX_PHOTO_ID: &str = "1580661436132757506";
/// The recorded FxTwitter v2 answer for tweet 2088006016721940988 (one
/// photo, not part of a thread: `thread: null`, `replying_to: null`).
pub const FX_V2_PHOTO: &str = include_str!(
    "../../adapters/tests/fixtures/twitter/fxtwitter_v2_status_2088006016721940988_photo.json"
);
/// Where [`FX_V2_PHOTO`]'s photo is.
pub const FX_V2_PHOTO_URL: &str = "https://pbs.twimg.com/media/HPn_tiJXQAApeCf.jpg?name=orig";

/// What the upstream does for one tweet id.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    Ok,
    /// Answer 500 to the first `n` FxTwitter v2 requests, then succeed.
    FailTimes(u32),
    /// Always 500 (both endpoints).
    Always500,
    /// 404 NOT_FOUND: the tweet is gone.
    NotFound,
    /// 429 with `Retry-After: secs` on the first request, then succeed.
    RateLimitOnce(u64),
}

#[derive(Default)]
struct Script {
    behaviours: HashMap<String, Behaviour>,
    default: Option<Behaviour>,
    delay: Duration,
    fx_hits: HashMap<String, u32>,
    served_ok: HashMap<String, u32>,
    hit_times: HashMap<String, Vec<Instant>>,
}

#[derive(Clone)]
pub struct Upstream {
    pub base: String,
    script: Arc<Mutex<Script>>,
}

impl Upstream {
    pub async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = Router::new()
            .route("/2/thread/{id}", get(fx))
            .route("/2/status/{id}", get(fx))
            .route("/status/{id}", get(fallback_v1))
            .route("/{user}/status/{id}", get(fx_with_user))
            .route("/tweet-result", get(syndication))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind replay server");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Upstream { base, script }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Script) -> R) -> R {
        let mut guard = self.script.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    pub fn script(&self, id: &str, b: Behaviour) {
        self.with(|s| s.behaviours.insert(id.to_owned(), b));
    }

    /// Behaviour of ids without a script of their own (default `Ok`).
    pub fn set_default(&self, b: Behaviour) {
        self.with(|s| s.default = Some(b));
    }

    /// Every answer waits this long (to make jobs take time).
    pub fn set_delay(&self, d: Duration) {
        self.with(|s| s.delay = d);
    }

    /// FxTwitter v2 requests for a tweet (one per parse attempt).
    pub fn hits(&self, id: &str) -> u32 {
        self.with(|s| s.fx_hits.get(id).copied().unwrap_or(0))
    }

    /// Successful answers for a tweet.
    pub fn served_ok(&self, id: &str) -> u32 {
        self.with(|s| s.served_ok.get(id).copied().unwrap_or(0))
    }

    pub fn hit_times(&self, id: &str) -> Vec<Instant> {
        self.with(|s| s.hit_times.get(id).cloned().unwrap_or_default())
    }

    pub fn total_served_ok(&self) -> u32 {
        self.with(|s| s.served_ok.values().sum())
    }

    /// The value for `VAULTSTREAM_UPSTREAM_OVERRIDES`.
    pub fn overrides(&self) -> String {
        format!(
            "api.fxtwitter.com={b},cdn.syndication.twimg.com={b}",
            b = self.base
        )
    }
}

fn json(status: StatusCode, body: String) -> Response {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    (status, h, body).into_response()
}

async fn fx_with_user(
    state: State<Arc<Mutex<Script>>>,
    Path((_user, id)): Path<(String, String)>,
) -> Response {
    fallback_v1(state, Path(id)).await
}

async fn fx(State(script): State<Arc<Mutex<Script>>>, Path(id): Path<String>) -> Response {
    let (behaviour, hit, delay) = {
        let mut s = script.lock().unwrap_or_else(|p| p.into_inner());
        let hit = {
            let h = s.fx_hits.entry(id.clone()).or_insert(0);
            *h += 1;
            *h
        };
        s.hit_times
            .entry(id.clone())
            .or_default()
            .push(Instant::now());
        let b = s
            .behaviours
            .get(&id)
            .cloned()
            .or_else(|| s.default.clone())
            .unwrap_or(Behaviour::Ok);
        (b, hit, s.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let ok = || {
        let mut s = script.lock().unwrap_or_else(|p| p.into_inner());
        *s.served_ok.entry(id.clone()).or_insert(0) += 1;
        json(StatusCode::OK, FX_V2_PHOTO.to_owned())
    };
    match behaviour {
        Behaviour::Ok => ok(),
        Behaviour::FailTimes(n) if hit > n => ok(),
        Behaviour::RateLimitOnce(_) if hit > 1 => ok(),
        Behaviour::FailTimes(_) | Behaviour::Always500 => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"code":500,"message":"API_FAIL"}"#.to_owned(),
        ),
        Behaviour::NotFound => json(
            StatusCode::NOT_FOUND,
            r#"{"code":404,"message":"NOT_FOUND"}"#.to_owned(),
        ),
        Behaviour::RateLimitOnce(secs) => rate_limited(secs),
    }
}

/// A 429 with `Retry-After: secs`, as FxTwitter and X answer one.
fn rate_limited(secs: u64) -> Response {
    let mut r = json(StatusCode::TOO_MANY_REQUESTS, "{}".to_owned());
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert("retry-after", v);
    }
    r
}

/// FxTwitter's v1 API, asked when v2 fails: it fails the same way.
async fn fallback_v1(State(script): State<Arc<Mutex<Script>>>, Path(id): Path<String>) -> Response {
    fallback(&script, &id).await
}

/// The syndication endpoint fails the same way FxTwitter does.
async fn syndication(
    State(script): State<Arc<Mutex<Script>>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let id = q.get("id").cloned().unwrap_or_default();
    fallback(&script, &id).await
}

/// A fallback's answer for a tweet: a scripted 404 or 429, else 500,
/// after the same scripted delay as v2 (a slow upstream is slow on every
/// endpoint).
async fn fallback(script: &Mutex<Script>, id: &str) -> Response {
    let (behaviour, delay) = {
        let s = script.lock().unwrap_or_else(|p| p.into_inner());
        let b = s
            .behaviours
            .get(id)
            .cloned()
            .or_else(|| s.default.clone())
            .unwrap_or(Behaviour::Ok);
        (b, s.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match behaviour {
        Behaviour::RateLimitOnce(secs) => rate_limited(secs),
        Behaviour::NotFound => json(StatusCode::NOT_FOUND, "{}".to_owned()),
        _ => json(StatusCode::INTERNAL_SERVER_ERROR, "{}".to_owned()),
    }
}
