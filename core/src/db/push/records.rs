//! Pushed records: one per target and item, at most once, on the
//! at-most-once bookkeeping of [`crate::db::work`] (no lease).
//!
//! A pulled item is [`schedule`]d once: one `pending` record per matching
//! target, `INSERT ... ON CONFLICT (target_id, content_id, event) DO NOTHING`, so
//! the unique index — never a read-then-write — guarantees that an item
//! reaches a chat at most once.
//!
//! Records move by conditional UPDATEs: [`claim`] takes a `pending` record
//! that is due to `sending`; then [`mark_sent`], [`release_for_retry`]
//! (only for errors where Telegram certainly did not post, like 429) or
//! [`mark_failed`]. A record left `sending` by a crash is never claimed
//! again automatically: the message may have been posted, and a second post
//! is worse than a missing one. An operator decides with [`resend`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect, TryInsertResult,
};

use super::targets::matching_targets;
use crate::db::entities::push_target;
use crate::db::entities::{content, content_tag, media, pushed_record};
use crate::db::work::{self, chrono_dur};
use crate::status::{MediaStatus, PushEvent, RecordStatus, Status, TargetKind};

// At most once: no lease (see `db::work`).
work::queued_table!(pushed_record: RecordStatus, waiting = RecordStatus::Pending, working = RecordStatus::Sending);

/// A new `pending` record for (target, item), inserted unless the pair has
/// one already. Returns its id when this call created it.
pub(super) async fn insert_record<C: ConnectionTrait>(
    db: &C,
    target_id: i64,
    content_id: i64,
    event: PushEvent,
    enqueued_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    let row = pushed_record::ActiveModel {
        id: NotSet,
        target_id: Set(target_id),
        content_id: Set(content_id),
        event: Set(event),
        status: Set(RecordStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(None),
        enqueued_at: Set(enqueued_at),
        message_ids: Set(None),
        error_message: Set(None),
        error_detail: Set(None),
        http_status: Set(None),
        created_at: Set(now),
        claimed_at: Set(None),
        sent_at: Set(None),
        updated_at: Set(now),
    };
    // One statement per record: the insert result says whether this call
    // created it, so its id is returned exactly once.
    let res = pushed_record::Entity::insert(row)
        .on_conflict_do_nothing_on([
            pushed_record::Column::TargetId,
            pushed_record::Column::ContentId,
            pushed_record::Column::Event,
        ])
        .exec(db)
        .await?;
    Ok(match res {
        TryInsertResult::Inserted(r) => Some(r.last_insert_id),
        _ => None,
    })
}

/// For a pulled item: one `pending` record per matching target (existing
/// records are left alone — `ON CONFLICT (target_id, content_id) DO
/// NOTHING`), `enqueued_at` = now because the caller queues a publish job
/// for each id returned, and the item marked `pushes_scheduled_at`, all in
/// one transaction. Returns the ids of the records this call created
/// (pending and due); a second call creates nothing and returns none. An
/// item that is missing or not `pulled` gets nothing.
pub async fn schedule(db: &DatabaseConnection, content_id: i64) -> Result<Vec<i64>, DbErr> {
    schedule_with(db, content_id, None, true).await
}

/// [`schedule`] by a process that can deliver to Telegram (`telegram`) or
/// only to webhooks: a process without a bot token creates no records for
/// chats and leaves the item unscheduled, as before webhooks existed.
pub async fn schedule_for(
    db: &DatabaseConnection,
    content_id: i64,
    telegram: bool,
) -> Result<Vec<i64>, DbErr> {
    schedule_with(db, content_id, None, telegram).await
}

/// Recovery of a lost [`schedule`] (see [`unscheduled`]): the same, but
/// only for targets that existed when the item settled — the time its
/// last media file settled, or its pull time when it has none — so a
/// target created since never receives old items. The records are left
/// unqueued (`enqueued_at` null): [`due_pending`] lists them at once.
pub async fn schedule_lost(db: &DatabaseConnection, content_id: i64) -> Result<Vec<i64>, DbErr> {
    let last_media: Option<Option<DateTime<Utc>>> = media::Entity::find()
        .select_only()
        .column_as(media::Column::UpdatedAt.max(), "settled")
        .filter(media::Column::ContentId.eq(content_id))
        .into_tuple()
        .one(db)
        .await?;
    let settled = match last_media.flatten() {
        Some(t) => Some(t),
        None => content::Entity::find_by_id(content_id)
            .one(db)
            .await?
            .and_then(|c| c.pulled_at.or(Some(c.updated_at))),
    };
    match settled {
        Some(t) => schedule_with(db, content_id, Some(t), true).await,
        None => Ok(Vec::new()),
    }
}

async fn schedule_with(
    db: &DatabaseConnection,
    content_id: i64,
    targets_created_by: Option<DateTime<Utc>>,
    telegram: bool,
) -> Result<Vec<i64>, DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let Some(item) = content::Entity::find_by_id(content_id).one(&txn).await? else {
        return Ok(Vec::new());
    };
    if item.status != Status::Pulled {
        return Ok(Vec::new());
    }
    let tags: Vec<String> = content_tag::Entity::find()
        .select_only()
        .column(content_tag::Column::Tag)
        .filter(content_tag::Column::ContentId.eq(content_id))
        .into_tuple::<String>()
        .all(&txn)
        .await?;
    let targets = matching_targets(&txn, &item, &tags).await?;
    let now = Utc::now();
    // The usual path queues what it creates; recovery leaves that to the
    // reconciler's due scan.
    let enqueued_at = targets_created_by.is_none().then_some(now);
    let mut created = Vec::new();
    for t in targets {
        if targets_created_by.is_some_and(|by| t.created_at > by) {
            continue;
        }
        if !telegram && t.kind == TargetKind::Telegram {
            continue;
        }
        if let Some(id) =
            insert_record(&txn, t.id, content_id, PushEvent::Item, enqueued_at, now).await?
        {
            created.push(id);
        }
    }
    // Scheduled for every kind only by a process that can reach Telegram:
    // otherwise the item stays unscheduled for one that can (its
    // reconciler's `unscheduled` scan), and the webhook records made here
    // are left alone then by the unique index.
    if telegram {
        content::Entity::update_many()
            .col_expr(content::Column::PushesScheduledAt, Expr::value(now))
            .filter(content::Column::Id.eq(content_id))
            .filter(content::Column::PushesScheduledAt.is_null())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(created)
}

/// A pending record for one (target, item), whatever the target's filters
/// (an explicit push, e.g. `/get`). `None` when the pair has a record
/// already: an item reaches a chat at most once.
pub async fn schedule_one(
    db: &DatabaseConnection,
    target_id: i64,
    content_id: i64,
) -> Result<Option<i64>, DbErr> {
    let now = Utc::now();
    insert_record(db, target_id, content_id, PushEvent::Item, Some(now), now).await
}

/// Pulled items whose media have all settled at least `grace` ago but
/// whose pushes were never scheduled: the worker that settled the last file
/// died before [`schedule`] committed. Oldest first; the reconciler passes
/// each to [`schedule_lost`].
pub async fn unscheduled(
    db: &DatabaseConnection,
    grace: Duration,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    let cutoff = Utc::now() - chrono_dur(grace);
    let unsettled = Query::select()
        .expr(Expr::val(1))
        .from(media::Entity)
        .and_where(
            Expr::col((media::Entity, media::Column::ContentId))
                .equals((content::Entity, content::Column::Id)),
        )
        .cond_where(
            Condition::any()
                .add(
                    Expr::col((media::Entity, media::Column::Status))
                        .is_in([MediaStatus::Pending, MediaStatus::Processing]),
                )
                .add(Expr::col((media::Entity, media::Column::UpdatedAt)).gt(cutoff)),
        )
        .to_owned();
    content::Entity::find()
        .select_only()
        .column(content::Column::Id)
        .filter(content::Column::PushesScheduledAt.is_null())
        .filter(content::Column::Status.eq(Status::Pulled))
        .filter(content::Column::PulledAt.lte(cutoff))
        .filter(Expr::exists(unsettled).not())
        .order_by_asc(content::Column::Id)
        .limit(limit)
        .into_tuple::<i64>()
        .all(db)
        .await
}

/// Take a record to send: `pending` and due → `sending`, attempts + 1.
/// `None`: not pending (already sending, sent, failed), not due yet, or
/// gone — the message that asked for it is stale. A `sending` record is
/// never taken again here.
pub async fn claim(
    db: &DatabaseConnection,
    record_id: i64,
) -> Result<Option<pushed_record::Model>, DbErr> {
    let now = Utc::now();
    let res = work::start::<pushed_record::Entity>(record_id, now)
        .col_expr(pushed_record::Column::ClaimedAt, Expr::value(now))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    pushed_record::Entity::find_by_id(record_id).one(db).await
}

/// The update, for a record being sent (an operator may have reset it).
fn while_sending(
    update: sea_orm::UpdateMany<pushed_record::Entity>,
    id: i64,
) -> sea_orm::UpdateMany<pushed_record::Entity> {
    update
        .col_expr(pushed_record::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(pushed_record::Column::Id.eq(id))
        .filter(pushed_record::Column::Status.eq(RecordStatus::Sending))
}

/// `sending` → `sent`, with the Telegram message ids. False: the record
/// was not sending (e.g. an operator reset it).
pub async fn mark_sent(
    db: &DatabaseConnection,
    id: i64,
    message_ids: &[i64],
) -> Result<bool, DbErr> {
    let sent = work::finished(pushed_record::Entity::update_many(), RecordStatus::Sent)
        .col_expr(
            pushed_record::Column::MessageIds,
            Expr::value(serde_json::json!(message_ids)),
        )
        .col_expr(pushed_record::Column::SentAt, Expr::value(Utc::now()));
    let res = while_sending(sent, id).exec(db).await?;
    Ok(res.rows_affected == 1)
}

/// `sending` → `pending`, due again at `next_at`: only for failures where
/// Telegram certainly did not post (429, connection refused before the
/// request was sent). The caller queues a delayed job; the reconciler
/// steps in if it is lost.
pub async fn release_for_retry(
    db: &DatabaseConnection,
    id: i64,
    next_at: DateTime<Utc>,
    error: &str,
) -> Result<bool, DbErr> {
    let waiting = work::retry_at(pushed_record::Entity::update_many(), next_at)
        .col_expr(pushed_record::Column::ErrorMessage, Expr::value(error));
    let res = while_sending(waiting, id).exec(db).await?;
    Ok(res.rows_affected == 1)
}

/// `sending` → `failed` for good (an operator may [`resend`]).
pub async fn mark_failed(
    db: &DatabaseConnection,
    id: i64,
    error: &str,
    detail: Option<&str>,
) -> Result<bool, DbErr> {
    let failed = work::finished(pushed_record::Entity::update_many(), RecordStatus::Failed)
        .col_expr(pushed_record::Column::ErrorMessage, Expr::value(error))
        .col_expr(
            pushed_record::Column::ErrorDetail,
            Expr::value(detail.map(str::to_owned)),
        );
    let res = while_sending(failed, id).exec(db).await?;
    Ok(res.rows_affected == 1)
}

/// A send whose outcome is unknown (timeout or dropped connection after
/// the request went out): the record stays `sending` — never sent again
/// automatically — with the error noted for operators, who can [`resend`].
pub async fn note_uncertain(db: &DatabaseConnection, id: i64, error: &str) -> Result<bool, DbErr> {
    let noted = pushed_record::Entity::update_many().col_expr(
        pushed_record::Column::ErrorMessage,
        Expr::value(format!(
            "outcome unknown, not re-sent automatically: {error}"
        )),
    );
    let res = while_sending(noted, id).exec(db).await?;
    Ok(res.rows_affected == 1)
}

/// An operator sends again on purpose: `sent`, `failed` or `sending` →
/// `pending` with a fresh attempt count, due now. `enqueued_at` is cleared
/// so the reconciler ([`due_pending`]) queues it at once unless the caller
/// queues it and calls [`mark_enqueued`]. Error fields and earlier message
/// ids stay as history. False: no such record, or it is already pending.
pub async fn resend(db: &DatabaseConnection, id: i64) -> Result<bool, DbErr> {
    let res = work::reset(pushed_record::Entity::update_many(), None, Utc::now())
        .col_expr(
            pushed_record::Column::ClaimedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(pushed_record::Column::Id.eq(id))
        .filter(pushed_record::Column::Status.is_in([
            RecordStatus::Sent,
            RecordStatus::Failed,
            RecordStatus::Sending,
        ]))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records due but maybe not queued (never queued, or queued longer than
/// `requeue_after` ago and still pending: a lost message). Oldest first.
/// `sending` records are not listed: they are never retried on their own.
pub async fn due_pending(
    db: &DatabaseConnection,
    requeue_after: Duration,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    work::waiting_for_enqueue::<pushed_record::Entity>(db, requeue_after, limit).await
}

/// Of these records, the ones whose target is a webhook: what a process
/// without a bot token can deliver.
pub async fn webhook_records(db: &DatabaseConnection, ids: &[i64]) -> Result<Vec<i64>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let webhooks = Query::select()
        .column(push_target::Column::Id)
        .from(push_target::Entity)
        .and_where(Expr::col(push_target::Column::Kind).eq(TargetKind::Webhook))
        .to_owned();
    pushed_record::Entity::find()
        .select_only()
        .column(pushed_record::Column::Id)
        .filter(pushed_record::Column::Id.is_in(ids.iter().copied()))
        .filter(pushed_record::Column::TargetId.in_subquery(webhooks))
        .order_by_asc(pushed_record::Column::Id)
        .into_tuple::<i64>()
        .all(db)
        .await
}

/// What kind of target a record is for (`None`: no such record).
pub async fn record_target_kind(
    db: &DatabaseConnection,
    record_id: i64,
) -> Result<Option<TargetKind>, DbErr> {
    let Some(record) = get_record(db, record_id).await? else {
        return Ok(None);
    };
    Ok(push_target::Entity::find_by_id(record.target_id)
        .one(db)
        .await?
        .map(|t| t.kind))
}

/// A webhook receiver's answer to the latest attempt of a record.
pub async fn note_http_status(db: &DatabaseConnection, id: i64, status: u16) -> Result<(), DbErr> {
    pushed_record::Entity::update_many()
        .col_expr(
            pushed_record::Column::HttpStatus,
            Expr::value(i32::from(status)),
        )
        .filter(pushed_record::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Note that publish jobs for these records were just queued.
pub async fn mark_enqueued(db: &DatabaseConnection, ids: &[i64]) -> Result<(), DbErr> {
    work::mark_enqueued::<pushed_record::Entity>(db, ids).await
}

pub async fn get_record(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<pushed_record::Model>, DbErr> {
    pushed_record::Entity::find_by_id(id).one(db).await
}

/// Filters of the pushed-record list.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub target_id: Option<i64>,
    pub content_id: Option<i64>,
    pub status: Option<RecordStatus>,
    /// Keyset: records with ids below this.
    pub before_id: Option<i64>,
    pub limit: u64,
}

/// Newest first.
pub async fn list_records(
    db: &DatabaseConnection,
    f: &RecordFilter,
) -> Result<Vec<pushed_record::Model>, DbErr> {
    let mut q = pushed_record::Entity::find();
    if let Some(t) = f.target_id {
        q = q.filter(pushed_record::Column::TargetId.eq(t));
    }
    if let Some(c) = f.content_id {
        q = q.filter(pushed_record::Column::ContentId.eq(c));
    }
    if let Some(s) = f.status {
        q = q.filter(pushed_record::Column::Status.eq(s));
    }
    if let Some(b) = f.before_id {
        q = q.filter(pushed_record::Column::Id.lt(b));
    }
    q.order_by_desc(pushed_record::Column::Id)
        .limit(f.limit)
        .all(db)
        .await
}

/// The oldest pulled item (with `tag`, if given) that has no pushed record
/// for `target_id` yet: what `/get` pushes next.
pub async fn next_unpushed(
    db: &DatabaseConnection,
    target_id: i64,
    tag: Option<&str>,
) -> Result<Option<i64>, DbErr> {
    let pushed = Query::select()
        .column(pushed_record::Column::ContentId)
        .from(pushed_record::Entity)
        .and_where(Expr::col(pushed_record::Column::TargetId).eq(target_id))
        .to_owned();
    let mut q = content::Entity::find()
        .select_only()
        .column(content::Column::Id)
        .filter(content::Column::Status.eq(Status::Pulled))
        .filter(content::Column::Id.not_in_subquery(pushed));
    if let Some(tag) = tag {
        let tagged = Query::select()
            .column(content_tag::Column::ContentId)
            .from(content_tag::Entity)
            .and_where(Expr::col(content_tag::Column::Tag).eq(tag))
            .to_owned();
        q = q.filter(content::Column::Id.in_subquery(tagged));
    }
    q.order_by_asc(content::Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await
}
