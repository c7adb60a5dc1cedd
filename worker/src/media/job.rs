//! The media job: archive one media file of a pulled item ([`super::archive`])
//! and record it (`archived`). Claim, heartbeat, retries and dead letters
//! are the executor's ([`crate::executor`]); a file that fails for good
//! never fails its item, which stays `pulled`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DbErr, EntityTrait};
use tracing::{Span, info};
use vaultstream_core::Settings;
use vaultstream_core::db::blobs::Archived;
use vaultstream_core::db::entities::media;
use vaultstream_core::db::media::{self as dbm, MediaClaim};
use vaultstream_core::db::work::{self, Lease};
use vaultstream_core::error::MediaErrorCode;
use vaultstream_core::queue::MediaJob;

use super::archive::archive;
use crate::ctx::WorkerCtx;
use crate::executor::{self, Failure, LeasedJob};
use crate::job::Job;
use crate::outcome::Outcome;
use vaultstream_queue::{ApalisQueue, Transport};

#[async_trait::async_trait]
impl Job for MediaJob {
    type Table = media::Entity;
    const ROWS: &'static str = "media files";

    fn span(&self, task_id: &str) -> Span {
        tracing::info_span!(
            "job",
            job.id = task_id,
            job.kind = "media",
            media.id = self.media_id,
            content.id = tracing::field::Empty,
            request.id = self.request_id.as_deref().unwrap_or(""),
            platform = tracing::field::Empty,
        )
    }

    fn transport(queue: &ApalisQueue) -> &Transport<Self> {
        &queue.media
    }

    /// A pool of its own: a slow video never holds a parse slot.
    fn concurrency(settings: &Settings) -> usize {
        settings.media.concurrency
    }

    async fn run(&self, ctx: &WorkerCtx) -> anyhow::Result<Outcome> {
        executor::run(self, ctx).await
    }

    async fn due(ctx: &WorkerCtx, requeue_after: Duration, limit: u64) -> anyhow::Result<Vec<i64>> {
        if !ctx.media.archive {
            return Ok(Vec::new());
        }
        Ok(work::due_for_enqueue::<media::Entity>(&ctx.db, requeue_after, limit).await?)
    }
}

/// The code recorded with a failure (every media failure has one).
fn code_of(f: &Failure) -> MediaErrorCode {
    f.code.unwrap_or(MediaErrorCode::DownloadFailed)
}

#[async_trait::async_trait]
impl LeasedJob for MediaJob {
    type Claim = MediaClaim;
    /// The stored file, and whether it was uploaded (false: already there).
    type Done = (Archived, bool);

    /// One media host at a time up to the limit.
    async fn upstream(&self, ctx: &WorkerCtx) -> Result<Option<String>, DbErr> {
        let row = media::Entity::find_by_id(self.media_id)
            .one(&ctx.db)
            .await?;
        Ok(row.map(|m| crate::limits::host_key("media", &m.original_url)))
    }

    async fn claim(&self, ctx: &WorkerCtx) -> Result<Option<MediaClaim>, DbErr> {
        dbm::claim(&ctx.db, self.media_id, ctx.lease).await
    }

    fn lease(claim: &MediaClaim) -> &Lease {
        &claim.lease
    }

    fn content_id(claim: &MediaClaim) -> i64 {
        claim.media.content_id
    }

    fn platform(claim: &MediaClaim) -> &str {
        &claim.platform
    }

    async fn work(&self, ctx: &WorkerCtx, claim: &MediaClaim) -> Result<(Archived, bool), Failure> {
        archive(ctx, claim).await
    }

    async fn complete(
        &self,
        ctx: &WorkerCtx,
        claim: &MediaClaim,
        (archived, uploaded): (Archived, bool),
        duration_ms: u64,
    ) -> anyhow::Result<bool> {
        if !dbm::complete(&ctx.db, claim, &archived).await? {
            return Ok(false);
        }
        info!(
            duration_ms,
            blob = %archived.blob_key,
            bytes = archived.bytes,
            uploaded,
            "media archived"
        );
        Ok(true)
    }

    async fn fail_retry(
        &self,
        ctx: &WorkerCtx,
        claim: &MediaClaim,
        f: &Failure,
        next_at: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        dbm::fail_retry(&ctx.db, claim, &f.err, code_of(f), next_at).await
    }

    async fn fail_dead(
        &self,
        ctx: &WorkerCtx,
        claim: &MediaClaim,
        f: &Failure,
        payload: serde_json::Value,
    ) -> Result<bool, DbErr> {
        dbm::fail_dead(&ctx.db, claim, &f.err, code_of(f), payload).await
    }

    /// The file settled (archived, or failed for good: the item stays
    /// `pulled`): schedule the item's pushes once none is pending.
    async fn after(&self, ctx: &WorkerCtx, claim: &MediaClaim, outcome: &Outcome) {
        if matches!(outcome, Outcome::Done | Outcome::DeadLettered) {
            crate::pushes::schedule(ctx, claim.media.content_id).await;
        }
    }
}
