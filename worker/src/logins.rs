//! The login task beside the pools: every platform login (stored or from
//! the environment) is checked once per `VAULTSTREAM_LOGIN_CHECK_INTERVAL_SECS`
//! (`adapters::logins::Logins::check_due`: results recorded, dead letters
//! retried when a login is valid again), and the notices those checks
//! queued — a login expired, three failures in a row, items retried — are
//! sent to the bot's operators (`VAULTSTREAM_TELEGRAM_OPERATORS`, in their
//! private chats). Without a bot they are logged instead.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use vaultstream_core::db::logins;
use vaultstream_telegram::client::{ChatTarget, Telegram};
use vaultstream_telegram::format::escape;

use crate::ctx::WorkerCtx;

/// The task wakes at least this often (to deliver notices that a check in
/// another process queued).
const TICK: Duration = Duration::from_secs(5);

/// Run until `stop` turns true.
pub async fn run(
    ctx: Arc<WorkerCtx>,
    operators: Vec<i64>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let telegram = ctx.publisher.as_ref().map(|p| p.telegram.clone());
    loop {
        ctx.logins.check_due(every, ctx.queue.as_ref()).await;
        deliver(&ctx.db, telegram.as_ref(), &operators).await;
        tokio::select! {
            _ = tokio::time::sleep(every.min(TICK)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Send the waiting notices to every operator (each notice once).
pub async fn deliver(
    db: &sea_orm::DatabaseConnection,
    telegram: Option<&Telegram>,
    operators: &[i64],
) {
    let notices = match logins::take_notices(db).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the login notices");
            return;
        }
    };
    for (platform, text) in notices {
        let Some(telegram) = telegram.filter(|_| !operators.is_empty()) else {
            tracing::warn!(%platform, notice = %text, "login notice (no bot operators to tell)");
            continue;
        };
        let html = format!("🔑 {}", escape(&text));
        for &op in operators {
            if let Err(e) = telegram.send_text(&ChatTarget::Id(op), &html, true).await {
                tracing::warn!(%platform, operator = op, error = %e, "cannot send a login notice");
            }
        }
        tracing::info!(%platform, operators = operators.len(), "login notice sent");
    }
}
