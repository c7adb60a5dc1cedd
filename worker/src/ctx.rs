//! What every job can reach, built once per process.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use vaultstream_adapters::fetch::FetchConfig;
use vaultstream_adapters::logins::Logins;
use vaultstream_adapters::media::MediaFetcher;
use vaultstream_core::Settings;
use vaultstream_core::blob::BlobStore;
use vaultstream_core::db::logins::Vault;
use vaultstream_core::parsed::{FetchError, ParsedItem};
use vaultstream_core::platform::Identity;
use vaultstream_core::queue::JobQueue;
use vaultstream_telegram::Publisher;
use vaultstream_webhooks::Webhooks;

use crate::limits::UpstreamLimits;
use crate::media::image::ImageOptions;

/// Turns an identity into a parsed item: the platform adapters.
#[async_trait::async_trait]
pub trait ItemFetcher: Send + Sync + 'static {
    async fn fetch(
        &self,
        identity: &Identity,
        source_url: Option<&str>,
    ) -> Result<ParsedItem, FetchError>;
}

#[async_trait::async_trait]
impl ItemFetcher for vaultstream_adapters::fetch::Fetcher {
    async fn fetch(
        &self,
        identity: &Identity,
        source_url: Option<&str>,
    ) -> Result<ParsedItem, FetchError> {
        let mut req = vaultstream_adapters::fetch::FetchRequest::new(identity.clone());
        req.source_url = source_url.map(str::to_owned);
        vaultstream_adapters::fetch::Fetcher::fetch(self, &req).await
    }
}

/// What every job can reach.
pub struct WorkerCtx {
    pub db: DatabaseConnection,
    pub queue: Arc<dyn JobQueue>,
    pub fetcher: Arc<dyn ItemFetcher>,
    pub media: MediaCtx,
    /// The Telegram publisher, when a bot token is set.
    pub publisher: Option<Arc<Publisher>>,
    /// The webhook sender (webhooks need no token: always there).
    pub webhooks: Arc<Webhooks>,
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub lease: Duration,
    /// Per-platform / per-host concurrency in this process.
    pub limits: UpstreamLimits,
    /// How refreshes are scheduled and judged.
    pub refresh: vaultstream_core::db::refresh::RefreshRules,
    /// Scheduled refreshes are queued only while at most this many items
    /// wait for a parse.
    pub refresh_parse_backlog_max: u64,
    /// Platform logins (the vault's cookies the fetcher sends, checks).
    pub logins: Logins,
}

impl WorkerCtx {
    /// The context `vaultstream worker` runs with: the platform adapters,
    /// the media step on `blobs`, the retry policy from the settings, and a
    /// publisher of its own when a bot token is set. A process that also
    /// runs the bot builds one publisher and calls [`WorkerCtx::new`].
    pub fn from_settings(
        settings: &Settings,
        db: DatabaseConnection,
        queue: Arc<dyn JobQueue>,
        blobs: Arc<dyn BlobStore>,
    ) -> Self {
        let publisher = Publisher::from_settings(settings, db.clone(), blobs.clone()).map(Arc::new);
        Self::new(settings, db, queue, blobs, publisher)
    }

    /// The same with the process's one publisher (one pacer per process:
    /// the bot's `/get` and the publish jobs share Telegram's limits).
    pub fn new(
        settings: &Settings,
        db: DatabaseConnection,
        queue: Arc<dyn JobQueue>,
        blobs: Arc<dyn BlobStore>,
        publisher: Option<Arc<Publisher>>,
    ) -> Self {
        let webhooks = Arc::new(Webhooks::from_settings(settings, db.clone()));
        // The fetcher and the login checks share one view of the vault.
        let cfg = FetchConfig::from_settings(settings)
            .with_vault(Vault::from_settings(settings, db.clone()));
        let logins = Logins::new(cfg.clone(), db.clone());
        Self {
            db,
            queue,
            fetcher: Arc::new(vaultstream_adapters::fetch::Fetcher::new(cfg)),
            logins,
            media: MediaCtx::new(settings, blobs),
            webhooks,
            publisher,
            max_attempts: settings.max_attempts,
            backoff_base_ms: settings.backoff_base_ms,
            lease: Duration::from_millis(settings.lease_ms),
            limits: UpstreamLimits::new(settings.upstream_concurrency),
            refresh: vaultstream_core::db::refresh::RefreshRules {
                policy: settings.refresh.policy.clone(),
                confirm_after: Duration::from_millis(settings.refresh.confirm_after_ms),
                archive_media: settings.archive_media,
            },
            refresh_parse_backlog_max: settings.refresh.parse_backlog_max,
        }
    }
}

/// What the media step needs, built once per process.
pub struct MediaCtx {
    pub store: Arc<dyn BlobStore>,
    pub fetcher: MediaFetcher,
    pub image: ImageOptions,
    pub max_image_bytes: u64,
    pub max_video_bytes: u64,
    /// Videos are staged here while they download (same disk as local blobs).
    pub staging: PathBuf,
    /// `VAULTSTREAM_ARCHIVE_MEDIA`: when false, media rows are recorded as
    /// `skipped` and no media job runs.
    pub archive: bool,
}

impl MediaCtx {
    pub fn new(settings: &Settings, store: Arc<dyn BlobStore>) -> Self {
        Self {
            store,
            fetcher: MediaFetcher::from_settings(settings),
            image: ImageOptions::from_settings(&settings.media),
            max_image_bytes: settings.media.max_image_bytes,
            max_video_bytes: settings.media.max_video_bytes,
            staging: settings.data_dir.join("tmp").join("media"),
            archive: settings.archive_media,
        }
    }

    /// The transcoding variant: the same source with other settings is a
    /// different blob.
    pub fn variant(&self) -> String {
        format!("webp-q{}-m{}", self.image.quality, self.image.method)
    }
}
