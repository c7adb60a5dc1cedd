//! From an [`Identity`] to a normalised [`ParsedItem`]: one adapter per
//! platform behind one [`Fetcher`].
//!
//! Layout:
//! - `client`: the one HTTP client every adapter shares —
//!   upstream overrides, hand-followed redirects, the SSRF guard, body cap and
//!   the status → [`ErrorClass`] mapping.
//! - `value`, `html`: small helpers to read upstream JSON and HTML leniently.
//! - `live`: live photos (a still and its motion clip) as media and
//!   `fields.live_photos`, the same for every platform.
//! - one module per platform (`bilibili`, `twitter`, `weibo`, `xiaohongshu`,
//!   `zhihu`, `douyin`, [`youtube`], `web`), each an `Adapter`; `bilibili`
//!   (video, dynamic, article, season), `twitter`, `weibo` and `web` are
//!   folders with their parts.
//!
//! Adapters never panic on upstream data: a body that does not have the shape
//! we expect is a `Permanent` error whose detail says what was missing.

mod bilibili;
pub(crate) mod client;
mod douyin;
mod html;
mod live;
mod twitter;
mod value;
mod web;
mod weibo;
mod xiaohongshu;
pub mod youtube;
mod zhihu;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use vaultstream_core::parsed::{ErrorClass, FetchError, ParsedItem};
use vaultstream_core::settings::Secret;
use vaultstream_core::{Identity, Platform};

use crate::http::UpstreamOverrides;
use crate::http::resolve::Resolver;
use crate::ytdlp::YtDlp;

use client::HttpClient;
pub use twitter::syndication_token;

/// What the worker asks for: one piece of content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRequest {
    pub identity: Identity,
    /// The URL the user submitted (Xiaohongshu needs its `xsec_token`).
    pub source_url: Option<String>,
}

impl FetchRequest {
    pub fn new(identity: Identity) -> Self {
        Self {
            identity,
            source_url: None,
        }
    }
}

/// Everything the adapters need from the settings, as one value tests can
/// build by hand.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    pub overrides: UpstreamOverrides,
    /// Replaces our default browser User-Agent where a platform does not
    /// need a specific one (Weibo and Douyin need a phone, the Twitter
    /// syndication endpoint answers Googlebot).
    pub user_agent: Option<String>,
    /// A `Cookie` header value per platform. Sent only to the host the
    /// adapter asked for, never logged.
    pub cookies: BTreeMap<Platform, Secret<String>>,
    /// Let generic pages point at loopback/private addresses (development).
    pub allow_private_targets: bool,
    /// The yt-dlp program (a name on PATH or a path).
    pub ytdlp: String,
    pub connect_timeout: Duration,
    /// Whole request, headers and body, per hop.
    pub request_timeout: Duration,
    /// Whole yt-dlp run; the process is killed when it is exceeded.
    pub ytdlp_timeout: Duration,
    /// Largest response body read; more is a `Permanent` "too large".
    pub max_body_bytes: usize,
    pub max_redirects: usize,
    /// How the guard proxy in front of yt-dlp resolves names (the system
    /// resolver; tests add fixed answers).
    pub resolver: Resolver,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            overrides: UpstreamOverrides::default(),
            user_agent: None,
            cookies: BTreeMap::new(),
            allow_private_targets: false,
            ytdlp: "yt-dlp".to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            ytdlp_timeout: Duration::from_secs(120),
            max_body_bytes: 8 * 1024 * 1024,
            max_redirects: 5,
            resolver: Resolver::system(),
        }
    }
}

impl FetchConfig {
    pub fn from_settings(settings: &vaultstream_core::Settings) -> Self {
        Self {
            overrides: UpstreamOverrides::from_pairs(settings.upstream_overrides.clone()),
            user_agent: settings.user_agent.clone(),
            cookies: settings.cookies.clone(),
            allow_private_targets: settings.allow_private_targets,
            ytdlp: settings.ytdlp.clone(),
            ..Self::default()
        }
    }
}

/// What an adapter gets: the shared client and the configuration.
pub(crate) struct Ctx {
    pub http: HttpClient,
    pub ytdlp: YtDlp,
    pub cfg: FetchConfig,
    /// Weibo's visitor cookies, fetched once and shared by every job.
    pub weibo_visitor: weibo::visitor::Visitor,
}

/// One platform.
#[async_trait]
pub(crate) trait Adapter: Send + Sync {
    async fn fetch(&self, ctx: &Ctx, req: &FetchRequest) -> Result<ParsedItem, FetchError>;
}

/// Cheap to clone: the client and settings sit behind one `Arc`.
#[derive(Clone)]
pub struct Fetcher {
    ctx: Arc<Ctx>,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // FetchConfig's Debug redacts cookies (they are `Secret`s).
        f.debug_struct("Fetcher")
            .field("cfg", &self.ctx.cfg)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    pub fn from_settings(settings: &vaultstream_core::Settings) -> Self {
        Self::new(FetchConfig::from_settings(settings))
    }

    pub fn new(cfg: FetchConfig) -> Self {
        Self {
            ctx: Arc::new(Ctx {
                http: HttpClient::new(&cfg),
                ytdlp: YtDlp::from_config(&cfg),
                cfg,
                weibo_visitor: Default::default(),
            }),
        }
    }

    /// Dispatch on `identity.platform` to the platform's adapter.
    pub async fn fetch(&self, req: &FetchRequest) -> Result<ParsedItem, FetchError> {
        let adapter: &dyn Adapter = match req.identity.platform {
            Platform::Bilibili => &bilibili::Bilibili,
            Platform::Twitter => &twitter::Twitter,
            Platform::Weibo => &weibo::Weibo,
            Platform::Xiaohongshu => &xiaohongshu::Xiaohongshu,
            Platform::Zhihu => &zhihu::Zhihu,
            Platform::Douyin => &douyin::Douyin,
            Platform::Youtube => &youtube::Youtube,
            Platform::Web => &web::Web,
        };
        let started = std::time::Instant::now();
        let outcome = adapter.fetch(&self.ctx, req).await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let id = &req.identity;
        match &outcome {
            Ok(item) => tracing::debug!(
                platform = %id.platform,
                content.platform_id = %id.platform_id,
                duration_ms,
                media_count = item.media.len(),
                "fetched {} {}", id.platform, id.platform_id
            ),
            Err(e) => tracing::info!(
                platform = %id.platform,
                content.platform_id = %id.platform_id,
                duration_ms,
                error.class = %e.class,
                error.message = %e.message,
                "fetch of {} {} failed", id.platform, id.platform_id
            ),
        }
        outcome
    }
}

/// `Permanent`: the upstream answered, but not with what we can read.
pub(crate) fn malformed(what: &str, detail: impl Into<String>) -> FetchError {
    FetchError::new(
        ErrorClass::Permanent,
        format!("malformed upstream response: {what}"),
    )
    .with_detail(detail)
}

/// A media reference with nothing known but its role and URL.
pub(crate) fn media(
    role: vaultstream_core::parsed::MediaRole,
    url: impl Into<String>,
) -> vaultstream_core::parsed::MediaRef {
    vaultstream_core::parsed::MediaRef {
        role,
        url: url.into(),
        width: None,
        height: None,
        duration_secs: None,
        mime: None,
        headers: BTreeMap::new(),
        part: None,
    }
}

/// A URL we build ourselves from constants and an id we validated; a parse
/// failure is still reported, never unwrapped.
pub(crate) fn build_url(s: &str) -> Result<url::Url, FetchError> {
    url::Url::parse(s)
        .map_err(|e| FetchError::permanent(format!("cannot build the URL `{s}`: {e}")))
}
