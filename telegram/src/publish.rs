//! The channel publisher: one pushed record = one item to one chat, sent at
//! most once.
//!
//! [`Publisher::publish`] claims the record (`pending` → `sending`, a
//! conditional UPDATE, so only one worker ever holds it), sends, and then
//! completes it (`sent` with the message ids). The outcome of a failed send
//! decides what happens next:
//! - Telegram certainly did not post (429 `retry_after`, connection refused
//!   before the request went out): back to `pending`, due after the wait;
//! - Telegram refused for good (chat not found, bot blocked, bad request):
//!   `failed`;
//! - we cannot know (timeout or a dropped connection after the request was
//!   sent, a 5xx): the record stays `sending` with the error noted — never
//!   sent again automatically, visible to operators, who can re-send on
//!   purpose. A crash between claim and send leaves the same state.
//!
//! What is sent (chosen in [`crate::format::media`]): an archived video (up
//! to the Bot API's 50 MB upload limit) with the caption; else an album of
//! up to 10 archived images — a thread's pictures part by part — (the
//! caption on the first); else one photo (an article: its cover); else a
//! text message. Captions are
//! limited to 1024 visible characters, texts to 4096 (see [`crate::format`]).
//! Sends are paced per chat (one message per second, one album per
//! ~3 seconds) and globally (25 per second) in each process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::DatabaseConnection;
use tokio::sync::Mutex;
use vaultstream_core::blob::{BlobKey, BlobStore};
use vaultstream_core::content::{ContentView, MediaView};
use vaultstream_core::db::{contents, push};
use vaultstream_core::status::PushEvent;

use crate::client::{ChatTarget, SendError, Telegram, Upload};
use crate::format::media::{Shape, shape};
use crate::format::{CAPTION_LIMIT, MESSAGE_LIMIT, render, render_deletion_notice};

/// The Bot API's upload limits (where the choice of files is made).
pub use crate::format::media::{MAX_ALBUM, MAX_PHOTO_BYTES, MAX_VIDEO_BYTES};

/// How one publish message ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PublishOutcome {
    /// Nothing to do: not pending (sent, sending, failed) or not due.
    Stale,
    Sent {
        message_ids: Vec<i64>,
    },
    /// Not sent; due again after the wait.
    Retry {
        after: Duration,
    },
    /// Refused for good.
    Failed,
    /// May or may not have been posted: left `sending` for an operator.
    Unknown,
}

/// Keeps sends within Telegram's limits in this process.
#[derive(Default)]
pub struct Pacer {
    per_chat: Mutex<HashMap<String, Instant>>,
    global: Mutex<Option<Instant>>,
}

impl Pacer {
    /// Wait until a send of `weight` messages to `chat` is allowed.
    pub async fn wait(&self, chat: &str, weight: u32) {
        loop {
            let now = Instant::now();
            let wait = {
                let mut map = self.per_chat.lock().await;
                match map.get(chat) {
                    Some(next) if *next > now => Some(*next - now),
                    _ => {
                        map.insert(
                            chat.to_owned(),
                            now + Duration::from_millis(1000 * u64::from(weight.max(1))),
                        );
                        None
                    }
                }
            };
            match wait {
                Some(w) => tokio::time::sleep(w).await,
                None => break,
            }
        }
        let mut g = self.global.lock().await;
        let now = Instant::now();
        if let Some(next) = *g
            && next > now
        {
            tokio::time::sleep(next - now).await;
        }
        *g = Some(Instant::now() + Duration::from_millis(40));
    }
}

pub struct Publisher {
    pub telegram: Telegram,
    pub db: DatabaseConnection,
    pub blobs: Arc<dyn BlobStore>,
    pub pacer: Pacer,
    /// Attempts (for errors that certainly did not post) before `failed`.
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
}

impl Publisher {
    /// The publisher a deployment runs with; `None` without a bot token.
    pub fn from_settings(
        settings: &vaultstream_core::Settings,
        db: DatabaseConnection,
        blobs: Arc<dyn BlobStore>,
    ) -> Option<Self> {
        Telegram::from_settings(settings).map(|telegram| Publisher {
            telegram,
            db,
            blobs,
            pacer: Pacer::default(),
            max_attempts: settings.max_attempts,
            backoff_base_ms: settings.backoff_base_ms,
        })
    }

    async fn upload(&self, m: &MediaView) -> Result<Option<Upload>, String> {
        let Some(key) = m.blob_key.as_deref().and_then(BlobKey::parse) else {
            return Ok(None);
        };
        let bytes = self.blobs.get(&key).await.map_err(|e| e.to_string())?;
        Ok(bytes.map(|b| Upload {
            name: format!("{}.{}", &key.sha256()[..16], key.ext()),
            bytes: b,
        }))
    }

    async fn uploads(&self, list: &[MediaView]) -> Result<Vec<Upload>, String> {
        let mut out = Vec::with_capacity(list.len());
        for m in list {
            if let Some(u) = self.upload(m).await? {
                out.push(u);
            }
        }
        Ok(out)
    }

    /// Send the item to the chat in the right shape.
    async fn send(&self, chat: &ChatTarget, item: &ContentView) -> Result<Vec<i64>, SendError> {
        let chat_key = chat.to_string();
        let read_err =
            |e: String| SendError::NotSent(format!("cannot read the archived file: {e}"));
        match shape(item) {
            Shape::Video(v) => {
                if let Some(file) = self.upload(&v).await.map_err(read_err)? {
                    self.pacer.wait(&chat_key, 1).await;
                    let caption = render(item, CAPTION_LIMIT);
                    return self.telegram.send_video(chat, file, Some(&caption)).await;
                }
            }
            Shape::Album(list) => {
                let files = self.uploads(&list).await.map_err(read_err)?;
                if files.len() >= 2 {
                    self.pacer.wait(&chat_key, files.len().min(3) as u32).await;
                    let caption = render(item, CAPTION_LIMIT);
                    return self.telegram.send_album(chat, files, Some(&caption)).await;
                }
                if let Some(file) = files.into_iter().next() {
                    self.pacer.wait(&chat_key, 1).await;
                    let caption = render(item, CAPTION_LIMIT);
                    return self.telegram.send_photo(chat, file, Some(&caption)).await;
                }
            }
            Shape::Photo(p) => {
                if let Some(file) = self.upload(&p).await.map_err(read_err)? {
                    self.pacer.wait(&chat_key, 1).await;
                    let caption = render(item, CAPTION_LIMIT);
                    return self.telegram.send_photo(chat, file, Some(&caption)).await;
                }
            }
            Shape::Text => {}
        }
        self.pacer.wait(&chat_key, 1).await;
        let text = render(item, MESSAGE_LIMIT);
        self.telegram.send_text(chat, &text, false).await
    }

    /// Publish one record. Errors are our own (database) failures only.
    pub async fn publish(&self, record_id: i64) -> anyhow::Result<PublishOutcome> {
        let Some(record) = push::claim(&self.db, record_id).await? else {
            return Ok(PublishOutcome::Stale);
        };
        let fail = |msg: String| async move {
            push::mark_failed(&self.db, record_id, &msg, None).await?;
            tracing::warn!(record.id = record_id, error = %msg, "push failed for good");
            Ok::<_, anyhow::Error>(PublishOutcome::Failed)
        };
        let Some(target) = push::get_target(&self.db, record.target_id).await? else {
            return fail("the push target was deleted".into()).await;
        };
        let chat: ChatTarget = match target.chat_id.parse() {
            Ok(c) => c,
            Err(_) => return fail(format!("`{}` is not a chat id", target.chat_id)).await,
        };
        let Some(item) = contents::get(&self.db, record.content_id).await? else {
            return fail("the item was deleted".into()).await;
        };
        let result = match record.event {
            PushEvent::Item => self.send(&chat, &item).await,
            PushEvent::DeletedUpstream => {
                let reply_to =
                    push::item_message_ids(&self.db, record.target_id, record.content_id).await?;
                self.pacer.wait(&chat.to_string(), 1).await;
                self.telegram
                    .send_reply(
                        &chat,
                        &render_deletion_notice(&item),
                        reply_to.first().copied(),
                    )
                    .await
            }
        };
        match result {
            Ok(ids) => {
                push::mark_sent(&self.db, record_id, &ids).await?;
                tracing::info!(
                    record.id = record_id,
                    content.id = record.content_id,
                    chat = %target.chat_id,
                    messages = ids.len(),
                    event = record.event.as_str(),
                    "pushed to Telegram"
                );
                Ok(PublishOutcome::Sent { message_ids: ids })
            }
            Err(SendError::RetryAfter(after)) => {
                self.retry_later(record_id, after, "Telegram asked to slow down (429)")
                    .await
            }
            Err(SendError::NotSent(msg)) if (record.attempts as u32) < self.max_attempts => {
                let exp = record.attempts.clamp(1, 16) as u32 - 1;
                let after = Duration::from_millis(self.backoff_base_ms.saturating_mul(1 << exp));
                self.retry_later(record_id, after, &msg).await
            }
            Err(SendError::NotSent(msg)) | Err(SendError::Rejected(msg)) => fail(msg).await,
            Err(SendError::Unknown(msg)) => {
                push::note_uncertain(&self.db, record_id, &msg).await?;
                tracing::warn!(
                    record.id = record_id,
                    error = %msg,
                    "push may or may not have been posted: left `sending` for an operator"
                );
                Ok(PublishOutcome::Unknown)
            }
        }
    }

    async fn retry_later(
        &self,
        record_id: i64,
        after: Duration,
        why: &str,
    ) -> anyhow::Result<PublishOutcome> {
        let next_at = Utc::now() + chrono::Duration::from_std(after).unwrap_or_default();
        push::release_for_retry(&self.db, record_id, next_at, why).await?;
        tracing::info!(
            record.id = record_id,
            retry_in_ms = after.as_millis() as u64,
            reason = why,
            "push not sent; retrying later"
        );
        Ok(PublishOutcome::Retry { after })
    }
}
