//! Commands whose machinery lands in later issues. Each exists now and says
//! plainly what it does today, with exit code 1 so scripts notice.

use std::process::ExitCode;

use clap::Subcommand;

use super::EXIT_RUNTIME;

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

pub fn keys(_: &KeysAction) -> ExitCode {
    not_yet(
        "API key management",
        "The API does not check keys yet: keep it bound to loopback (the default 127.0.0.1:8080).",
    )
}
