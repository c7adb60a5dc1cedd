//! Authentication by API key, authorisation by role, and rate limiting.
//!
//! One middleware ([`guard`]) in front of every route:
//!
//! 1. The route's [`Access`] is decided from the path alone: `GET
//!    /api/v1/health`, the OpenAPI document and the docs UI are open;
//!    `/api/v1/shares`, `/api/v1/contents`, `/api/v1/contents/{id}`,
//!    `/api/v1/contents/{id}/tags`, `/api/v1/search` and `/blobs/…` need a
//!    submitter key; everything else (under `/api/v1` and at the root, e.g.
//!    `/metrics`) needs an operator key. An operator key
//!    may do everything a submitter key may.
//! 2. When [`Settings::auth_required`] (`VAULTSTREAM_AUTH=required`, or
//!    `auto` and bound beyond loopback), the request must carry
//!    `Authorization: Bearer <key>`: a missing, malformed, unknown or revoked
//!    key is 401 `unauthenticated` (with `WWW-Authenticate: Bearer`); a
//!    submitter key on an operator route is 403 `forbidden`. When auth is off
//!    every route is open, as before keys existed.
//! 3. Rate limit ([`limit`]): a token bucket per key (per client IP, from
//!    the TCP peer address, when the request is anonymous). Over the limit
//!    is 429 `rate_limited` with `Retry-After` in whole seconds (at least
//!    1). Open routes (health, docs) are not limited, so probes never get a
//!    429.
//!
//! The verified key is put in the request's extensions as a [`Caller`].
//!
//! Feeds are read by feed readers, which send no header: the feed routes
//! (`/api/v1/feed/{rss,atom,json}`) are open here and check the token in
//! their URL themselves, and a blob request that carries a feed's token
//! (`/blobs/…?token=vf_…`, the URLs a feed hands out) is let through when
//! that feed shows an item the file belongs to ([`feed_blob`]), instead of
//! needing an API key. Feed requests are rate limited per client IP.
//!
//! Layout: this file (the policy and the middleware), [`key`] (whose
//! bucket a request draws from), [`limit`] (the buckets: this process's
//! own token buckets, or [`shared`] ones in Redis).
//!
//! [`Settings::auth_required`]: vaultstream_core::Settings::auth_required

pub mod key;
pub mod limit;
pub mod shared;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sea_orm::DatabaseConnection;
use vaultstream_core::ErrorCode;
use vaultstream_core::db::feeds;
use vaultstream_core::db::keys::{self, Role};

pub use key::BucketKey;
pub use limit::{Limiter, MAX_BUCKETS, RateLimiter};
pub use shared::SharedBuckets;

use crate::AppState;
use crate::error::ApiError;

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
        || path == "/api/v1/feed/rss"
        || path == "/api/v1/feed/atom"
        || path == "/api/v1/feed/json"
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
            ["shares"] | ["shares", "batch"] | ["contents"] | ["search"] => true,
            ["contents", id] | ["contents", id, "tags"] | ["contents", id, "history"] => {
                !id.is_empty()
            }
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
            limiter: s.rate_limited().then(|| Arc::new(Limiter::new(s))),
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

/// A feed token in the query (`token=vf_…`), if any.
fn feed_token(req: &Request) -> Option<String> {
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .filter(|t| feeds::looks_like_token(t))
}

/// Whether the feed behind `token` opens this blob: the feed is live and
/// shows an item the file belongs to. `Err` is a response to give.
async fn feed_blob(db: &DatabaseConnection, token: &str, path: &str) -> Result<(), Response> {
    let feed = match feeds::verify(db, token).await {
        Ok(Some(f)) => f,
        Ok(None) => return Err(unauthenticated("unknown or revoked feed token")),
        Err(e) => return Err(ApiError::from(e).into_response()),
    };
    let key = path.trim_start_matches('/');
    match feeds::may_read_blob(db, &feed, key).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::new(
            ErrorCode::Forbidden,
            "this feed's token does not open this file",
        )
        .into_response()),
        Err(e) => Err(ApiError::from(e).into_response()),
    }
}

/// The per-IP bucket of a request (`None` without a peer address).
fn client_bucket(req: &Request) -> Option<BucketKey> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| BucketKey::client(c.0.ip()))
}

/// The middleware: see the module documentation.
pub async fn guard(State(g): State<Guard>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let access = access_for(path);
    let feed_route = access == Access::Open && path.starts_with("/api/v1/feed/");
    let blob_token = if path.starts_with("/blobs/") {
        feed_token(&req)
    } else {
        None
    };
    if !feed_route && blob_token.is_none() {
        return match access {
            Access::Open => next.run(req).await,
            Access::Needs(needed) => keyed(g, req, next, needed).await,
        };
    }
    // Feeds and the files they show: the feed's token, not an API key.
    if let Some(token) = blob_token.as_deref()
        && g.required
        && let Err(resp) = feed_blob(&g.db, token, req.uri().path()).await
    {
        return resp;
    }
    if let (Some(limiter), Some(bucket)) = (&g.limiter, client_bucket(&req))
        && let Err(wait) = limiter.check(bucket).await
    {
        return rate_limited(wait);
    }
    next.run(req).await
}

fn rate_limited(wait: std::time::Duration) -> Response {
    let mut err = ApiError::new(
        ErrorCode::RateLimited,
        "too many requests; retry after the Retry-After header",
    );
    err.retry_after_secs = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
    err.into_response()
}

/// A route that needs an API key with at least the role `needed`.
async fn keyed(g: Guard, mut req: Request, next: Next, needed: Role) -> Response {
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
        match client_bucket(&req) {
            Some(b) => b,
            // No peer address (a router driven without a socket): nothing
            // to tell clients apart by.
            None => return next.run(req).await,
        }
    };
    if let Some(limiter) = &g.limiter
        && let Err(wait) = limiter.check(bucket).await
    {
        return rate_limited(wait);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_roles() {
        let sub = Access::Needs(Role::Submitter);
        let op = Access::Needs(Role::Operator);
        assert_eq!(access_for("/api/v1/health"), Access::Open);
        assert_eq!(access_for("/api/v1/feed/rss"), Access::Open);
        assert_eq!(access_for("/api/v1/feed/json"), Access::Open);
        assert_eq!(access_for("/api/v1/feed/xml"), op);
        assert_eq!(access_for("/api/v1/feeds"), op);
        assert_eq!(access_for("/api/v1/feeds/1"), op);
        assert_eq!(access_for("/api/openapi.json"), Access::Open);
        assert_eq!(access_for("/api/v1/shares"), sub);
        assert_eq!(access_for("/api/v1/shares/batch"), sub);
        assert_eq!(access_for("/api/v1/contents"), sub);
        assert_eq!(access_for("/api/v1/contents/42"), sub);
        assert_eq!(access_for("/api/v1/search"), sub);
        assert_eq!(access_for("/api/v1/search/x"), op);
        assert_eq!(access_for("/blobs/sha256/ab/cd/x.webp"), sub);
        assert_eq!(access_for("/api/v1/contents/42/retry"), op);
        assert_eq!(access_for("/api/v1/contents/42/refresh"), op);
        assert_eq!(
            access_for("/api/v1/contents/42/history"),
            Access::Needs(Role::Submitter)
        );
        assert_eq!(access_for("/api/v1/contents/42/tags"), sub);
        assert_eq!(access_for("/api/v1/contents//tags"), op);
        assert_eq!(access_for("/"), op);
        assert_eq!(access_for("/api/v1/contents/"), op);
        assert_eq!(access_for("/api/v1/dead-letters"), op);
        assert_eq!(access_for("/api/v1/push-targets/1"), op);
        assert_eq!(access_for("/api/v1/pushed-records"), op);
        assert_eq!(access_for("/api/v1/health/x"), op);
        assert_eq!(access_for("/metrics"), op);
    }
}
