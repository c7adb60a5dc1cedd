//! Commands whose machinery lands in later issues. Each exists now and says
//! plainly what it does today, with exit code 1 so scripts notice.

use std::process::ExitCode;

use clap::Subcommand;
use vaultstream_core::Settings;

use super::EXIT_RUNTIME;

#[derive(Debug, Clone, Subcommand)]
pub enum DlqAction {
    /// List dead-lettered jobs.
    List,
    /// Re-queue dead-lettered jobs.
    Retry,
}

#[derive(Debug, Clone, Subcommand)]
pub enum KeysAction {
    /// Create a key (printed once).
    Create,
    /// List keys.
    List,
    /// Revoke a key.
    Revoke,
}

fn not_yet(what: &str, today: &str) -> ExitCode {
    eprintln!("vaultstream: {what} is not available in this version. {today}");
    ExitCode::from(EXIT_RUNTIME)
}

pub fn worker() -> ExitCode {
    not_yet(
        "the job worker (parse, media, publish)",
        "Submitted items are stored with status `unprocessed` and wait for it; nothing is lost.",
    )
}

pub fn bot(settings: &Settings) -> ExitCode {
    let token = if settings.telegram.bot_token.is_some() {
        "A bot token is set but not used yet."
    } else {
        "No bot token is set either (VAULTSTREAM_TELEGRAM_BOT_TOKEN)."
    };
    not_yet(
        "the Telegram bot",
        &format!("Submit over REST (POST /api/v1/shares) or `vaultstream submit`. {token}"),
    )
}

pub fn dlq(_: &DlqAction) -> ExitCode {
    not_yet(
        "the dead-letter queue",
        "No jobs run yet, so none can fail; items wait as `unprocessed`.",
    )
}

pub fn keys(_: &KeysAction) -> ExitCode {
    not_yet(
        "API key management",
        "The API does not check keys yet: keep it bound to loopback (the default 127.0.0.1:8080).",
    )
}
