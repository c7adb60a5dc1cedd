//! The parse job: fetch an item through its platform adapter and store it.
//!
//! Flow for one message `ParseJob { content_id }`:
//! 1. claim the item's lease (`db::jobs::claim`); nothing to claim → the
//!    message is stale or a duplicate, acknowledge it;
//! 2. fetch through the adapter while a heartbeat keeps the lease alive;
//! 3. success → `pulled`; retryable failure with attempts left → back to
//!    `unprocessed` with `next_attempt_at`, and a *delayed* message (no
//!    worker slot sleeps); otherwise → `failed` + a dead letter.
//!
//! The apalis handler returns an error only when our own database fails;
//! upstream failures are decided here, from the adapter's error class.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{BoxDynError, Data, TaskId};
use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use tracing::{Instrument, info, warn};
use vaultstream_core::Settings;
use vaultstream_core::blob::BlobStore;
use vaultstream_core::db::entities::content_source;
use vaultstream_core::db::jobs::{self, Claim};
use vaultstream_core::db::media;
use vaultstream_core::parsed::{FetchError, ParsedItem};
use vaultstream_core::platform::{ContentKind, Identity, Platform};
use vaultstream_core::queue::{JobKind, JobQueue, MediaJob, ParseJob};

use crate::backoff;
use crate::media::MediaCtx;

/// Turns an identity into a parsed item: the platform adapters.
#[async_trait::async_trait]
pub trait ItemFetcher: Send + Sync + 'static {
    async fn fetch(
        &self,
        identity: &Identity,
        source_url: Option<&str>,
    ) -> Result<ParsedItem, FetchError>;
}

/// What every job can reach.
pub struct WorkerCtx {
    pub db: DatabaseConnection,
    pub queue: Arc<dyn JobQueue>,
    pub fetcher: Arc<dyn ItemFetcher>,
    pub media: MediaCtx,
    /// The Telegram publisher, when a bot token is set.
    pub publisher: Option<Arc<vaultstream_bot::publish::Publisher>>,
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub lease: Duration,
    /// Per-platform / per-host concurrency in this process.
    pub limits: crate::limits::UpstreamLimits,
}

impl WorkerCtx {
    /// The context `vaultstream worker` runs with: the platform adapters,
    /// the media step on `blobs`, and the retry policy from the settings.
    pub fn from_settings(
        settings: &Settings,
        db: DatabaseConnection,
        queue: Arc<dyn JobQueue>,
        blobs: Arc<dyn BlobStore>,
    ) -> Self {
        let publisher =
            vaultstream_bot::publish::Publisher::from_settings(settings, db.clone(), blobs.clone())
                .map(Arc::new);
        Self {
            db,
            queue,
            fetcher: Arc::new(vaultstream_adapters::fetch::Fetcher::from_settings(
                settings,
            )),
            media: MediaCtx::new(settings, blobs),
            publisher,
            max_attempts: settings.max_attempts,
            backoff_base_ms: settings.backoff_base_ms,
            lease: Duration::from_millis(settings.lease_ms),
            limits: crate::limits::UpstreamLimits::new(settings.upstream_concurrency),
        }
    }
}

/// How one message ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing to do: leased elsewhere, or finished.
    Stale,
    /// Delivered before the item's retry time: queued again for then.
    Rescheduled,
    Pulled,
    Retrying {
        attempt: i32,
        delay: Duration,
    },
    DeadLettered,
    /// Another worker took the lease over while we worked; our result was dropped.
    LeaseLost,
}

/// The apalis entry point.
pub async fn handle_parse(
    job: ParseJob,
    ctx: Data<Arc<WorkerCtx>>,
    task_id: TaskId,
) -> Result<(), BoxDynError> {
    let span = tracing::info_span!(
        "job",
        job.id = %task_id,
        job.kind = "parse",
        content.id = job.content_id,
        request.id = job.request_id.as_deref().unwrap_or(""),
        platform = tracing::field::Empty,
    );
    process(&ctx, &job)
        .instrument(span)
        .await
        .map(|_| ())
        .map_err(|e| {
            warn!(error = ?e, content.id = job.content_id, "parse job hit an internal error; the queue will redeliver it");
            BoxDynError::from(e.to_string())
        })
}

/// One parse attempt. Errors are our own (database) failures only.
pub async fn process(ctx: &WorkerCtx, job: &ParseJob) -> anyhow::Result<Outcome> {
    // One platform (one host for web pages) at a time up to the limit: over
    // it, come back in a second rather than hold this slot.
    let item = vaultstream_core::db::entities::content::Entity::find_by_id(job.content_id)
        .one(&ctx.db)
        .await?;
    let key = item.as_ref().map(|i| {
        if i.platform == "web" {
            crate::limits::host_key("web", &i.canonical_url)
        } else {
            i.platform.clone()
        }
    });
    let _permit = match key {
        Some(k) => match ctx.limits.try_acquire(&k) {
            Some(p) => Some(p),
            None => {
                tracing::debug!(upstream = %k, "upstream busy; trying again shortly");
                ctx.queue
                    .enqueue_parse(job.clone(), Some(Duration::from_secs(1)))
                    .await?;
                return Ok(crate::metrics::unclaimed(
                    JobKind::Parse,
                    Outcome::Rescheduled,
                ));
            }
        },
        None => None,
    };
    let Some(claim) = jobs::claim(&ctx.db, job.content_id, ctx.lease).await? else {
        let outcome = early_or_stale(ctx, job).await?;
        return Ok(crate::metrics::unclaimed(JobKind::Parse, outcome));
    };
    let (platform, claimed_at) = (claim.item.platform.clone(), std::time::Instant::now());
    let res = process_claimed(ctx, job, claim).await;
    crate::metrics::finished(JobKind::Parse, &platform, claimed_at, &res);
    res
}

/// The claimed attempt: fetch, then store, retry or dead-letter.
async fn process_claimed(ctx: &WorkerCtx, job: &ParseJob, claim: Claim) -> anyhow::Result<Outcome> {
    tracing::Span::current().record("platform", claim.item.platform.as_str());
    let identity = identity_of(&claim);
    let source_url = source_url(&ctx.db, claim.item.id).await?;
    info!(attempt = claim.attempt, "parse started");
    let started = std::time::Instant::now();

    let heartbeat = spawn_heartbeat(ctx.db.clone(), &claim, ctx.lease);
    let result = ctx.fetcher.fetch(&identity, source_url.as_deref()).await;
    drop(heartbeat);
    let duration_ms = started.elapsed().as_millis() as u64;

    match result {
        Ok(parsed) => {
            if !jobs::complete(&ctx.db, &claim, &parsed, ctx.media.archive).await? {
                warn!("lease lost before the result was stored; dropping it");
                return Ok(Outcome::LeaseLost);
            }
            let media = if ctx.media.archive {
                media::pending_ids(&ctx.db, claim.item.id).await?
            } else {
                Vec::new()
            };
            info!(duration_ms, media = media.len(), "parse done: pulled");
            // One media job per file. A failed push is found again by the
            // reconciler (the rows are pending and marked enqueued now).
            for media_id in media {
                let job = MediaJob {
                    media_id,
                    request_id: job.request_id.clone(),
                };
                if let Err(e) = ctx.queue.enqueue_media(job, None).await {
                    warn!(error = %e, "could not queue a media job; the reconciler will");
                    break;
                }
            }
            crate::publish::schedule(ctx, claim.item.id).await;
            Ok(Outcome::Pulled)
        }
        Err(err) if err.class.is_retryable() && (claim.attempt as u32) < ctx.max_attempts => {
            crate::metrics::failure(JobKind::Parse, &claim.item.platform, err.class);
            let delay = backoff::delay(ctx.backoff_base_ms, claim.attempt as u32, &err);
            let next_at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
            if !jobs::fail_retry(&ctx.db, &claim, &err, next_at).await? {
                return Ok(Outcome::LeaseLost);
            }
            warn!(
                duration_ms,
                error.class = %err.class,
                error = %err.message,
                attempt = claim.attempt,
                retry_in_ms = delay.as_millis() as u64,
                "parse failed; retrying later"
            );
            // A delayed message: no worker slot waits. If the push fails the
            // reconciler finds the item once it is due.
            if let Err(e) = ctx.queue.enqueue_parse(job.clone(), Some(delay)).await {
                warn!(error = %e, "could not queue the retry; the reconciler will");
            }
            Ok(Outcome::Retrying {
                attempt: claim.attempt,
                delay,
            })
        }
        Err(err) => {
            crate::metrics::failure(JobKind::Parse, &claim.item.platform, err.class);
            let payload = serde_json::to_value(job)?;
            if !jobs::fail_dead(&ctx.db, &claim, &err, "parse", payload).await? {
                return Ok(Outcome::LeaseLost);
            }
            warn!(
                duration_ms,
                error.class = %err.class,
                error = %err.message,
                attempt = claim.attempt,
                "parse failed for good: dead-lettered"
            );
            Ok(Outcome::DeadLettered)
        }
    }
}

/// Nothing to claim. If the item waits for a retry that is not due yet
/// (a message delivered early), schedule the message again for the rest of
/// the wait rather than drop it; otherwise it is a stale or duplicate
/// message.
async fn early_or_stale(ctx: &WorkerCtx, job: &ParseJob) -> anyhow::Result<Outcome> {
    use sea_orm::EntityTrait;
    let item = vaultstream_core::db::entities::content::Entity::find_by_id(job.content_id)
        .one(&ctx.db)
        .await?;
    let now = Utc::now();
    if let Some(next) = item
        .filter(|i| i.status == "unprocessed")
        .and_then(|i| i.next_attempt_at)
        .filter(|n| *n > now)
    {
        let wait = (next - now).to_std().unwrap_or_default();
        ctx.queue.enqueue_parse(job.clone(), Some(wait)).await?;
        tracing::debug!(
            wait_ms = wait.as_millis() as u64,
            "message arrived early; rescheduled"
        );
        return Ok(Outcome::Rescheduled);
    }
    tracing::debug!("nothing to claim: stale or duplicate message");
    Ok(Outcome::Stale)
}

fn identity_of(claim: &Claim) -> Identity {
    let item = &claim.item;
    Identity {
        platform: item.platform.parse().unwrap_or(Platform::Web),
        platform_id: item.platform_id.clone(),
        canonical_url: item.canonical_url.clone(),
        kind: item.kind.parse().unwrap_or(ContentKind::Page),
    }
}

/// The link the first submitter pasted (after short-link resolution): some
/// platforms need its parameters (Xiaohongshu's xsec_token).
async fn source_url(db: &DatabaseConnection, content_id: i64) -> anyhow::Result<Option<String>> {
    let first = content_source::Entity::find()
        .filter(content_source::Column::ContentId.eq(content_id))
        .order_by_asc(content_source::Column::Id)
        .one(db)
        .await?;
    Ok(first.map(|s| s.resolved_url.unwrap_or(s.submitted_url)))
}

/// A lease heartbeat task, stopped when this is dropped: also when the job
/// is cancelled mid-way (its apalis worker stopped), so a lease nobody
/// works on runs out and the reconciler hands the row to another attempt.
/// (A bare `JoinHandle` would detach the task and renew the lease forever.)
pub(crate) struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    pub(crate) fn spawn(task: impl Future<Output = ()> + Send + 'static) -> Self {
        Self(tokio::spawn(task))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn spawn_heartbeat(db: DatabaseConnection, claim: &Claim, lease: Duration) -> Heartbeat {
    let id = claim.item.id;
    let token = claim.token.clone();
    let every = lease / 3;
    Heartbeat::spawn(
        async move {
            loop {
                tokio::time::sleep(every).await;
                match jobs::heartbeat(&db, id, &token, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        warn!("lease lost while working");
                        return;
                    }
                    Err(e) => warn!(error = %e, "lease heartbeat failed"),
                }
            }
        }
        .in_current_span(),
    )
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
