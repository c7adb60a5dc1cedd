//! A thin client over teloxide 0.17 for what VaultStream sends: HTML text,
//! one photo, an album (2..=10 photos) and one video, to a chat id or an
//! `@channel`.
//!
//! Errors are classified by what they mean for delivery (see
//! [`SendError`]): the pusher must know whether a message may already be in
//! the channel (never post twice) or certainly is not (safe to retry).
//!
//! No teloxide `Throttle` adaptor: a 429 comes back as
//! [`SendError::RetryAfter`] and the caller reschedules.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::{
    ChatId, InputFile, InputMedia, InputMediaPhoto, LinkPreviewOptions, Message, MessageId,
    ParseMode, Recipient, ReplyParameters,
};

/// Where a message goes: a numeric chat id or a public `@username`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChatTarget {
    Id(i64),
    /// With the leading `@`.
    Username(String),
}

/// Why a string is not a [`ChatTarget`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid chat target {0:?}: expected a numeric chat id (e.g. -100123) or @username")]
pub struct InvalidChatTarget(pub String);

impl FromStr for ChatTarget {
    type Err = InvalidChatTarget;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Some(name) = t.strip_prefix('@') {
            // Telegram usernames: 4..=32 of [A-Za-z0-9_], starting with a letter
            // (a few legacy ones are shorter, so accept 1..).
            let valid = !name.is_empty()
                && name.len() <= 32
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return if valid {
                Ok(ChatTarget::Username(format!("@{name}")))
            } else {
                Err(InvalidChatTarget(s.to_owned()))
            };
        }
        match t.parse::<i64>() {
            Ok(id) if id != 0 && !t.starts_with('+') => Ok(ChatTarget::Id(id)),
            _ => Err(InvalidChatTarget(s.to_owned())),
        }
    }
}

impl fmt::Display for ChatTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChatTarget::Id(id) => write!(f, "{id}"),
            ChatTarget::Username(name) => f.write_str(name),
        }
    }
}

impl From<&ChatTarget> for Recipient {
    fn from(t: &ChatTarget) -> Self {
        match t {
            ChatTarget::Id(id) => Recipient::Id(ChatId(*id)),
            ChatTarget::Username(name) => Recipient::ChannelUsername(name.clone()),
        }
    }
}

/// A file to upload from memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// File name shown to Telegram (e.g. `photo-1.jpg`).
    pub name: String,
    pub bytes: bytes::Bytes,
}

impl Upload {
    pub fn new(name: impl Into<String>, bytes: impl Into<bytes::Bytes>) -> Self {
        Upload {
            name: name.into(),
            bytes: bytes.into(),
        }
    }

    fn input_file(self) -> InputFile {
        InputFile::memory(self.bytes).file_name(self.name)
    }
}

/// A failed send, by what it means for delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Telegram said 429: NOT sent; try again after this long.
    #[error("telegram rate limit: retry after {0:?}")]
    RetryAfter(Duration),
    /// Telegram refused it (chat not found, bot blocked, bad request): NOT
    /// sent, and sending it again will fail the same way.
    #[error("telegram rejected the message: {0}")]
    Rejected(String),
    /// Telegram was never reached (connection refused, DNS): NOT sent;
    /// retryable.
    #[error("telegram not reachable, nothing sent: {0}")]
    NotSent(String),
    /// The request went out but no usable answer came back (timeout, broken
    /// connection, 5xx, garbage): the message MAY have been sent.
    #[error("telegram outcome unknown (the message may have been sent): {0}")]
    Unknown(String),
}

impl SendError {
    /// Whether the message certainly did not reach the chat.
    pub fn certainly_not_sent(&self) -> bool {
        !matches!(self, SendError::Unknown(_))
    }

    /// Whether trying again later can succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, SendError::Rejected(_))
    }
}

/// Descriptions Telegram uses for its own server-side failures (sent with a
/// 5xx status, which teloxide does not expose).
const SERVER_ERRORS: &[&str] = &[
    "Internal Server Error",
    "Bad Gateway",
    "Service Unavailable",
    "Gateway Timeout",
];

impl From<RequestError> for SendError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::RetryAfter(secs) => SendError::RetryAfter(secs.duration()),
            RequestError::Api(api) => {
                let text = api.to_string();
                if SERVER_ERRORS.iter().any(|p| text.starts_with(p)) {
                    SendError::Unknown(text)
                } else {
                    SendError::Rejected(text)
                }
            }
            RequestError::MigrateToChatId(to) => {
                SendError::Rejected(format!("group migrated to supergroup {to}"))
            }
            RequestError::Network(err) => {
                // `is_connect`: the TCP/TLS connection was never made.
                // `is_builder`: the request was never built, so never sent.
                if err.is_connect() || err.is_builder() {
                    SendError::NotSent(err.to_string())
                } else {
                    SendError::Unknown(err.to_string())
                }
            }
            RequestError::InvalidJson { source, raw } => {
                let mut raw = raw.to_string();
                raw.truncate(200);
                SendError::Unknown(format!("unparseable answer ({source}): {raw}"))
            }
            RequestError::Io(err) => SendError::Unknown(format!("i/o error: {err}")),
        }
    }
}

/// The Telegram client VaultStream sends with.
///
/// Two HTTP clients, because a long poll and a send need opposite time
/// limits: `getUpdates` is held open by Telegram for the poll timeout, so
/// its client must wait longer than that ([`Telegram::poller`]); a send
/// should give up sooner ([`Timeouts::send`]). teloxide's default client
/// (17 s) suits neither a 25 s poll nor a large upload.
#[derive(Clone)]
pub struct Telegram {
    bot: Bot,
    token: String,
    api_url: Option<url::Url>,
    timeouts: Timeouts,
}

/// Time limits of the two clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `getUpdates`' `timeout` parameter: how long Telegram holds a poll.
    pub poll: Duration,
    /// The polling client's limit; longer than `poll`.
    pub poll_client: Duration,
    /// The sending client's limit.
    pub send: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            poll: Duration::from_secs(25),
            poll_client: Duration::from_secs(35),
            send: Duration::from_secs(30),
        }
    }
}

impl Timeouts {
    pub fn from_settings(t: &vaultstream_core::settings::TelegramSettings) -> Self {
        Timeouts {
            poll: Duration::from_secs(u64::from(t.poll_timeout_secs)),
            poll_client: t.poll_client_timeout(),
            send: Duration::from_secs(u64::from(t.send_timeout_secs)),
        }
    }
}

impl fmt::Debug for Telegram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the token.
        f.debug_struct("Telegram")
            .field("api_url", &self.bot.api_url().as_str())
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

fn ids(messages: &[Message]) -> Vec<i64> {
    messages.iter().map(|m| i64::from(m.id.0)).collect()
}

/// A teloxide bot whose HTTP client gives up after `timeout`.
fn bot_with_timeout(token: &str, api_url: Option<&url::Url>, timeout: Duration) -> Bot {
    // teloxide's own builder (connect 5 s, TCP_NODELAY), with our limit.
    let client = teloxide::net::default_reqwest_settings()
        .timeout(timeout)
        .build()
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot build the Telegram HTTP client; using teloxide's default");
            teloxide::net::client_from_env()
        });
    let mut bot = Bot::with_client(token, client);
    if let Some(url) = api_url {
        bot = bot.set_api_url(url.clone());
    }
    bot
}

impl Telegram {
    /// A client for `token`, talking to `api_url` (default: the official
    /// Bot API), with the default [`Timeouts`].
    pub fn new(token: &str, api_url: Option<&url::Url>) -> Self {
        Self::with_timeouts(token, api_url, Timeouts::default())
    }

    pub fn with_timeouts(token: &str, api_url: Option<&url::Url>, timeouts: Timeouts) -> Self {
        Telegram {
            bot: bot_with_timeout(token, api_url, timeouts.send),
            token: token.to_owned(),
            api_url: api_url.cloned(),
            timeouts,
        }
    }

    /// `None` when no bot token is configured.
    pub fn from_settings(s: &vaultstream_core::Settings) -> Option<Self> {
        let token = s.telegram.bot_token.as_ref()?;
        Some(Self::with_timeouts(
            token.expose(),
            s.telegram.api_url.as_ref(),
            Timeouts::from_settings(&s.telegram),
        ))
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// A bot for long polling: its client waits [`Timeouts::poll_client`],
    /// longer than the poll itself.
    pub fn poller(&self) -> Bot {
        bot_with_timeout(
            &self.token,
            self.api_url.as_ref(),
            self.timeouts.poll_client,
        )
    }

    /// The underlying teloxide bot for sends (its client has the send
    /// time limit; poll with [`Telegram::poller`]).
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    pub async fn send_text(
        &self,
        chat: &ChatTarget,
        html: &str,
        disable_preview: bool,
    ) -> Result<Vec<i64>, SendError> {
        let mut req = self
            .bot
            .send_message(Recipient::from(chat), html)
            .parse_mode(ParseMode::Html);
        if disable_preview {
            req = req.link_preview_options(LinkPreviewOptions {
                is_disabled: true,
                url: None,
                prefer_small_media: false,
                prefer_large_media: false,
                show_above_text: false,
            });
        }
        let m = req.await?;
        Ok(ids(std::slice::from_ref(&m)))
    }

    /// A text message in reply to `reply_to` (a message of ours in that
    /// chat), sent even when that message is gone.
    pub async fn send_reply(
        &self,
        chat: &ChatTarget,
        html: &str,
        reply_to: Option<i64>,
    ) -> Result<Vec<i64>, SendError> {
        let mut req = self
            .bot
            .send_message(Recipient::from(chat), html)
            .parse_mode(ParseMode::Html);
        if let Some(id) = reply_to.and_then(|id| i32::try_from(id).ok()) {
            req = req.reply_parameters(
                ReplyParameters::new(MessageId(id)).allow_sending_without_reply(),
            );
        }
        let m = req.await?;
        Ok(ids(std::slice::from_ref(&m)))
    }

    pub async fn send_photo(
        &self,
        chat: &ChatTarget,
        file: Upload,
        caption_html: Option<&str>,
    ) -> Result<Vec<i64>, SendError> {
        let mut req = self
            .bot
            .send_photo(Recipient::from(chat), file.input_file())
            .parse_mode(ParseMode::Html);
        if let Some(c) = caption_html {
            req = req.caption(c);
        }
        let m = req.await?;
        Ok(ids(std::slice::from_ref(&m)))
    }

    /// One album (`sendMediaGroup`) of 2..=10 photos; the caption goes on the
    /// first. Other counts are rejected without calling Telegram.
    pub async fn send_album(
        &self,
        chat: &ChatTarget,
        files: Vec<Upload>,
        caption_html: Option<&str>,
    ) -> Result<Vec<i64>, SendError> {
        if !(2..=10).contains(&files.len()) {
            return Err(SendError::Rejected(format!(
                "an album needs 2 to 10 photos, got {}",
                files.len()
            )));
        }
        let media: Vec<InputMedia> = files
            .into_iter()
            .enumerate()
            .map(|(i, f)| {
                let mut p = InputMediaPhoto::new(f.input_file());
                if i == 0
                    && let Some(c) = caption_html
                {
                    p = p.caption(c).parse_mode(ParseMode::Html);
                }
                InputMedia::Photo(p)
            })
            .collect();
        let messages = self
            .bot
            .send_media_group(Recipient::from(chat), media)
            .await?;
        Ok(ids(&messages))
    }

    pub async fn send_video(
        &self,
        chat: &ChatTarget,
        file: Upload,
        caption_html: Option<&str>,
    ) -> Result<Vec<i64>, SendError> {
        let mut req = self
            .bot
            .send_video(Recipient::from(chat), file.input_file())
            .parse_mode(ParseMode::Html)
            .supports_streaming(true);
        if let Some(c) = caption_html {
            req = req.caption(c);
        }
        let m = req.await?;
        Ok(ids(std::slice::from_ref(&m)))
    }
}
