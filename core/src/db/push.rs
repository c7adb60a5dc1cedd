//! Push targets (Telegram chats with platform/tag filters) and pushed
//! records (one per target and item), for the Telegram publisher.
//!
//! A pulled item is [`schedule`]d once: one `pending` record per matching
//! target, `INSERT ... ON CONFLICT (target_id, content_id) DO NOTHING`, so
//! the unique index — never a read-then-write — guarantees that an item
//! reaches a chat at most once.
//!
//! Records move by conditional UPDATEs: [`claim`] takes a `pending` record
//! that is due to `sending`; then [`mark_sent`], [`release_for_retry`]
//! (only for errors where Telegram certainly did not post, like 429) or
//! [`mark_failed`]. A record left `sending` by a crash is never claimed
//! again automatically: the message may have been posted, and a second post
//! is worse than a missing one. An operator decides with [`resend`].
//!
//! Statuses: `pending` → `sending` → `sent` | `failed`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait, TryInsertResult,
};

use super::entities::{content, content_tag, media, push_target, pushed_record};
use super::media as media_status;
use crate::content::{Status, normalise_tags};
use crate::platform::Platform;
use crate::{ErrorCode, UserError};

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";

/// Every record status, in pipeline order.
pub const STATUSES: [&str; 4] = [PENDING, SENDING, SENT, FAILED];

const MAX_NAME_CHARS: usize = 128;

/// A push target to create. `platforms` / `tags` empty = everything.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTarget {
    pub name: Option<String>,
    /// `@channelname` or a numeric chat id (`-1001234567890`).
    pub chat_id: String,
    pub platforms: Vec<Platform>,
    /// As users type them; normalised on create.
    pub tags: Vec<String>,
    pub enabled: bool,
}

/// PATCH semantics: `None` leaves a field alone. `name: Some(None)` clears
/// the name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetPatch {
    pub name: Option<Option<String>>,
    pub chat_id: Option<String>,
    pub platforms: Option<Vec<Platform>>,
    pub tags: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Why a target could not be written: bad input (a code from the
/// contract: `invalid_body`, `conflict`) or the database.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Invalid(#[from] UserError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn invalid(message: impl Into<String>) -> UserError {
    UserError::new(ErrorCode::InvalidBody, message)
}

/// A Telegram chat id as stored: `@` + 5..=32 of `[A-Za-z0-9_]` starting
/// with a letter (lower-cased: Telegram usernames are case-insensitive, so
/// `@Vault` and `@vault` are one target), or an integer (negative for
/// groups and channels), kept as its decimal text.
pub fn validate_chat_id(raw: &str) -> Result<String, UserError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid(
            "`chat_id` is empty; use @channelname or a numeric chat id",
        ));
    }
    if let Some(name) = s.strip_prefix('@') {
        let len = name.chars().count();
        let ok = (5..=32).contains(&len)
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        return if ok {
            Ok(format!("@{}", name.to_ascii_lowercase()))
        } else {
            Err(invalid(format!(
                "`chat_id` `{}` is not a channel username: @ then 5 to 32 letters, digits or _, starting with a letter",
                s.escape_debug()
            )))
        };
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    match s.parse::<i64>() {
        Ok(n) if n != 0 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(n.to_string())
        }
        _ => Err(invalid(format!(
            "`chat_id` `{}` is neither @channelname nor a numeric chat id",
            s.escape_debug()
        ))),
    }
}

/// Platform names as users type them (`x` = twitter); unknown names are
/// refused by name. Duplicates are dropped, order kept.
pub fn parse_platforms(raw: &[String]) -> Result<Vec<Platform>, UserError> {
    let mut out = Vec::with_capacity(raw.len());
    for name in raw {
        let p = name.parse::<Platform>().map_err(|_| {
            let known: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
            invalid(format!(
                "`platforms`: `{}` is not a platform (one of {})",
                name.escape_debug(),
                known.join(", ")
            ))
        })?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Tags of a target's filter, normalised like submission tags.
pub fn normalise_filter_tags(raw: &[String]) -> Result<Vec<String>, UserError> {
    normalise_tags(raw).map_err(|e| invalid(format!("`tags`: {}", e.message)))
}

fn normalise_name(raw: Option<String>) -> Result<Option<String>, UserError> {
    let name = raw.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if let Some(n) = &name {
        if n.chars().count() > MAX_NAME_CHARS {
            return Err(invalid(format!(
                "`name` is longer than {MAX_NAME_CHARS} characters"
            )));
        }
        if n.chars().any(char::is_control) {
            return Err(invalid("`name` contains control characters"));
        }
    }
    Ok(name)
}

fn platforms_json(p: &[Platform]) -> serde_json::Value {
    serde_json::json!(p.iter().map(|p| p.as_str()).collect::<Vec<_>>())
}

fn strings_of(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A target's platform filter (names; empty = all).
pub fn target_platforms(t: &push_target::Model) -> Vec<String> {
    strings_of(&t.platforms)
}

/// A target's tag filter (empty = all).
pub fn target_tags(t: &push_target::Model) -> Vec<String> {
    strings_of(&t.tags)
}

fn conflict_or(e: DbErr, chat_id: &str) -> TargetError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => UserError::new(
            ErrorCode::Conflict,
            format!("a push target for chat {chat_id} already exists"),
        )
        .into(),
        _ => e.into(),
    }
}

/// Create a target. A chat that already has one → `conflict`.
pub async fn create_target(
    db: &DatabaseConnection,
    new: NewTarget,
) -> Result<push_target::Model, TargetError> {
    let chat_id = validate_chat_id(&new.chat_id)?;
    let tags = normalise_filter_tags(&new.tags)?;
    let name = normalise_name(new.name)?;
    let mut platforms = Vec::new();
    for p in new.platforms {
        if !platforms.contains(&p) {
            platforms.push(p);
        }
    }
    let now = Utc::now();
    let row = push_target::ActiveModel {
        id: NotSet,
        name: Set(name),
        chat_id: Set(chat_id.clone()),
        platforms: Set(platforms_json(&platforms)),
        tags: Set(serde_json::json!(tags)),
        enabled: Set(new.enabled),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let inserted = push_target::Entity::insert(row)
        .on_conflict_do_nothing_on([push_target::Column::ChatId])
        .exec(db)
        .await
        .map_err(|e| conflict_or(e, &chat_id))?;
    match inserted {
        TryInsertResult::Inserted(res) => push_target::Entity::find_by_id(res.last_insert_id)
            .one(db)
            .await?
            .ok_or_else(|| DbErr::Custom("push target vanished after insert".into()).into()),
        TryInsertResult::Conflicted | TryInsertResult::Empty => Err(UserError::new(
            ErrorCode::Conflict,
            format!("a push target for chat {chat_id} already exists"),
        )
        .into()),
    }
}

/// Every target, oldest first.
pub async fn list_targets(db: &DatabaseConnection) -> Result<Vec<push_target::Model>, DbErr> {
    push_target::Entity::find()
        .order_by_asc(push_target::Column::Id)
        .all(db)
        .await
}

pub async fn get_target(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<push_target::Model>, DbErr> {
    push_target::Entity::find_by_id(id).one(db).await
}

/// Apply a patch; `None` when there is no such target. Moving to a chat
/// that has a target already → `conflict`.
pub async fn update_target(
    db: &DatabaseConnection,
    id: i64,
    patch: TargetPatch,
) -> Result<Option<push_target::Model>, TargetError> {
    // Validate first: a bad body is a 422 whether or not the id exists.
    let chat_id = patch.chat_id.as_deref().map(validate_chat_id).transpose()?;
    let tags = patch
        .tags
        .as_deref()
        .map(normalise_filter_tags)
        .transpose()?;
    let name = patch.name.map(normalise_name).transpose()?;
    let Some(current) = get_target(db, id).await? else {
        return Ok(None);
    };
    let mut row: push_target::ActiveModel = current.into();
    if let Some(n) = name {
        row.name = Set(n);
    }
    if let Some(c) = &chat_id {
        row.chat_id = Set(c.clone());
    }
    if let Some(p) = patch.platforms {
        let mut platforms = Vec::new();
        for p in p {
            if !platforms.contains(&p) {
                platforms.push(p);
            }
        }
        row.platforms = Set(platforms_json(&platforms));
    }
    if let Some(t) = tags {
        row.tags = Set(serde_json::json!(t));
    }
    if let Some(e) = patch.enabled {
        row.enabled = Set(e);
    }
    row.updated_at = Set(Utc::now());
    let updated = row
        .update(db)
        .await
        .map_err(|e| conflict_or(e, chat_id.as_deref().unwrap_or("?")))?;
    Ok(Some(updated))
}

/// Delete a target and (cascade) its records. False: no such target.
pub async fn delete_target(db: &DatabaseConnection, id: i64) -> Result<bool, DbErr> {
    let res = push_target::Entity::delete_by_id(id).exec(db).await?;
    Ok(res.rows_affected == 1)
}

/// Does a target's filter take an item of this platform with these tags?
/// Enabled targets only; an empty filter takes everything.
pub fn target_matches(t: &push_target::Model, platform: &str, tags: &[String]) -> bool {
    if !t.enabled {
        return false;
    }
    let platforms = target_platforms(t);
    let wanted_tags = target_tags(t);
    let platform_ok = platforms.is_empty() || platforms.iter().any(|p| p == platform);
    let tags_ok = wanted_tags.is_empty() || wanted_tags.iter().any(|w| tags.contains(w));
    platform_ok && tags_ok
}

/// The enabled targets whose filters take this item (its tags live in
/// `content_tags`; pass them in).
pub async fn matching_targets<C: ConnectionTrait>(
    db: &C,
    content: &content::Model,
    tags: &[String],
) -> Result<Vec<push_target::Model>, DbErr> {
    let targets = push_target::Entity::find()
        .filter(push_target::Column::Enabled.eq(true))
        .order_by_asc(push_target::Column::Id)
        .all(db)
        .await?;
    Ok(targets
        .into_iter()
        .filter(|t| target_matches(t, &content.platform, tags))
        .collect())
}

/// For a pulled item: one `pending` record per matching target (existing
/// records are left alone — `ON CONFLICT (target_id, content_id) DO
/// NOTHING`), `enqueued_at` = now because the caller queues a publish job
/// for each id returned, and the item marked `pushes_scheduled_at`, all in
/// one transaction. Returns the ids of the records this call created
/// (pending and due); a second call creates nothing and returns none. An
/// item that is missing or not `pulled` gets nothing.
pub async fn schedule(db: &DatabaseConnection, content_id: i64) -> Result<Vec<i64>, DbErr> {
    schedule_with(db, content_id, None).await
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
        Some(t) => schedule_with(db, content_id, Some(t)).await,
        None => Ok(Vec::new()),
    }
}

async fn schedule_with(
    db: &DatabaseConnection,
    content_id: i64,
    targets_created_by: Option<DateTime<Utc>>,
) -> Result<Vec<i64>, DbErr> {
    let now = Utc::now();
    let txn = db.begin().await?;
    // Write first: on SQLite a transaction that reads and then writes
    // cannot upgrade its snapshot once another writer committed ("database
    // is locked" at once, whatever the busy timeout); one that starts by
    // writing waits for the lock instead. The mark is kept if it was set.
    let marked = content::Entity::update_many()
        .col_expr(
            content::Column::PushesScheduledAt,
            Expr::col(content::Column::PushesScheduledAt).if_null(now),
        )
        .filter(content::Column::Id.eq(content_id))
        .filter(content::Column::Status.eq(Status::Pulled.as_str()))
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        // Missing or not pulled: nothing to schedule.
        txn.rollback().await?;
        return Ok(Vec::new());
    }
    let Some(item) = content::Entity::find_by_id(content_id).one(&txn).await? else {
        txn.rollback().await?;
        return Ok(Vec::new());
    };
    let tags: Vec<String> = content_tag::Entity::find()
        .select_only()
        .column(content_tag::Column::Tag)
        .filter(content_tag::Column::ContentId.eq(content_id))
        .into_tuple::<String>()
        .all(&txn)
        .await?;
    let targets = matching_targets(&txn, &item, &tags).await?;
    let mut created = Vec::new();
    for t in targets {
        if targets_created_by.is_some_and(|by| t.created_at > by) {
            continue;
        }
        let row = pushed_record::ActiveModel {
            id: NotSet,
            target_id: Set(t.id),
            content_id: Set(content_id),
            status: Set(PENDING.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(None),
            // The usual path queues what it creates; recovery leaves that
            // to the reconciler's due scan.
            enqueued_at: Set(targets_created_by.is_none().then_some(now)),
            message_ids: Set(None),
            error_message: Set(None),
            error_detail: Set(None),
            created_at: Set(now),
            claimed_at: Set(None),
            sent_at: Set(None),
            updated_at: Set(now),
        };
        // One statement per target: the insert result says whether this
        // call created the record, so its id is returned exactly once.
        let res = pushed_record::Entity::insert(row)
            .on_conflict_do_nothing_on([
                pushed_record::Column::TargetId,
                pushed_record::Column::ContentId,
            ])
            .exec(&txn)
            .await?;
        if let TryInsertResult::Inserted(r) = res {
            created.push(r.last_insert_id);
        }
    }
    txn.commit().await?;
    Ok(created)
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
                        .is_in([media_status::PENDING, media_status::PROCESSING]),
                )
                .add(Expr::col((media::Entity, media::Column::UpdatedAt)).gt(cutoff)),
        )
        .to_owned();
    content::Entity::find()
        .select_only()
        .column(content::Column::Id)
        .filter(content::Column::PushesScheduledAt.is_null())
        .filter(content::Column::Status.eq(Status::Pulled.as_str()))
        .filter(content::Column::PulledAt.lte(cutoff))
        .filter(Expr::exists(unsettled).not())
        .order_by_asc(content::Column::Id)
        .limit(limit)
        .into_tuple::<i64>()
        .all(db)
        .await
}

fn due_now(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(pushed_record::Column::Status.eq(PENDING))
        .add(
            Condition::any()
                .add(pushed_record::Column::NextAttemptAt.is_null())
                .add(pushed_record::Column::NextAttemptAt.lte(now)),
        )
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
    let res = pushed_record::Entity::update_many()
        .col_expr(pushed_record::Column::Status, Expr::value(SENDING))
        .col_expr(
            pushed_record::Column::Attempts,
            Expr::col(pushed_record::Column::Attempts).add(1),
        )
        .col_expr(pushed_record::Column::ClaimedAt, Expr::value(now))
        .col_expr(pushed_record::Column::UpdatedAt, Expr::value(now))
        .filter(pushed_record::Column::Id.eq(record_id))
        .filter(due_now(now))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    pushed_record::Entity::find_by_id(record_id).one(db).await
}

fn sending(id: i64) -> Condition {
    Condition::all()
        .add(pushed_record::Column::Id.eq(id))
        .add(pushed_record::Column::Status.eq(SENDING))
}

/// `sending` → `sent`, with the Telegram message ids. False: the record
/// was not sending (e.g. an operator reset it).
pub async fn mark_sent(
    db: &DatabaseConnection,
    id: i64,
    message_ids: &[i64],
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let res = pushed_record::Entity::update_many()
        .col_expr(pushed_record::Column::Status, Expr::value(SENT))
        .col_expr(
            pushed_record::Column::MessageIds,
            Expr::value(serde_json::json!(message_ids)),
        )
        .col_expr(
            pushed_record::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(pushed_record::Column::SentAt, Expr::value(now))
        .col_expr(pushed_record::Column::UpdatedAt, Expr::value(now))
        .filter(sending(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// `sending` → `pending`, due again at `next_at`: only for failures where
/// Telegram certainly did not post (429, connection refused before the
/// request was sent). `enqueued_at` = `next_at`: the caller queues a
/// delayed job; the reconciler steps in if it is lost.
pub async fn release_for_retry(
    db: &DatabaseConnection,
    id: i64,
    next_at: DateTime<Utc>,
    error: &str,
) -> Result<bool, DbErr> {
    let res = pushed_record::Entity::update_many()
        .col_expr(pushed_record::Column::Status, Expr::value(PENDING))
        .col_expr(pushed_record::Column::NextAttemptAt, Expr::value(next_at))
        .col_expr(pushed_record::Column::EnqueuedAt, Expr::value(next_at))
        .col_expr(pushed_record::Column::ErrorMessage, Expr::value(error))
        .col_expr(pushed_record::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(sending(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// `sending` → `failed` for good (an operator may [`resend`]).
pub async fn mark_failed(
    db: &DatabaseConnection,
    id: i64,
    error: &str,
    detail: Option<&str>,
) -> Result<bool, DbErr> {
    let res = pushed_record::Entity::update_many()
        .col_expr(pushed_record::Column::Status, Expr::value(FAILED))
        .col_expr(
            pushed_record::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(pushed_record::Column::ErrorMessage, Expr::value(error))
        .col_expr(
            pushed_record::Column::ErrorDetail,
            Expr::value(detail.map(str::to_owned)),
        )
        .col_expr(pushed_record::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(sending(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// An operator sends again on purpose: `sent`, `failed` or `sending` →
/// `pending` with a fresh attempt count, due now. `enqueued_at` is cleared
/// so the reconciler ([`due_pending`]) queues it at once unless the caller
/// queues it and calls [`mark_enqueued`]. Error fields and earlier message
/// ids stay as history. False: no such record, or it is already pending.
pub async fn resend(db: &DatabaseConnection, id: i64) -> Result<bool, DbErr> {
    let res = pushed_record::Entity::update_many()
        .col_expr(pushed_record::Column::Status, Expr::value(PENDING))
        .col_expr(pushed_record::Column::Attempts, Expr::value(0))
        .col_expr(
            pushed_record::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            pushed_record::Column::EnqueuedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            pushed_record::Column::ClaimedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(pushed_record::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(pushed_record::Column::Id.eq(id))
        .filter(pushed_record::Column::Status.is_in([SENT, FAILED, SENDING]))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

fn chrono_dur(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Records due but maybe not queued (never queued, or queued longer than
/// `requeue_after` ago and still pending: a lost message). Oldest first.
/// `sending` records are not listed: they are never retried on their own.
pub async fn due_pending(
    db: &DatabaseConnection,
    requeue_after: Duration,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    let now = Utc::now();
    let stale = now - chrono_dur(requeue_after);
    pushed_record::Entity::find()
        .select_only()
        .column(pushed_record::Column::Id)
        .filter(due_now(now))
        .filter(
            Condition::any()
                .add(pushed_record::Column::EnqueuedAt.is_null())
                .add(pushed_record::Column::EnqueuedAt.lt(stale)),
        )
        .order_by_asc(pushed_record::Column::Id)
        .limit(limit)
        .into_tuple::<i64>()
        .all(db)
        .await
}

pub async fn mark_enqueued(db: &DatabaseConnection, ids: &[i64]) -> Result<(), DbErr> {
    let now = Utc::now();
    for chunk in ids.chunks(500) {
        pushed_record::Entity::update_many()
            .col_expr(pushed_record::Column::EnqueuedAt, Expr::value(now))
            .filter(pushed_record::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
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
    /// One of [`STATUSES`].
    pub status: Option<String>,
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
    if let Some(s) = &f.status {
        q = q.filter(pushed_record::Column::Status.eq(s.as_str()));
    }
    if let Some(b) = f.before_id {
        q = q.filter(pushed_record::Column::Id.lt(b));
    }
    q.order_by_desc(pushed_record::Column::Id)
        .limit(f.limit)
        .all(db)
        .await
}

/// A send whose outcome is unknown (timeout or dropped connection after
/// the request went out): the record stays `sending` — never sent again
/// automatically — with the error noted for operators, who can [`resend`].
pub async fn note_uncertain(db: &DatabaseConnection, id: i64, error: &str) -> Result<bool, DbErr> {
    let res = pushed_record::Entity::update_many()
        .col_expr(
            pushed_record::Column::ErrorMessage,
            Expr::value(format!(
                "outcome unknown, not re-sent automatically: {error}"
            )),
        )
        .col_expr(pushed_record::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(sending(id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The target for a chat id (as typed; normalised like on create).
pub async fn target_by_chat(
    db: &DatabaseConnection,
    chat_id: &str,
) -> Result<Option<push_target::Model>, DbErr> {
    let Ok(chat) = validate_chat_id(chat_id) else {
        return Ok(None);
    };
    push_target::Entity::find()
        .filter(push_target::Column::ChatId.eq(chat))
        .one(db)
        .await
}

/// The oldest pulled item (with `tag`, if given) that has no pushed record
/// for `target_id` yet: what `/get` pushes next.
pub async fn next_unpushed(
    db: &DatabaseConnection,
    target_id: i64,
    tag: Option<&str>,
) -> Result<Option<i64>, DbErr> {
    use sea_orm::sea_query::Query;
    let pushed = Query::select()
        .column(pushed_record::Column::ContentId)
        .from(pushed_record::Entity)
        .and_where(Expr::col(pushed_record::Column::TargetId).eq(target_id))
        .to_owned();
    let mut q = content::Entity::find()
        .select_only()
        .column(content::Column::Id)
        .filter(content::Column::Status.eq(Status::Pulled.as_str()))
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

/// A pending record for one (target, item), whatever the target's filters
/// (an explicit push, e.g. `/get`). `None` when the pair has a record
/// already: an item reaches a chat at most once.
pub async fn schedule_one(
    db: &DatabaseConnection,
    target_id: i64,
    content_id: i64,
) -> Result<Option<i64>, DbErr> {
    let now = Utc::now();
    let row = pushed_record::ActiveModel {
        id: NotSet,
        target_id: Set(target_id),
        content_id: Set(content_id),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(None),
        enqueued_at: Set(Some(now)),
        message_ids: Set(None),
        error_message: Set(None),
        error_detail: Set(None),
        created_at: Set(now),
        claimed_at: Set(None),
        sent_at: Set(None),
        updated_at: Set(now),
    };
    let res = pushed_record::Entity::insert(row)
        .on_conflict_do_nothing_on([
            pushed_record::Column::TargetId,
            pushed_record::Column::ContentId,
        ])
        .exec(db)
        .await?;
    Ok(match res {
        TryInsertResult::Inserted(r) => Some(r.last_insert_id),
        _ => None,
    })
}
