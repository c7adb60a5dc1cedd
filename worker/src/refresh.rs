//! The refresh job: fetch a pulled item again through its adapter and
//! store what changed (`core::db::refresh`: versions, stats series,
//! upstream state), then queue media jobs for new files.
//!
//! Below new items in every way: a pool of its own
//! (`VAULTSTREAM_REFRESH_CONCURRENCY`, default 1) on a queue of its own
//! (`<namespace>:refresh`), the reconciler feeds scheduled refreshes only
//! while the parse backlog is short (`VAULTSTREAM_REFRESH_PARSE_BACKLOG_MAX`),
//! and a refresh leaves one permit of its upstream free for new items.
//! Leases, retries, dead letters: the executor's, as for parse jobs. The
//! adapter's error class decides: permanent → "gone" and auth required →
//! "restricted" are answers (stored, not retried); retryable ones are
//! retried, and a refresh out of attempts marks the item `unreachable`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, EntityTrait};
use tracing::{Span, info, warn};
use vaultstream_core::Settings;
use vaultstream_core::db::entities::{content, refresh as refresh_row};
use vaultstream_core::db::refresh::{self, Refetched, RefreshClaim, RefreshOutcome};
use vaultstream_core::db::work::{self, Lease};
use vaultstream_core::metrics;
use vaultstream_core::parsed::ErrorClass;
use vaultstream_core::platform::Platform;
use vaultstream_core::queue::{MediaJob, Payload, PublishJob, RefreshJob};

use crate::ctx::WorkerCtx;
use crate::executor::{self, Failure, LeasedJob};
use crate::job::Job;
use crate::outcome::Outcome;
use vaultstream_queue::{ApalisQueue, Transport};

#[async_trait::async_trait]
impl Job for RefreshJob {
    type Table = refresh_row::Entity;
    const ROWS: &'static str = "refreshes";

    fn span(&self, task_id: &str) -> Span {
        tracing::info_span!(
            "job",
            job.id = task_id,
            job.kind = "refresh",
            content.id = self.content_id,
            request.id = self.request_id.as_deref().unwrap_or(""),
            platform = tracing::field::Empty,
        )
    }

    fn transport(queue: &ApalisQueue) -> &Transport<Self> {
        &queue.refresh
    }

    fn concurrency(settings: &Settings) -> usize {
        settings.refresh.concurrency
    }

    async fn run(&self, ctx: &WorkerCtx) -> anyhow::Result<Outcome> {
        executor::run(self, ctx).await
    }

    /// New rows go on the policy; due ones are fed only while few new
    /// items wait for their parse, so a refresh backlog never delays a
    /// fresh share.
    async fn due(ctx: &WorkerCtx, requeue_after: Duration, limit: u64) -> anyhow::Result<Vec<i64>> {
        refresh::schedule_new(&ctx.db, &ctx.refresh.policy, 1_000).await?;
        let backlog = refresh::parse_backlog(&ctx.db).await?;
        if backlog > ctx.refresh_parse_backlog_max {
            tracing::debug!(backlog, "new items wait for a parse; refreshes held back");
            return Ok(Vec::new());
        }
        Ok(work::due_for_enqueue::<refresh_row::Entity>(&ctx.db, requeue_after, limit).await?)
    }
}

#[async_trait::async_trait]
impl LeasedJob for RefreshJob {
    type Claim = (RefreshClaim, Option<String>);
    type Done = Refetched;

    const LEAVE_FREE: usize = 1;

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

    async fn claim(&self, ctx: &WorkerCtx) -> Result<Option<Self::Claim>, DbErr> {
        let Some(claim) = refresh::claim(&ctx.db, self.content_id, ctx.lease).await? else {
            return Ok(None);
        };
        let source_url = crate::parse::source_url(&ctx.db, claim.item.id).await?;
        Ok(Some((claim, source_url)))
    }

    fn lease(c: &Self::Claim) -> &Lease {
        &c.0.lease
    }

    fn content_id(c: &Self::Claim) -> i64 {
        c.0.item.id
    }

    fn platform(c: &Self::Claim) -> &str {
        &c.0.item.platform
    }

    async fn work(&self, ctx: &WorkerCtx, c: &Self::Claim) -> Result<Refetched, Failure> {
        let identity = crate::parse::identity_of(&c.0.item);
        match ctx.fetcher.fetch(&identity, c.1.as_deref()).await {
            Ok(parsed) => Ok(Refetched::Item(Box::new(parsed))),
            Err(e) => match e.class {
                ErrorClass::Permanent => Ok(Refetched::Gone(e)),
                ErrorClass::AuthRequired => Ok(Refetched::Restricted(e)),
                ErrorClass::Retryable | ErrorClass::RateLimited => Err(e.into()),
            },
        }
    }

    async fn complete(
        &self,
        ctx: &WorkerCtx,
        c: &Self::Claim,
        found: Refetched,
        duration_ms: u64,
    ) -> anyhow::Result<bool> {
        let Some(report) = refresh::complete(&ctx.db, &c.0, &found, &ctx.refresh).await? else {
            return Ok(false);
        };
        metrics::refresh_outcome(report.outcome.as_str());
        info!(
            duration_ms,
            outcome = report.outcome.as_str(),
            version = report.version,
            kept = ?report.kept,
            new_media = report.new_media.len(),
            state_was = report.state_changed_from.map(|s| s.as_str()),
            notices = report.notices.len(),
            "refresh done"
        );
        for record_id in report.notices {
            let job = PublishJob { record_id };
            if let Err(e) = job.enqueue(ctx.queue.as_ref(), None).await {
                warn!(error = %e, "could not queue a deletion notice; the reconciler will");
                break;
            }
        }
        for media_id in report.new_media {
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
        c: &Self::Claim,
        f: &Failure,
        next_at: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        refresh::fail_retry(&ctx.db, &c.0, &f.err, next_at).await
    }

    async fn fail_dead(
        &self,
        ctx: &WorkerCtx,
        c: &Self::Claim,
        f: &Failure,
        payload: serde_json::Value,
    ) -> Result<bool, DbErr> {
        let stored = refresh::fail_dead(&ctx.db, &c.0, &f.err, payload, &ctx.refresh).await?;
        if stored {
            metrics::refresh_outcome(RefreshOutcome::Unreachable.as_str());
        }
        Ok(stored)
    }
}
