//! The parse job: fetch an item through its platform adapter and store it
//! (`pulled`), then queue one media job per file and schedule its pushes.
//! Claim, heartbeat, retries and dead letters are the executor's
//! ([`crate::executor`]); the adapter's error class decides between them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use tracing::{Span, info, warn};
use vaultstream_core::Settings;
use vaultstream_core::db::entities::{content, content_source};
use vaultstream_core::db::items::{self, Claim};
use vaultstream_core::db::media;
use vaultstream_core::db::work::{self, Lease};
use vaultstream_core::parsed::ParsedItem;
use vaultstream_core::platform::{ContentKind, Identity, Platform};
use vaultstream_core::queue::{MediaJob, ParseJob, Payload};

use crate::ctx::WorkerCtx;
use crate::executor::{self, Failure, LeasedJob};
use crate::job::Job;
use crate::outcome::Outcome;
use vaultstream_queue::{ApalisQueue, Transport};

#[async_trait::async_trait]
impl Job for ParseJob {
    type Table = content::Entity;
    const ROWS: &'static str = "items";

    fn span(&self, task_id: &str) -> Span {
        tracing::info_span!(
            "job",
            job.id = task_id,
            job.kind = "parse",
            content.id = self.content_id,
            request.id = self.request_id.as_deref().unwrap_or(""),
            platform = tracing::field::Empty,
        )
    }

    fn transport(queue: &ApalisQueue) -> &Transport<Self> {
        &queue.parse
    }

    fn concurrency(settings: &Settings) -> usize {
        settings.worker_concurrency
    }

    async fn run(&self, ctx: &WorkerCtx) -> anyhow::Result<Outcome> {
        executor::run(self, ctx).await
    }

    async fn due(ctx: &WorkerCtx, requeue_after: Duration, limit: u64) -> anyhow::Result<Vec<i64>> {
        Ok(work::due_for_enqueue::<content::Entity>(&ctx.db, requeue_after, limit).await?)
    }
}

/// A claimed item and the link its first submitter pasted.
pub struct Claimed {
    claim: Claim,
    source_url: Option<String>,
}

#[async_trait::async_trait]
impl LeasedJob for ParseJob {
    type Claim = Claimed;
    type Done = ParsedItem;

    /// One platform (one host for web pages) at a time up to the limit.
    async fn upstream(&self, ctx: &WorkerCtx) -> Result<Option<String>, DbErr> {
        let item = content::Entity::find_by_id(self.content_id)
            .one(&ctx.db)
            .await?;
        Ok(item.map(|i| {
            if i.platform == Platform::Web.as_str() {
                crate::limits::host_key("web", &i.canonical_url)
            } else {
                i.platform
            }
        }))
    }

    async fn claim(&self, ctx: &WorkerCtx) -> Result<Option<Claimed>, DbErr> {
        let Some(claim) = items::claim(&ctx.db, self.content_id, ctx.lease).await? else {
            return Ok(None);
        };
        let source_url = source_url(&ctx.db, claim.item.id).await?;
        Ok(Some(Claimed { claim, source_url }))
    }

    fn lease(c: &Claimed) -> &Lease {
        &c.claim.lease
    }

    fn content_id(c: &Claimed) -> i64 {
        c.claim.item.id
    }

    fn platform(c: &Claimed) -> &str {
        &c.claim.item.platform
    }

    async fn work(&self, ctx: &WorkerCtx, c: &Claimed) -> Result<ParsedItem, Failure> {
        let identity = identity_of(&c.claim.item);
        Ok(ctx
            .fetcher
            .fetch(&identity, c.source_url.as_deref())
            .await?)
    }

    /// Store the item, then queue one media job per file (a failed push is
    /// found again by the reconciler: the rows are pending and marked
    /// enqueued).
    async fn complete(
        &self,
        ctx: &WorkerCtx,
        c: &Claimed,
        parsed: ParsedItem,
        duration_ms: u64,
    ) -> anyhow::Result<bool> {
        if !items::complete(&ctx.db, &c.claim, &parsed, ctx.media.archive).await? {
            return Ok(false);
        }
        let media = if ctx.media.archive {
            media::pending_ids(&ctx.db, c.claim.item.id).await?
        } else {
            Vec::new()
        };
        info!(duration_ms, media = media.len(), "parse done: pulled");
        for media_id in media {
            let job = MediaJob {
                media_id,
                request_id: self.request_id.clone(),
            };
            if let Err(e) = job.enqueue(ctx.queue.as_ref(), None).await {
                warn!(error = %e, "could not queue a media job; the reconciler will");
                break;
            }
        }
        Ok(true)
    }

    async fn fail_retry(
        &self,
        ctx: &WorkerCtx,
        c: &Claimed,
        f: &Failure,
        next_at: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        items::fail_retry(&ctx.db, &c.claim, &f.err, next_at).await
    }

    async fn fail_dead(
        &self,
        ctx: &WorkerCtx,
        c: &Claimed,
        f: &Failure,
        payload: serde_json::Value,
    ) -> Result<bool, DbErr> {
        items::fail_dead(&ctx.db, &c.claim, &f.err, payload).await
    }

    /// Pulled: schedule the item's pushes (once no file is pending).
    async fn after(&self, ctx: &WorkerCtx, c: &Claimed, outcome: &Outcome) {
        if *outcome == Outcome::Done {
            crate::pushes::schedule(ctx, c.claim.item.id).await;
        }
    }
}

pub(crate) fn identity_of(item: &content::Model) -> Identity {
    Identity {
        platform: item.platform.parse().unwrap_or(Platform::Web),
        platform_id: item.platform_id.clone(),
        canonical_url: item.canonical_url.clone(),
        kind: item.kind.parse().unwrap_or(ContentKind::Page),
    }
}

/// The link the first submitter pasted (after short-link resolution): some
/// platforms need its parameters (Xiaohongshu's xsec_token).
pub(crate) async fn source_url(
    db: &DatabaseConnection,
    content_id: i64,
) -> Result<Option<String>, DbErr> {
    let first = content_source::Entity::find()
        .filter(content_source::Column::ContentId.eq(content_id))
        .order_by_asc(content_source::Column::Id)
        .one(db)
        .await?;
    Ok(first.map(|s| s.resolved_url.unwrap_or(s.submitted_url)))
}
