//! `/refresh <id>` (operators): fetch a pulled item again now, on the
//! refresh queue (below new items). The outcome shows in `/status` and
//! `GET /api/v1/contents/{id}/history`.

use sea_orm::DatabaseConnection;
use vaultstream_core::db::refresh::{RefreshRefusal, request};
use vaultstream_core::queue::{JobQueue, Payload, RefreshJob};

/// The reply (HTML) to `/refresh <arg>`.
pub async fn reply(db: &DatabaseConnection, queue: &dyn JobQueue, arg: &str) -> String {
    let Some(id) = arg
        .trim()
        .trim_start_matches('#')
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
    else {
        return "Send <code>/refresh &lt;id&gt;</code> with an item id.".to_owned();
    };
    match request(db, id).await {
        Ok(Ok(r)) if r.queued => {
            if let Err(e) = RefreshJob::for_row(id).enqueue(queue, None).await {
                tracing::warn!(content.id = id, error = %e, "bot: could not queue the refresh; the reconciler will");
            }
            format!("🔄 #{id} will be fetched again shortly.")
        }
        Ok(Ok(_)) => format!("🔄 #{id} is being refreshed already."),
        Ok(Err(RefreshRefusal::NotFound)) => format!("No item #{id}."),
        Ok(Err(RefreshRefusal::NotPulled(s))) => {
            format!("#{id} is {s}; only archived items can be refreshed.")
        }
        Err(e) => {
            tracing::error!(error = %e, "bot: refresh failed");
            "⚠️ The archive is unavailable right now.".into()
        }
    }
}
