//! Authentication by API key, authorisation by role, and rate limiting.
//!
//! One middleware ([`guard`]) in front of every route:
//!
//! 1. The route's [`Access`] is decided from the path alone: `GET
//!    /api/v1/health`, the OpenAPI document and the docs UI are open;
//!    `/api/v1/shares`, `/api/v1/contents`, `/api/v1/contents/{id}` and
//!    `/blobs/…` need a submitter key; everything else (under `/api/v1` and
//!    at the root, e.g. `/metrics`) needs an operator key. An operator key
//!    may do everything a submitter key may.
//! 2. When [`Settings::auth_required`] (`VAULTSTREAM_AUTH=required`, or
//!    `auto` and bound beyond loopback), the request must carry
//!    `Authorization: Bearer <key>`: a missing, malformed, unknown or revoked
//!    key is 401 `unauthenticated` (with `WWW-Authenticate: Bearer`); a
//!    submitter key on an operator route is 403 `forbidden`. When auth is off
//!    every route is open, as before keys existed.
//! 3. Rate limit: a token bucket per key (per client IP, from the TCP peer
//!    address, when the request is anonymous). Over the limit is 429
//!    `rate_limited` with `Retry-After` in whole seconds (at least 1). Open
//!    routes (health, docs) are not limited, so probes never get a 429.
//!
//! With Redis configured (`VAULTSTREAM_REDIS_URL`) the buckets live in
//! Redis ([`SharedBuckets`]: one atomic GCRA script per check, keyed under
//! the queue namespace), so the limit holds for the whole deployment
//! however many API processes share it. If Redis does not answer, the
//! process falls back to its own in-memory bucket for that request (and
//! for a short cool-down), logs the switch once and counts it in
//! `vaultstream_rate_limit_checks_total{store="fallback"}`: the limiter
//! never turns a Redis outage into errors. Without Redis the buckets live
//! in memory, per API process ([`RateLimiter`]): N processes allow N times
//! the rate, and a restart forgets them. The in-memory map is bounded
//! ([`MAX_BUCKETS`]): buckets that have refilled completely are dropped
//! first (they are the same as a new one), then the longest idle. The peer
//! address is used as is: behind a reverse
//! proxy every anonymous client shares the proxy's bucket (we do not trust
//! `X-Forwarded-For`, which clients can forge); use keys there.
//!
//! The verified key is put in the request's extensions as a [`Caller`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseConnection;
use vaultstream_core::ErrorCode;
use vaultstream_core::db::keys::{self, Role};

use crate::AppState;
use crate::error::ApiError;

/// Most buckets kept in memory per process.
pub const MAX_BUCKETS: usize = 100_000;

/// Who a route is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key needed, not rate limited.
    Open,
    /// Needs a key with at least this role.
    Needs(Role),
}

/// Decide a route's access from its path (the method does not matter: a
/// route's methods all belong to the same audience).
pub fn access_for(path: &str) -> Access {
    if path == "/api/v1/health"
        || path == "/api/openapi.json"
        || path == "/docs"
        || path.starts_with("/docs/")
    {
        return Access::Open;
    }
    if path.starts_with("/blobs/") {
        return Access::Needs(Role::Submitter);
    }
    if let Some(rest) = path.strip_prefix("/api/v1/") {
        let segments: Vec<&str> = rest.split('/').collect();
        let submitter = match segments.as_slice() {
            ["shares"] | ["contents"] => true,
            ["contents", id] => !id.is_empty(),
            _ => false,
        };
        if submitter {
            return Access::Needs(Role::Submitter);
        }
    }
    Access::Needs(Role::Operator)
}

/// The verified key behind a request (absent when auth is off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub key_id: i64,
    pub role: Role,
}

/// What the middleware needs; built once per router.
#[derive(Clone)]
pub struct Guard {
    db: DatabaseConnection,
    required: bool,
    limiter: Option<Arc<Limiter>>,
}

impl Guard {
    pub fn new(state: &AppState) -> Self {
        let s = &state.settings;
        Self {
            db: state.db.clone(),
            required: s.auth_required(),
            limiter: s.rate_limited().then(|| {
                let local = RateLimiter::new(s.rate_limit_burst, s.rate_limit_per_sec, MAX_BUCKETS);
                let shared = s.redis_url.as_ref().and_then(|url| {
                    SharedBuckets::new(
                        url.expose(),
                        &s.queue_namespace,
                        s.rate_limit_burst,
                        s.rate_limit_per_sec,
                    )
                    .map_err(|e| tracing::warn!(error = %e, "rate limits: cannot use Redis; buckets stay in this process"))
                    .ok()
                });
                Arc::new(Limiter { local, shared })
            }),
        }
    }
}

/// The buckets a request draws from: shared in Redis when configured and
/// answering, else this process's own.
pub struct Limiter {
    local: RateLimiter,
    shared: Option<SharedBuckets>,
}

impl Limiter {
    /// Take a token for `key`, or say how long until one is available.
    pub async fn check(&self, key: BucketKey) -> Result<(), Duration> {
        if let Some(shared) = &self.shared {
            match shared.check(key).await {
                Some(verdict) => {
                    vaultstream_core::metrics::rate_limit_check("redis");
                    return verdict;
                }
                None => vaultstream_core::metrics::rate_limit_check("fallback"),
            }
        } else {
            vaultstream_core::metrics::rate_limit_check("local");
        }
        self.local.check(key, Instant::now())
    }
}

fn unauthenticated(message: &str) -> Response {
    let mut resp = ApiError::new(ErrorCode::Unauthenticated, message).into_response();
    resp.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

/// The key from `Authorization: Bearer <key>`; `Err` when the header is
/// there but not a bearer token.
fn bearer(req: &Request) -> Result<Option<&str>, ()> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ())?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(())?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(());
    }
    Ok(Some(token.trim()))
}

/// The middleware: see the module documentation.
pub async fn guard(State(g): State<Guard>, mut req: Request, next: Next) -> Response {
    let Access::Needs(needed) = access_for(req.uri().path()) else {
        return next.run(req).await;
    };
    let bucket = if g.required {
        let token = match bearer(&req) {
            Ok(Some(t)) => t,
            Ok(None) => {
                return unauthenticated("this route needs an API key: Authorization: Bearer <key>");
            }
            Err(()) => {
                return unauthenticated("the Authorization header must be `Bearer <key>`");
            }
        };
        let key = match keys::verify(&g.db, token).await {
            Ok(Some(k)) => k,
            Ok(None) => return unauthenticated("unknown or revoked API key"),
            Err(e) => return ApiError::from(e).into_response(),
        };
        let role = key.role();
        if !role.allows(needed) {
            return ApiError::new(
                ErrorCode::Forbidden,
                format!("this route needs a {needed} key; this key is a {role} key"),
            )
            .into_response();
        }
        req.extensions_mut().insert(Caller {
            key_id: key.id,
            role,
        });
        BucketKey::Key(key.id)
    } else {
        let ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        match ip {
            Some(ip) => BucketKey::client(ip),
            // No peer address (a router driven without a socket): nothing
            // to tell clients apart by.
            None => return next.run(req).await,
        }
    };
    if let Some(limiter) = &g.limiter
        && let Err(wait) = limiter.check(bucket).await
    {
        let mut err = ApiError::new(
            ErrorCode::RateLimited,
            "too many requests; retry after the Retry-After header",
        );
        err.retry_after_secs = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        return err.into_response();
    }
    next.run(req).await
}

/// Whose bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BucketKey {
    Key(i64),
    /// An IPv4 address, or an IPv6 address with its last 64 bits cleared
    /// (one host usually owns a whole /64).
    Ip(IpAddr),
}

impl BucketKey {
    pub fn client(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => BucketKey::Ip(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => BucketKey::Ip(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    BucketKey::Ip(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

impl BucketKey {
    /// The bucket's name in Redis (after the namespace prefix).
    fn redis_suffix(&self) -> String {
        match self {
            BucketKey::Key(id) => format!("key:{id}"),
            BucketKey::Ip(ip) => format!("ip:{ip}"),
        }
    }
}

/// GCRA in one atomic script, on Redis's clock (so API processes with
/// skewed clocks agree). The bucket's state is its theoretical arrival time
/// (TAT, microseconds); a request is allowed when the TAT it would leave is
/// at most `burst` intervals ahead of now. Answers 0 (allowed) or the wait
/// in microseconds.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return math.ceil(allow_at - now)
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// How long one Redis check may take before the local bucket decides.
const SHARED_TIMEOUT: Duration = Duration::from_millis(250);
/// After Redis failed, how long the local buckets decide before Redis is
/// asked again (so an outage costs one timeout per cool-down, not one per
/// request).
const SHARED_COOLDOWN: Duration = Duration::from_secs(5);

/// Token buckets kept in Redis, shared by every API process of a
/// deployment (keys `<namespace>:ratelimit:key:<id>` / `…:ip:<addr>`).
pub struct SharedBuckets {
    client: redis::Client,
    conn: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    prefix: String,
    /// Microseconds per token.
    interval_us: u64,
    burst: u32,
    script: redis::Script,
    /// While set and in the future, Redis is not asked.
    down_until: Mutex<Option<Instant>>,
}

impl SharedBuckets {
    pub fn new(url: &str, namespace: &str, burst: u32, per_sec: u32) -> redis::RedisResult<Self> {
        Ok(SharedBuckets {
            client: redis::Client::open(url)?,
            conn: tokio::sync::OnceCell::new(),
            prefix: format!("{namespace}:ratelimit:"),
            interval_us: 1_000_000 / u64::from(per_sec.max(1)),
            burst: burst.max(1),
            script: redis::Script::new(GCRA),
            down_until: Mutex::new(None),
        })
    }

    /// The verdict, or `None` when Redis did not answer in time (the
    /// caller's local bucket decides).
    pub async fn check(&self, key: BucketKey) -> Option<Result<(), Duration>> {
        let now = Instant::now();
        {
            let down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
            if down.is_some_and(|until| now < until) {
                return None;
            }
        }
        let asked = tokio::time::timeout(SHARED_TIMEOUT, self.ask(key)).await;
        let answer = match asked {
            Ok(Ok(wait_us)) => Some(wait_us),
            Ok(Err(e)) => {
                self.went_down(&e.to_string());
                None
            }
            Err(_) => {
                self.went_down("no answer within 250 ms");
                None
            }
        }?;
        self.came_up();
        Some(if answer == 0 {
            Ok(())
        } else {
            Err(Duration::from_micros(answer))
        })
    }

    async fn ask(&self, key: BucketKey) -> redis::RedisResult<u64> {
        let conn = self
            .conn
            .get_or_try_init(|| {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(SHARED_TIMEOUT))
                    .set_response_timeout(Some(SHARED_TIMEOUT))
                    .set_number_of_retries(1);
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await?;
        let mut conn = conn.clone();
        self.script
            .key(format!("{}{}", self.prefix, key.redis_suffix()))
            .arg(self.interval_us)
            .arg(self.burst)
            .invoke_async(&mut conn)
            .await
    }

    fn went_down(&self, why: &str) {
        let mut down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        if down.is_none() {
            tracing::warn!(error = %why, "rate limits: Redis does not answer; each API process counts on its own until it does");
        }
        *down = Some(Instant::now() + SHARED_COOLDOWN);
        vaultstream_core::metrics::rate_limit_shared(false);
    }

    fn came_up(&self) {
        let mut down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        if down.take().is_some() {
            tracing::info!(
                "rate limits: Redis answers again; limits are shared across API processes"
            );
        }
        vaultstream_core::metrics::rate_limit_shared(true);
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets: each holds up to `burst` tokens, refilled at `per_sec`;
/// a request takes one.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_sec: f64,
    max_buckets: usize,
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
}

impl RateLimiter {
    pub fn new(burst: u32, per_sec: u32, max_buckets: usize) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_sec: f64::from(per_sec.max(1)),
            max_buckets: max_buckets.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take a token for `key`, or say how long until one is available.
    pub fn check(&self, key: BucketKey, now: Instant) -> Result<(), Duration> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(&key) && map.len() >= self.max_buckets {
            self.evict(&mut map, now);
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec))
        }
    }

    /// Make room: drop buckets that are full again (indistinguishable from
    /// a new one); if that is not enough, the least recently used quarter.
    fn evict(&self, map: &mut HashMap<BucketKey, Bucket>, now: Instant) {
        let full_after = Duration::from_secs_f64(self.burst / self.per_sec);
        map.retain(|_, b| now.saturating_duration_since(b.last) < full_after);
        if map.len() >= self.max_buckets {
            let mut by_age: Vec<(Instant, BucketKey)> =
                map.iter().map(|(k, b)| (b.last, *k)).collect();
            by_age.sort_unstable_by_key(|(last, _)| *last);
            let drop = (self.max_buckets / 4).max(1);
            for (_, k) in by_age.into_iter().take(drop) {
                map.remove(&k);
            }
        }
    }

    /// Buckets held now (for tests).
    pub fn len(&self) -> usize {
        self.buckets.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_roles() {
        let sub = Access::Needs(Role::Submitter);
        let op = Access::Needs(Role::Operator);
        assert_eq!(access_for("/api/v1/health"), Access::Open);
        assert_eq!(access_for("/api/openapi.json"), Access::Open);
        assert_eq!(access_for("/api/v1/shares"), sub);
        assert_eq!(access_for("/api/v1/contents"), sub);
        assert_eq!(access_for("/api/v1/contents/42"), sub);
        assert_eq!(access_for("/blobs/sha256/ab/cd/x.webp"), sub);
        assert_eq!(access_for("/api/v1/contents/42/retry"), op);
        assert_eq!(access_for("/api/v1/contents/"), op);
        assert_eq!(access_for("/api/v1/dead-letters"), op);
        assert_eq!(access_for("/api/v1/push-targets/1"), op);
        assert_eq!(access_for("/api/v1/pushed-records"), op);
        assert_eq!(access_for("/api/v1/health/x"), op);
        assert_eq!(access_for("/metrics"), op);
    }

    #[test]
    fn bucket_allows_a_burst_then_refills() {
        let rl = RateLimiter::new(5, 1, 100);
        let t0 = Instant::now();
        let k = BucketKey::Key(1);
        for _ in 0..5 {
            assert!(rl.check(k, t0).is_ok());
        }
        let wait = rl.check(k, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Another key has its own bucket.
        assert!(rl.check(BucketKey::Key(2), t0).is_ok());
        // One second later one token is back.
        let t1 = t0 + Duration::from_secs(1);
        assert!(rl.check(k, t1).is_ok());
        assert!(rl.check(k, t1).is_err());
    }

    #[test]
    fn the_map_stays_bounded() {
        let rl = RateLimiter::new(10, 1, 100);
        let t0 = Instant::now();
        for i in 0..1000 {
            let _ = rl.check(BucketKey::Key(i), t0 + Duration::from_millis(i as u64));
            assert!(rl.len() <= 100);
        }
        // Idle buckets that refilled are dropped first.
        let later = t0 + Duration::from_secs(3600);
        let _ = rl.check(BucketKey::Key(-1), later);
        assert!(rl.len() <= 100);
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64() {
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let c: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert_eq!(BucketKey::client(a), BucketKey::client(b));
        assert_ne!(BucketKey::client(a), BucketKey::client(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(
            BucketKey::client(mapped),
            BucketKey::Ip("10.0.0.1".parse().unwrap())
        );
    }
}
