//! The body of `POST` / `PATCH /push-targets`, read field by field so that
//! every message names its field. A Telegram chat (`chat_id`), or a
//! webhook (`"kind": "webhook"`, `url`, `format`, `secret`).

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use utoipa::ToSchema;
use vaultstream_core::ErrorCode;
use vaultstream_core::db::push::{self, NewTarget, NewWebhook, TargetPatch};
use vaultstream_core::platform::Platform;
use vaultstream_core::status::{TargetKind, WebhookFormat};

use crate::error::{ApiError, ApiResult};

/// A Telegram chat: `@channelname` or a numeric id (a string or a JSON
/// integer, e.g. `-1001234567890`).
#[derive(ToSchema)]
#[serde(untagged)]
pub enum ChatId {
    Name(String),
    Id(i64),
}

/// A push target. On `POST` a Telegram chat needs only `chat_id`; a
/// webhook needs `"kind": "webhook"` and `url` (`format` defaults to
/// `standard`, whose `secret` is made when left out and shown once in the
/// answer). `platforms` and `tags` default to `[]`, meaning everything;
/// `enabled` to `true`. On `PATCH` only the fields sent change (`kind`
/// and `format` cannot), and `"name": null` clears the name. Unknown
/// fields are refused (`invalid_body`).
// Describes `TargetBody`, which reads the fields one by one so that each
// message names its field.
#[derive(ToSchema)]
pub struct TargetRequest {
    /// `telegram` (default) or `webhook`.
    #[schema(required = false)]
    pub kind: TargetKind,
    /// A Telegram chat (`kind` = `telegram`).
    #[schema(required = false)]
    pub chat_id: ChatId,
    /// The webhook's address (`kind` = `webhook`): http(s), a public host
    /// (the same guard as for archived links).
    #[schema(required = false)]
    pub url: Option<String>,
    /// The receiver: `standard` (signed JSON of the item), `discord` or
    /// `slack` (their incoming webhooks).
    #[schema(required = false)]
    pub format: WebhookFormat,
    /// A `standard` webhook's signing secret: `whsec_` + base64 of 24 to 64
    /// random bytes (Standard Webhooks). Left out: one is made.
    #[schema(required = false, write_only)]
    pub secret: Option<String>,
    #[schema(required = false)]
    pub name: Option<String>,
    /// Empty: every platform.
    #[schema(required = false)]
    pub platforms: Vec<Platform>,
    /// Empty: every tag (and untagged items).
    #[schema(required = false)]
    pub tags: Vec<String>,
    #[schema(required = false)]
    pub enabled: bool,
    /// Send a notice (in reply to the item's message) when the original of
    /// an item this chat received is declared deleted upstream; default
    /// `false`.
    #[schema(required = false)]
    pub notify_deleted: bool,
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Value>>, D::Error> {
    Option::<Value>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetBody {
    #[serde(default, deserialize_with = "nullable")]
    kind: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    chat_id: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    url: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    format: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    secret: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    name: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    platforms: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    tags: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    enabled: Option<Option<Value>>,
    #[serde(default, deserialize_with = "nullable")]
    notify_deleted: Option<Option<Value>>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidBody, message)
}

/// A chat id given as a JSON integer or a string.
fn chat_id_of(v: Option<Value>) -> ApiResult<String> {
    match v {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Number(n)) => n.as_i64().map(|n| n.to_string()).ok_or_else(|| {
            invalid(format!(
                "`chat_id` {n} is not an integer chat id; use @channelname or a whole number"
            ))
        }),
        None => Err(invalid(
            "`chat_id` cannot be null; use @channelname or a numeric chat id",
        )),
        Some(other) => Err(invalid(format!(
            "`chat_id` must be a string (@channelname) or an integer, not {}",
            kind(&other)
        ))),
    }
}

fn strings_of(field: &str, v: Option<Value>) -> ApiResult<Vec<String>> {
    let bad = || {
        invalid(format!(
            "`{field}` must be an array of strings (empty = everything)"
        ))
    };
    match v {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Ok(s),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

fn name_of(v: Option<Value>) -> ApiResult<Option<String>> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(format!(
            "`name` must be a string or null, not {}",
            kind(&other)
        ))),
    }
}

fn bool_of(field: &str, v: Option<Value>) -> ApiResult<bool> {
    match v {
        Some(Value::Bool(b)) => Ok(b),
        _ => Err(invalid(format!("`{field}` must be true or false"))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string field, or `None` when absent; `null` and other types refused.
fn string_of(field: &str, v: Option<Option<Value>>) -> ApiResult<Option<String>> {
    match v {
        None => Ok(None),
        Some(Some(Value::String(s))) => Ok(Some(s)),
        Some(other) => Err(invalid(format!(
            "`{field}` must be a string, not {}",
            other.as_ref().map_or("null", kind)
        ))),
    }
}

/// One of a closed set of words.
fn word_of<T: std::str::FromStr + Copy + std::fmt::Display>(
    field: &str,
    all: &[T],
    v: Option<Option<Value>>,
) -> ApiResult<Option<T>> {
    let Some(s) = string_of(field, v)? else {
        return Ok(None);
    };
    s.parse().map(Some).map_err(|_| {
        let words: Vec<String> = all.iter().map(ToString::to_string).collect();
        invalid(format!(
            "`{field}` `{}` is not one of {}",
            s.escape_debug(),
            words.join(", ")
        ))
    })
}

impl TargetBody {
    /// The webhook's address as sent (to pass the SSRF guard before the
    /// target is written).
    pub fn url(&self) -> Option<&str> {
        match &self.url {
            Some(Some(Value::String(s))) => Some(s),
            _ => None,
        }
    }

    pub fn into_new(self) -> ApiResult<NewTarget> {
        let kind = word_of("kind", TargetKind::ALL, self.kind)?.unwrap_or(TargetKind::Telegram);
        let (chat_id, webhook) = match kind {
            TargetKind::Telegram => {
                if self.url.is_some() || self.format.is_some() || self.secret.is_some() {
                    return Err(invalid(
                        "`url`, `format` and `secret` are for webhooks: add \"kind\": \"webhook\"",
                    ));
                }
                let chat_id = match self.chat_id {
                    None => {
                        return Err(invalid(
                            "`chat_id` is required: @channelname or a numeric chat id",
                        ));
                    }
                    Some(v) => chat_id_of(v)?,
                };
                (push::validate_chat_id(&chat_id)?, None)
            }
            TargetKind::Webhook => {
                if self.chat_id.is_some() {
                    return Err(invalid(
                        "`chat_id` is for Telegram targets; a webhook has a `url`",
                    ));
                }
                let Some(url) = string_of("url", self.url)? else {
                    return Err(invalid("`url` is required for a webhook"));
                };
                let format = word_of("format", WebhookFormat::ALL, self.format)?
                    .unwrap_or(WebhookFormat::Standard);
                let secret = string_of("secret", self.secret)?;
                let webhook = NewWebhook {
                    url,
                    format,
                    secret,
                };
                (String::new(), Some(webhook))
            }
        };
        let name = name_of(self.name.flatten())?;
        let platforms = match self.platforms.flatten() {
            None => Vec::new(),
            v => push::parse_platforms(&strings_of("platforms", v)?)?,
        };
        let tags = match self.tags.flatten() {
            None => Vec::new(),
            v => strings_of("tags", v)?,
        };
        push::normalise_filter_tags(&tags)?;
        let enabled = match self.enabled.flatten() {
            None => true,
            v => bool_of("enabled", v)?,
        };
        let notify_deleted = match self.notify_deleted.flatten() {
            None => false,
            v => bool_of("notify_deleted", v)?,
        };
        Ok(NewTarget {
            name,
            chat_id,
            platforms,
            tags,
            enabled,
            notify_deleted,
            webhook,
        })
    }

    pub fn into_patch(self) -> ApiResult<TargetPatch> {
        if self.kind.is_some() || self.format.is_some() {
            return Err(invalid(
                "`kind` and `format` cannot change; delete the target and create another",
            ));
        }
        let url = string_of("url", self.url)?;
        let secret = string_of("secret", self.secret)?;
        let chat_id = self
            .chat_id
            .map(|v| chat_id_of(v).and_then(|c| Ok(push::validate_chat_id(&c)?)))
            .transpose()?;
        let name = self.name.map(name_of).transpose()?;
        let platforms = self
            .platforms
            .map(|v| strings_of("platforms", v).and_then(|p| Ok(push::parse_platforms(&p)?)))
            .transpose()?;
        let tags = self.tags.map(|v| strings_of("tags", v)).transpose()?;
        if let Some(t) = &tags {
            push::normalise_filter_tags(t)?;
        }
        let enabled = self.enabled.map(|v| bool_of("enabled", v)).transpose()?;
        let notify_deleted = self
            .notify_deleted
            .map(|v| bool_of("notify_deleted", v))
            .transpose()?;
        Ok(TargetPatch {
            name,
            chat_id,
            platforms,
            tags,
            enabled,
            notify_deleted,
            url,
            secret,
        })
    }
}
