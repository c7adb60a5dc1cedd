//! Deletion notices: when an item's original is declared deleted upstream,
//! every enabled target that asked for notices (`notify_deleted`) and
//! received the item (its `item` record is `sent`) gets one
//! `deleted_upstream` record — in the transaction that declares the state,
//! so a crash cannot declare it without the notices — and the caller queues
//! a publish job for each id returned after commit (a lost enqueue is found
//! by the reconciler's due scan like any pending record). The unique index
//! on (target, item, event) makes it at most once per target: an item that
//! comes back and is deleted again is not announced twice.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};

use super::records::insert_record;
use crate::db::entities::{push_target, pushed_record};
use crate::status::{PushEvent, RecordStatus};

/// Create the deletion notices of `content_id` (see the module). Returns the
/// ids of the records created.
pub async fn schedule_deletion_notices<C: ConnectionTrait>(
    db: &C,
    content_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<i64>, DbErr> {
    let receivers: Vec<i64> = pushed_record::Entity::find()
        .select_only()
        .column(pushed_record::Column::TargetId)
        .inner_join(push_target::Entity)
        .filter(pushed_record::Column::ContentId.eq(content_id))
        .filter(pushed_record::Column::Event.eq(PushEvent::Item))
        .filter(pushed_record::Column::Status.eq(RecordStatus::Sent))
        .filter(push_target::Column::NotifyDeleted.eq(true))
        .filter(push_target::Column::Enabled.eq(true))
        .into_tuple()
        .all(db)
        .await?;
    let mut created = Vec::new();
    for target_id in receivers {
        if let Some(id) = insert_record(
            db,
            target_id,
            content_id,
            PushEvent::DeletedUpstream,
            Some(now),
            now,
        )
        .await?
        {
            created.push(id);
        }
    }
    Ok(created)
}

/// The message ids an item's own record left in the target's chat (the
/// notice replies to the first), if it was sent there.
pub async fn item_message_ids<C: ConnectionTrait>(
    db: &C,
    target_id: i64,
    content_id: i64,
) -> Result<Vec<i64>, DbErr> {
    let ids: Option<Option<serde_json::Value>> = pushed_record::Entity::find()
        .select_only()
        .column(pushed_record::Column::MessageIds)
        .filter(pushed_record::Column::TargetId.eq(target_id))
        .filter(pushed_record::Column::ContentId.eq(content_id))
        .filter(pushed_record::Column::Event.eq(PushEvent::Item))
        .into_tuple()
        .one(db)
        .await?;
    Ok(ids
        .flatten()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}
