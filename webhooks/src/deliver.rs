//! One pushed record to one webhook, on the same record bookkeeping as a
//! Telegram push ([`vaultstream_core::db::push`]): claim (`pending` →
//! `sending`, attempts + 1) → POST → complete.
//!
//! How an attempt ends:
//! - 2xx: `sent`, with the status;
//! - 429 (after its `Retry-After`), 408, 5xx, a timeout or a connection
//!   failure: back to `pending`, due after an exponential backoff, until
//!   the attempt limit (`VAULTSTREAM_MAX_ATTEMPTS`) — then `failed`, the
//!   push's dead letter, listed with its last status and error and
//!   re-sendable (`POST /pushed-records/{id}/resend`). A receiver sees the
//!   same `webhook-id` on every attempt and can drop repeats, which is why
//!   a webhook may be retried after a timeout where a Telegram post is not;
//! - any other answer (3xx: redirects are not followed; 4xx: refused) and
//!   an address the SSRF guard refuses: `failed` at once.
//!
//! Every answer's status is stored on the record (`http_status`).

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER, USER_AGENT};
use sea_orm::DatabaseConnection;
use url::Url;
use vaultstream_adapters::http::outbound;
use vaultstream_core::Settings;
use vaultstream_core::db::contents;
use vaultstream_core::db::entities::{push_target, pushed_record};
use vaultstream_core::db::push::{self, webhooks::secret_bytes};
use vaultstream_core::status::{TargetKind, WebhookFormat};

use crate::{format, sign};

/// Longest wait a receiver's `Retry-After` can ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// How much of a refusal's body is kept as the record's error detail.
const DETAIL_BYTES: usize = 512;

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Nothing to do: the record is not pending and due.
    Stale,
    /// The receiver took it (2xx).
    Sent { status: u16 },
    /// Not taken; due again after the wait.
    Retry { after: Duration },
    /// Refused for good, or out of attempts.
    Failed,
}

/// The webhook sender of a process (one client, kept alive between
/// deliveries).
pub struct Webhooks {
    db: DatabaseConnection,
    client: Option<reqwest::Client>,
    allow_private: bool,
    public_url: Option<Url>,
    max_attempts: u32,
    backoff_base_ms: u64,
}

impl Webhooks {
    pub fn from_settings(settings: &Settings, db: DatabaseConnection) -> Self {
        let timeout = Duration::from_millis(settings.webhook_timeout_ms);
        let client = outbound::client(timeout, timeout, settings.allow_private_targets)
            .inspect_err(|e| tracing::error!(error = %e, "cannot build the webhook HTTP client"))
            .ok();
        Webhooks {
            db,
            client,
            allow_private: settings.allow_private_targets,
            public_url: settings.public_url.clone(),
            max_attempts: settings.max_attempts,
            backoff_base_ms: settings.backoff_base_ms,
        }
    }

    /// Deliver one record whose target is a webhook. Errors are our own
    /// (database) failures only.
    pub async fn deliver(&self, record_id: i64) -> anyhow::Result<Delivery> {
        let Some(record) = push::claim(&self.db, record_id).await? else {
            return Ok(Delivery::Stale);
        };
        let Some(target) = push::get_target(&self.db, record.target_id).await? else {
            return self
                .fail(&record, "the push target was deleted", None)
                .await;
        };
        if target.kind != TargetKind::Webhook {
            return self
                .fail(&record, "the push target is not a webhook", None)
                .await;
        }
        let Some(url) = target.url.as_deref().and_then(|u| Url::parse(u).ok()) else {
            return self
                .fail(&record, "the webhook has no valid URL", None)
                .await;
        };
        if let Err(e) = outbound::check_target(&url, self.allow_private) {
            return self.fail(&record, &e.message, None).await;
        }
        let Some(item) = contents::get(&self.db, record.content_id).await? else {
            return self.fail(&record, "the item was deleted", None).await;
        };
        let Some(client) = &self.client else {
            return self
                .retry(&record, "no HTTP client is available", None)
                .await;
        };
        let format = target.format.unwrap_or(WebhookFormat::Standard);
        let body = format::body(format, record.event, &item, self.public_url.as_ref());
        let body = serde_json::to_vec(&body)?;
        let headers = match headers(&target, record.id, record.event, &body) {
            Ok(h) => h,
            Err(e) => return self.fail(&record, &e, None).await,
        };
        let sent = client
            .post(url.clone())
            .headers(headers)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) => self.answered(&record, &target, resp).await,
            Err(e) => {
                if let Some(why) = outbound::refused_address(&e) {
                    return self
                        .fail(&record, &format!("refused to send: {why}"), None)
                        .await;
                }
                let what = if e.is_timeout() {
                    "the webhook did not answer in time"
                } else if e.is_connect() {
                    "could not connect to the webhook"
                } else {
                    "the connection to the webhook failed"
                };
                self.retry(&record, &format!("{what}: {e}"), None).await
            }
        }
    }

    async fn answered(
        &self,
        record: &pushed_record::Model,
        target: &push_target::Model,
        resp: reqwest::Response,
    ) -> anyhow::Result<Delivery> {
        let status = resp.status();
        push::note_http_status(&self.db, record.id, status.as_u16()).await?;
        if status.is_success() {
            push::mark_sent(&self.db, record.id, &[]).await?;
            tracing::info!(
                record.id = record.id,
                content.id = record.content_id,
                push_target.id = target.id,
                http.status = status.as_u16(),
                event = record.event.as_str(),
                "pushed to a webhook"
            );
            return Ok(Delivery::Sent {
                status: status.as_u16(),
            });
        }
        let retry_after = retry_after(resp.headers());
        let detail = detail_of(resp).await;
        let msg = format!("the webhook answered {status}");
        if status == StatusCode::TOO_MANY_REQUESTS {
            return self.retry_at(record, &msg, detail, retry_after).await;
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return self.retry(record, &msg, detail).await;
        }
        let msg = if status.is_redirection() {
            format!("{msg}: webhooks do not follow redirects; set the final URL")
        } else {
            msg
        };
        self.fail(record, &msg, detail.as_deref()).await
    }

    fn backoff(&self, attempts: i32) -> Duration {
        let exp = attempts.clamp(1, 16) as u32 - 1;
        Duration::from_millis(self.backoff_base_ms.saturating_mul(1 << exp)).min(MAX_RETRY_AFTER)
    }

    async fn retry(
        &self,
        record: &pushed_record::Model,
        why: &str,
        detail: Option<String>,
    ) -> anyhow::Result<Delivery> {
        self.retry_at(record, why, detail, None).await
    }

    /// Due again after `after` (or the backoff), unless the attempts are
    /// spent: then `failed`.
    async fn retry_at(
        &self,
        record: &pushed_record::Model,
        why: &str,
        detail: Option<String>,
        after: Option<Duration>,
    ) -> anyhow::Result<Delivery> {
        if record.attempts as u32 >= self.max_attempts {
            let why = format!("{why} (after {} attempts)", record.attempts);
            return self.fail(record, &why, detail.as_deref()).await;
        }
        let after = after.unwrap_or_else(|| self.backoff(record.attempts));
        let next_at = Utc::now() + chrono::Duration::from_std(after).unwrap_or_default();
        push::release_for_retry(&self.db, record.id, next_at, why).await?;
        tracing::info!(
            record.id = record.id,
            retry_in_ms = after.as_millis() as u64,
            reason = why,
            "webhook push not taken; retrying later"
        );
        Ok(Delivery::Retry { after })
    }

    async fn fail(
        &self,
        record: &pushed_record::Model,
        why: &str,
        detail: Option<&str>,
    ) -> anyhow::Result<Delivery> {
        push::mark_failed(&self.db, record.id, why, detail).await?;
        tracing::warn!(record.id = record.id, error = %why, "webhook push failed for good");
        Ok(Delivery::Failed)
    }
}

/// The request's headers: JSON, our User-Agent, the event, and for
/// `standard` webhooks the Standard Webhooks id, timestamp and signature.
fn headers(
    target: &push_target::Model,
    record_id: i64,
    event: vaultstream_core::status::PushEvent,
    body: &[u8],
) -> Result<HeaderMap, String> {
    let mut h = HeaderMap::new();
    h.insert(
        CONTENT_TYPE,
        "application/json".parse().expect("static header"),
    );
    let ua = concat!("VaultStream-Webhooks/", env!("CARGO_PKG_VERSION"));
    h.insert(USER_AGENT, ua.parse().expect("static header"));
    h.insert(
        "x-vaultstream-event",
        format::event_name(event).parse().expect("static header"),
    );
    if target.format.unwrap_or(WebhookFormat::Standard) != WebhookFormat::Standard {
        return Ok(h);
    }
    let id = sign::message_id(record_id);
    let ts = Utc::now().timestamp();
    h.insert(
        "webhook-id",
        id.parse().map_err(|_| "bad message id".to_owned())?,
    );
    h.insert("webhook-timestamp", ts.into());
    if let Some(secret) = &target.secret {
        let key = secret_bytes(secret)
            .map_err(|e| format!("the webhook's secret is unusable: {}", e.message))?;
        let sig = sign::signature(&key, &id, ts, body);
        h.insert(
            "webhook-signature",
            sig.parse().map_err(|_| "bad signature header".to_owned())?,
        );
    }
    Ok(h)
}

/// `Retry-After` in seconds or as an HTTP date, capped.
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match v.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        _ => {
            let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
            (at.with_timezone(&Utc) - Utc::now())
                .to_std()
                .unwrap_or_default()
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The start of a refusal's body, for operators.
async fn detail_of(mut resp: reqwest::Response) -> Option<String> {
    // Read only what is kept: a receiver's body may be any size.
    let mut bytes = Vec::new();
    while bytes.len() < DETAIL_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let cut = &bytes[..bytes.len().min(DETAIL_BYTES)];
    let text = String::from_utf8_lossy(cut).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates_and_is_capped() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, "0.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(RETRY_AFTER, "999999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        let later = (Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(RETRY_AFTER, later.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(25),
            "{d:?}"
        );
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
