//! Push targets: Telegram chats with platform/tag filters, as operators
//! create them (REST, the bot's `/get`), and which of them take an item.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    SqlErr, TryInsertResult,
};

use crate::content::normalise_tags;
use crate::db::entities::{content, push_target};
use crate::platform::Platform;
use crate::{ErrorCode, UserError};

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
    /// Send a notice when the original of an item the target received is
    /// deleted upstream.
    pub notify_deleted: bool,
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
    pub notify_deleted: Option<bool>,
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

/// Each platform once, first mention first.
fn distinct(platforms: Vec<Platform>) -> Vec<Platform> {
    let mut out = Vec::with_capacity(platforms.len());
    for p in platforms {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
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
    let platforms = distinct(new.platforms);
    let now = Utc::now();
    let row = push_target::ActiveModel {
        id: NotSet,
        name: Set(name),
        chat_id: Set(chat_id.clone()),
        platforms: Set(platforms_json(&platforms)),
        tags: Set(serde_json::json!(tags)),
        enabled: Set(new.enabled),
        notify_deleted: Set(new.notify_deleted),
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
        row.platforms = Set(platforms_json(&distinct(p)));
    }
    if let Some(t) = tags {
        row.tags = Set(serde_json::json!(t));
    }
    if let Some(e) = patch.enabled {
        row.enabled = Set(e);
    }
    if let Some(n) = patch.notify_deleted {
        row.notify_deleted = Set(n);
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
