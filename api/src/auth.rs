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
//! The buckets live in memory, per API process: N API processes behind a
//! load balancer allow up to N times the configured rate, and a restart
//! forgets them. The map is bounded ([`MAX_BUCKETS`]): buckets that have
//! refilled completely are dropped first (they are the same as a new one),
//! then the longest idle. The peer address is used as is: behind a reverse
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
    limiter: Option<Arc<RateLimiter>>,
}

impl Guard {
    pub fn new(state: &AppState) -> Self {
        let s = &state.settings;
        Self {
            db: state.db.clone(),
            required: s.auth_required(),
            limiter: s.rate_limited().then(|| {
                Arc::new(RateLimiter::new(
                    s.rate_limit_burst,
                    s.rate_limit_per_sec,
                    MAX_BUCKETS,
                ))
            }),
        }
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
        && let Err(wait) = limiter.check(bucket, Instant::now())
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
