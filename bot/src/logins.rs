//! `/login` (operators): platform logins from Telegram.
//!
//! - `/login`: every login, its account, expiry and last check.
//! - `/login check <platform>`: check now (a valid login retries what
//!   failed for lack of it).
//! - `/login qr <platform>`: a QR code sent as an image; once it is
//!   scanned and confirmed in the platform's app, the login is stored and
//!   checked, and the result is sent.
//!
//! Cookies are never asked for or shown here (chats keep history): store
//! them with `vaultstream logins set` or the operator page.

use std::sync::Arc;
use std::time::Duration;

use vaultstream_adapters::logins::qr::{self, QrPoll};
use vaultstream_adapters::logins::{CheckReport, LoginError, Logins};
use vaultstream_core::platform::Platform;
use vaultstream_telegram::client::{ChatTarget, Upload};
use vaultstream_telegram::format::escape;

use vaultstream_core::queue::JobQueue;
use vaultstream_telegram::client::Telegram;

use sea_orm::DatabaseConnection;
use vaultstream_core::Settings;

pub const USAGE: &str = "<code>/login</code> — every login and its last check\n\
<code>/login check &lt;platform&gt;</code> — check now\n\
<code>/login qr bilibili</code> — log in by scanning a QR code";

fn report(r: &CheckReport) -> String {
    let account = r
        .outcome
        .account
        .as_deref()
        .map(|a| format!(" as {}", escape(a)))
        .unwrap_or_default();
    let mut out = format!(
        "{}: <b>{}</b>{account} ({})",
        r.platform,
        r.outcome.state,
        escape(&r.outcome.detail)
    );
    if r.retried > 0 {
        out.push_str(&format!(
            "\nRetrying {} item(s) that failed for lack of a login.",
            r.retried
        ));
    }
    out
}

fn failed(e: &LoginError) -> String {
    escape(&e.to_string())
}

async fn list(logins: &Logins) -> String {
    let entries = match logins.entries().await {
        Ok(e) => e,
        Err(e) => return failed(&e),
    };
    if entries.is_empty() {
        return format!("No logins yet.\n{USAGE}");
    }
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let state = e
                .state
                .map_or(if e.checkable { "unchecked" } else { "no check" }, |s| {
                    s.as_str()
                });
            let expires = e
                .expires_at
                .map(|t| format!(", expires {}", t.format("%Y-%m-%d")))
                .unwrap_or_default();
            let account = e
                .account
                .as_deref()
                .map(|a| format!(" ({})", escape(a)))
                .unwrap_or_default();
            format!(
                "• {}{account}: <b>{state}</b> [{}]{expires}",
                e.platform, e.source
            )
        })
        .collect();
    lines.join("\n")
}

/// The reply (HTML) to `/login <arg>`; a QR login also sends its image and
/// reports in the background.
pub async fn reply(
    db: &DatabaseConnection,
    settings: &Settings,
    queue: Arc<dyn JobQueue>,
    telegram: &Telegram,
    chat: ChatTarget,
    arg: &str,
) -> String {
    let logins = Logins::from_settings(settings, db.clone());
    let mut words = arg.split_whitespace();
    let (verb, platform) = (words.next(), words.next());
    let platform = match platform.map(str::parse::<Platform>) {
        Some(Ok(p)) => Some(p),
        Some(Err(_)) => return format!("Unknown platform.\n{USAGE}"),
        None => None,
    };
    match (verb, platform) {
        (None, _) | (Some("list"), _) => list(&logins).await,
        (Some("check"), Some(p)) => match logins.check(p, queue.as_ref()).await {
            Ok(r) => report(&r),
            Err(e) => failed(&e),
        },
        (Some("qr"), Some(p)) => qr_login(telegram.clone(), queue, logins, chat, p).await,
        _ => USAGE.to_owned(),
    }
}

async fn qr_login(
    telegram: Telegram,
    queue: Arc<dyn JobQueue>,
    logins: Logins,
    chat: ChatTarget,
    platform: Platform,
) -> String {
    let start = match logins.qr_start(platform).await {
        Ok(s) => s,
        Err(e) => return failed(&e),
    };
    let png = qr::png(&start.url);
    let caption = format!("Scan this with the {platform} app and confirm the login there.");
    if let Err(e) = telegram
        .send_photo(&chat, Upload::new("login-qr.png", png), Some(&caption))
        .await
    {
        tracing::warn!(%platform, error = %e, "bot: could not send the login QR code");
        return "Could not send the QR code; try again.".into();
    }
    tokio::spawn(async move {
        let text = wait(queue.as_ref(), &logins, platform, &start.key).await;
        if let Err(e) = telegram.send_text(&chat, &text, true).await {
            tracing::warn!(%platform, error = %e, "bot: could not report the QR login");
        }
    });
    format!(
        "Waiting for the scan (the code lasts {} s).",
        qr::QR_LIFETIME.as_secs()
    )
}

async fn wait(
    queue: &dyn JobQueue,
    logins: &Logins,
    platform: Platform,
    key: &vaultstream_core::settings::Secret<String>,
) -> String {
    let deadline = tokio::time::Instant::now() + qr::QR_LIFETIME + Duration::from_secs(5);
    loop {
        tokio::time::sleep(qr::POLL_EVERY).await;
        match logins.qr_poll(platform, key, queue).await {
            Ok((QrPoll::Done { .. }, check)) => {
                let mut out = format!("✅ Logged in: the {platform} login is stored.");
                if let Some(r) = check {
                    out.push('\n');
                    out.push_str(&report(&r));
                }
                return out;
            }
            Ok((QrPoll::Expired, _)) => {
                return format!(
                    "The QR code expired; nothing was stored. Send /login qr {platform} again."
                );
            }
            Ok(_) if tokio::time::Instant::now() >= deadline => {
                return "The QR login timed out; nothing was stored.".into();
            }
            Ok(_) => {}
            Err(e) => return format!("The QR login failed: {}", failed(&e)),
        }
    }
}
