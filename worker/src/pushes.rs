//! Scheduling an item's pushes (Telegram chats and webhooks) once it has settled: it is `pulled` and none
//! of its media files is still pending. Called after a parse or a media job
//! ends; [`schedule`] creates one pushed record per matching push target
//! (UNIQUE per target and item, so a second call creates nothing) and
//! queues a `PublishJob` for each.

use tracing::warn;
use vaultstream_core::db::{media, push};
use vaultstream_core::queue::{Payload, PublishJob};

use crate::ctx::WorkerCtx;

/// After an item's parse or one of its media jobs ended: when the item is
/// pulled and no media file is still on its way, create its pushed records
/// and queue them. Failures are logged: an item left unscheduled (this
/// failed, or the process died before it) is found by the reconciler
/// ([`push::unscheduled`]) and scheduled then.
pub async fn schedule(ctx: &WorkerCtx, content_id: i64) {
    let run = async {
        let rows = media::for_content(&ctx.db, content_id).await?;
        if rows.iter().any(|m| m.status.is_open()) {
            return Ok::<_, anyhow::Error>(());
        }
        vaultstream_core::failpoint::hit(vaultstream_core::failpoint::BEFORE_PUSH_SCHEDULE);
        // Without a bot token only webhooks get records.
        let ids = push::schedule_for(&ctx.db, content_id, ctx.publisher.is_some()).await?;
        for record_id in ids {
            let job = PublishJob { record_id };
            if let Err(e) = job.enqueue(ctx.queue.as_ref(), None).await {
                warn!(error = %e, "could not queue a publish job; the reconciler will");
                break;
            }
        }
        Ok(())
    };
    if let Err(e) = run.await {
        warn!(content.id = content_id, error = %e, "could not schedule pushes");
    }
}
