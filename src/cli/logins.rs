//! `logins list|set|check|remove|qr`: platform logins from a shell.
//!
//! A cookie string is read from standard input (or a file), never from the
//! command line, where `ps` and shell history would keep it. Nothing
//! printed holds a cookie: lists show the platform, the account when known,
//! when it was set, when it expires, and the last check.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use vaultstream_adapters::logins::qr::{self, QrPoll};
use vaultstream_adapters::logins::{CheckReport, LoginEntry, LoginError, Logins};
use vaultstream_core::Settings;
use vaultstream_core::db::logins::{self as vault, VaultError};
use vaultstream_core::platform::Platform;

use super::{EXIT_RUNTIME, EXIT_USAGE};

#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// Every login (stored, and the environment's read-only ones) with its last check.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Store a platform's cookie string ("name=value; name2=value2"), read
    /// from standard input or --cookie-file; then check it.
    Set {
        platform: Platform,
        /// Read the cookie string from this file instead of standard input.
        #[arg(long, value_name = "FILE")]
        cookie_file: Option<PathBuf>,
        /// The account's name, when you want lists to show it.
        #[arg(long)]
        account: Option<String>,
        /// When the login expires (RFC 3339, e.g. 2027-06-01T00:00:00Z), if known.
        #[arg(long, value_name = "TIME")]
        expires: Option<DateTime<Utc>>,
    },
    /// Check logins now (one platform, or every login with a check).
    Check { platform: Option<Platform> },
    /// Forget a stored login (environment cookies are removed from the environment).
    Remove {
        #[arg(required_unless_present = "all")]
        platform: Option<Platform>,
        /// Every stored login.
        #[arg(long, conflicts_with = "platform")]
        all: bool,
        /// With --all: also forget the vault's key check, so a new VAULTSTREAM_SECRET_KEY is accepted.
        #[arg(long, requires = "all")]
        forget_key: bool,
    },
    /// Log in by scanning a QR code printed here (Bilibili).
    Qr {
        platform: Platform,
        /// Give up after this many seconds (the code itself lasts 180).
        #[arg(long, default_value_t = 180)]
        timeout_secs: u64,
    },
}

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M").to_string(),
    )
}

fn json_of(e: &LoginEntry) -> serde_json::Value {
    serde_json::json!({
        "platform": e.platform,
        "source": e.source,
        "read_only": e.read_only,
        "account": e.account,
        "set_at": e.set_at,
        "expires_at": e.expires_at,
        "last_check_at": e.last_check_at,
        "state": e.state,
        "detail": e.detail,
        "failures_in_row": e.failures_in_row,
        "checkable": e.checkable,
    })
}

fn report(r: &CheckReport) {
    let account = r
        .outcome
        .account
        .as_deref()
        .map(|a| format!(" as {a}"))
        .unwrap_or_default();
    println!(
        "{}: {}{account} ({})",
        r.platform, r.outcome.state, r.outcome.detail
    );
    if r.retried > 0 {
        println!(
            "{}: retrying {} item(s) that failed for lack of a login",
            r.platform, r.retried
        );
    }
}

fn failed(e: &LoginError) -> ExitCode {
    eprintln!("vaultstream: {e}");
    match e {
        LoginError::Vault(VaultError::NoKey | VaultError::WrongKey) => ExitCode::from(EXIT_USAGE),
        _ => ExitCode::from(EXIT_RUNTIME),
    }
}

fn read_cookie(file: Option<&PathBuf>) -> Result<String, String> {
    let mut text = String::new();
    match file {
        Some(f) => {
            text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        }
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprintln!("Paste the cookie string, then press Enter and Ctrl-D:");
            }
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("standard input: {e}"))?;
        }
    }
    let text = text.trim().to_owned();
    if !vault::valid_cookie(&text) {
        return Err("the cookie string is empty or has control characters".into());
    }
    Ok(text)
}

pub async fn run(settings: &Settings, action: &Action) -> ExitCode {
    let db = match super::serve::open_db(settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    let logins = Logins::from_settings(settings, db.clone());
    let queue = || super::serve::open_queue(settings);
    match action {
        Action::List { json } => {
            let entries = match logins.entries().await {
                Ok(e) => e,
                Err(e) => return failed(&e),
            };
            if !*json {
                println!(
                    "{:<12} {:<6} {:<18} {:<17} {:<17} {:<17} {:<13} detail",
                    "platform", "source", "account", "set", "expires", "checked", "state"
                );
            }
            for e in &entries {
                if *json {
                    println!("{}", json_of(e));
                } else {
                    println!(
                        "{:<12} {:<6} {:<18} {:<17} {:<17} {:<17} {:<13} {}",
                        e.platform.as_str(),
                        e.source,
                        e.account.as_deref().unwrap_or("-"),
                        when(e.set_at),
                        when(e.expires_at),
                        when(e.last_check_at),
                        e.state
                            .map_or(if e.checkable { "unchecked" } else { "no check" }, |s| s
                                .as_str()),
                        e.detail.as_deref().unwrap_or("")
                    );
                }
            }
            if entries.is_empty() && !*json {
                eprintln!("no logins: store one with `vaultstream logins set <platform>`");
            }
            ExitCode::SUCCESS
        }
        Action::Set {
            platform,
            cookie_file,
            account,
            expires,
        } => {
            // Refuse before reading anything when nothing can be stored.
            if let Err(e) = logins.vault() {
                return failed(&e);
            }
            let cookie = match read_cookie(cookie_file.as_ref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("vaultstream: {e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let queue = match queue().await {
                Ok(q) => q,
                Err(code) => return code,
            };
            match logins
                .set(*platform, &cookie, account.as_deref(), *expires, &queue)
                .await
            {
                Ok((_, check)) => {
                    println!("stored the {platform} login (encrypted)");
                    if let Some(r) = check {
                        report(&r);
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => failed(&e),
            }
        }
        Action::Check { platform } => {
            let queue = match queue().await {
                Ok(q) => q,
                Err(code) => return code,
            };
            let platforms: Vec<Platform> = match platform {
                Some(p) => vec![*p],
                None => match logins.entries().await {
                    Ok(e) => e
                        .iter()
                        .filter(|e| e.checkable)
                        .map(|e| e.platform)
                        .collect(),
                    Err(e) => return failed(&e),
                },
            };
            let mut code = ExitCode::SUCCESS;
            for p in platforms {
                match logins.check(p, &queue).await {
                    Ok(r) => report(&r),
                    Err(e) => code = failed(&e),
                }
            }
            code
        }
        Action::Remove {
            platform,
            all,
            forget_key,
        } => {
            if *all {
                let result = if *forget_key {
                    vault::forget_all(&db).await.map_err(LoginError::from)
                } else {
                    remove_all(&logins).await
                };
                return match result {
                    Ok(n) => {
                        println!("removed {n} login(s)");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("vaultstream: {e}");
                        ExitCode::from(EXIT_RUNTIME)
                    }
                };
            }
            let Some(p) = platform else {
                return ExitCode::from(EXIT_USAGE);
            };
            match logins.remove(*p).await {
                Ok(true) => {
                    println!("removed the {p} login");
                    if settings.cookies.contains_key(p) {
                        println!(
                            "VAULTSTREAM_COOKIES_{} is still set and is used",
                            p.as_str().to_ascii_uppercase()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Ok(false) => {
                    eprintln!("vaultstream: no stored {p} login");
                    ExitCode::from(EXIT_RUNTIME)
                }
                Err(e) => failed(&e),
            }
        }
        Action::Qr {
            platform,
            timeout_secs,
        } => {
            let queue = match queue().await {
                Ok(q) => q,
                Err(code) => return code,
            };
            let within = Duration::from_secs(*timeout_secs);
            let shown = logins
                .qr_login(*platform, &queue, within, qr::POLL_EVERY, |start| {
                    println!("{}", qr::terminal(&start.url));
                    println!("Scan this with the {platform} app, then confirm the login there.");
                    println!("(The code holds {})", start.url);
                })
                .await;
            match shown {
                Ok((QrPoll::Done { .. }, check)) => {
                    println!("logged in: the {platform} login is stored (encrypted)");
                    if let Some(r) = check {
                        report(&r);
                    }
                    ExitCode::SUCCESS
                }
                Ok((state, _)) => {
                    eprintln!(
                        "vaultstream: the QR login ended {}: nothing was stored; run it again",
                        state.word()
                    );
                    ExitCode::from(EXIT_RUNTIME)
                }
                Err(e) => failed(&e),
            }
        }
    }
}

async fn remove_all(logins: &Logins) -> Result<u64, LoginError> {
    let mut n = 0;
    for e in logins.entries().await? {
        if !e.read_only && logins.remove(e.platform).await? {
            n += 1;
        }
    }
    Ok(n)
}
