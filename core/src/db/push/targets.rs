//! Push targets: Telegram chats and webhooks with platform/tag filters, as
//! operators create them (REST, the bot's `/get`), and which of them take
//! an item. What makes a webhook acceptable is [`super::webhooks`].

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
use crate::status::TargetKind;
use crate::{ErrorCode, UserError};

use super::webhooks::{self, NewWebhook};

const MAX_NAME_CHARS: usize = 128;

/// A push target to create. `platforms` / `tags` empty = everything.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTarget {
    pub name: Option<String>,
    /// `@channelname` or a numeric chat id (`-1001234567890`); ignored for
    /// a webhook (its key is made from the URL).
    pub chat_id: String,
    pub platforms: Vec<Platform>,
    /// As users type them; normalised on create.
    pub tags: Vec<String>,
    pub enabled: bool,
    /// Send a notice when the original of an item the target received is
    /// deleted upstream.
    pub notify_deleted: bool,
    /// A webhook target instead of a Telegram chat.
    pub webhook: Option<NewWebhook>,
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
    /// A webhook's new address (webhook targets only).
    pub url: Option<String>,
    /// A webhook's new signing secret (`standard` webhooks only).
    pub secret: Option<String>,
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

fn already_exists(chat_id: &str) -> UserError {
    let message = if chat_id.starts_with("webhook:") {
        "a webhook push target for this URL already exists".to_owned()
    } else {
        format!("a push target for chat {chat_id} already exists")
    };
    UserError::new(ErrorCode::Conflict, message)
}

fn conflict_or(e: DbErr, chat_id: &str) -> TargetError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => already_exists(chat_id).into(),
        _ => e.into(),
    }
}

/// A target's destination columns: (key, kind, url, format, secret).
type Destination = (
    String,
    TargetKind,
    Option<String>,
    Option<crate::status::WebhookFormat>,
    Option<String>,
);

fn destination_columns(new: &NewTarget) -> Result<Destination, UserError> {
    match &new.webhook {
        None => Ok((
            validate_chat_id(&new.chat_id)?,
            TargetKind::Telegram,
            None,
            None,
            None,
        )),
        Some(w) => {
            let url = webhooks::validate_url(&w.url)?;
            let secret = webhooks::secret_for(w.format, w.secret.as_deref())?;
            Ok((
                webhooks::webhook_key(&url),
                TargetKind::Webhook,
                Some(url.to_string()),
                Some(w.format),
                secret,
            ))
        }
    }
}

/// Create a target. A chat that already has one → `conflict`.
pub async fn create_target(
    db: &DatabaseConnection,
    new: NewTarget,
) -> Result<push_target::Model, TargetError> {
    let (chat_id, kind, url, format, secret) = destination_columns(&new)?;
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
        kind: Set(kind),
        url: Set(url),
        format: Set(format),
        secret: Set(secret),
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
        TryInsertResult::Conflicted | TryInsertResult::Empty => {
            Err(already_exists(&chat_id).into())
        }
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
    let url = patch
        .url
        .as_deref()
        .map(webhooks::validate_url)
        .transpose()?;
    let Some(current) = get_target(db, id).await? else {
        return Ok(None);
    };
    let webhook = current.kind == TargetKind::Webhook;
    if webhook && chat_id.is_some() {
        return Err(invalid("`chat_id`: this target is a webhook; change its `url`").into());
    }
    if !webhook && (url.is_some() || patch.secret.is_some()) {
        return Err(invalid("`url` and `secret` apply to webhook targets only").into());
    }
    let format = current
        .format
        .unwrap_or(crate::status::WebhookFormat::Standard);
    let secret = patch
        .secret
        .as_deref()
        .map(|s| webhooks::secret_for(format, Some(s)))
        .transpose()?;
    let key = url.as_ref().map(webhooks::webhook_key);
    let chat_id = chat_id.or(key);
    let mut row: push_target::ActiveModel = current.into();
    if let Some(u) = url {
        row.url = Set(Some(u.to_string()));
    }
    if let Some(s) = secret {
        row.secret = Set(s);
    }
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

/// Where a target delivers, as operators read it: the chat, or a
/// webhook's format and host (never its path: Discord's and Slack's hold
/// a token).
pub fn destination(t: &push_target::Model) -> String {
    match t.kind {
        TargetKind::Telegram => t.chat_id.clone(),
        TargetKind::Webhook => {
            let host = t
                .url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            let format = t.format.map_or("standard", |f| f.as_str());
            format!("{format} webhook → {host}")
        }
    }
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
