//! From an [`Identity`] to a normalised [`ParsedItem`]: one adapter per
//! platform behind one [`Fetcher`].
//!
//! Layout:
//! - `value`, `html`: small helpers to read upstream JSON and HTML leniently.
//! - `live`: live photos (a still and its motion clip) as media and
//!   `fields.live_photos`, the same for every platform.
//! - one module per platform (`bilibili`, `twitter`, `weibo`, `xiaohongshu`,
//!   `zhihu`, `douyin`, [`youtube`], `web`), each an `Adapter`; `bilibili`
//!   (video, dynamic, article, season), `twitter`, `weibo` and `web` are
//!   folders with their parts.
//!
//! Every adapter talks to its platform through the one shared HTTP client of
//! [`crate::http`] (overrides, hand-followed redirects, the SSRF guard, body
//! cap, the status → error class mapping) and is configured by
//! [`FetchConfig`].
//!
//! Adapters never panic on upstream data: a body that does not have the shape
//! we expect is a `Permanent` error whose detail says what was missing.

mod bilibili;
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

use async_trait::async_trait;
use vaultstream_core::parsed::{FetchError, ParsedItem};
use vaultstream_core::{Identity, Platform};

use crate::http::client::HttpClient;
use crate::ytdlp::YtDlp;

pub use crate::http::config::FetchConfig;
/// Every adapter reports an unreadable answer this way.
pub(crate) use crate::http::status::malformed;
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
                error = %e.report(),
                "fetch of {} {} failed", id.platform, id.platform_id
            ),
        }
        outcome
    }
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
    url::Url::parse(s).map_err(|e| {
        FetchError::permanent(format!("cannot build the URL `{s}`: {e}")).with_source(e)
    })
}
