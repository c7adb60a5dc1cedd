//! `keys create|list|revoke`: API keys for the REST API.
//!
//! A key is printed once, at creation; the database keeps only its hash and
//! its first characters (the prefix `keys list` shows and `keys revoke`
//! accepts).

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use sea_orm::prelude::DateTimeUtc;
use vaultstream_core::Settings;
use vaultstream_core::db::entities::api_key;
use vaultstream_core::db::keys::{self, Role, TokenRevoked};

use super::EXIT_RUNTIME;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Submit shares, read items and blobs.
    Submitter,
    /// Everything, including dead letters, retries and push targets.
    Operator,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Submitter => Role::Submitter,
            RoleArg::Operator => Role::Operator,
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// Create a key and print it (once: it cannot be shown again).
    Create {
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A note on who or what uses the key.
        #[arg(long)]
        name: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List keys (prefix, role, name, created, last used, revoked).
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by id or prefix (as `keys list` shows them).
    Revoke {
        #[arg(value_name = "ID-OR-PREFIX")]
        key: String,
    },
}

/// A time as the `keys` and `feeds` lists print it (`-` for none).
pub(crate) fn when(t: Option<DateTimeUtc>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

fn json_of(k: &api_key::Model) -> serde_json::Value {
    serde_json::json!({
        "id": k.id,
        "prefix": k.prefix,
        "role": k.role,
        "name": k.name,
        "created_at": k.created_at,
        "last_used_at": k.last_used_at,
        "revoked_at": k.revoked_at,
    })
}

pub async fn run(settings: &Settings, action: &Action) -> ExitCode {
    let db = match super::serve::open_db(settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    match action {
        Action::Create { role, name, json } => {
            let (row, key) = match keys::create(&db, (*role).into(), name.as_deref()).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("vaultstream: cannot create the key: {e}");
                    return ExitCode::from(EXIT_RUNTIME);
                }
            };
            if *json {
                let mut v = json_of(&row);
                v["key"] = serde_json::Value::String(key);
                println!("{v}");
            } else {
                println!("{key}");
                eprintln!(
                    "Created {} key id {} ({}){}. Store it now: it is not shown again.",
                    row.role,
                    row.id,
                    row.prefix,
                    row.name
                        .as_deref()
                        .map(|n| format!(", name \"{n}\""))
                        .unwrap_or_default()
                );
                eprintln!("Use it as: Authorization: Bearer <key>");
            }
            ExitCode::SUCCESS
        }
        Action::List { json } => {
            let rows = match keys::list(&db).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("vaultstream: {e}");
                    return ExitCode::from(EXIT_RUNTIME);
                }
            };
            if !*json {
                println!(
                    "{:<6} {:<12} {:<10} {:<20} {:<20} {:<20} name",
                    "id", "prefix", "role", "created", "last_used", "revoked"
                );
            }
            for k in rows {
                if *json {
                    println!("{}", json_of(&k));
                } else {
                    println!(
                        "{:<6} {:<12} {:<10} {:<20} {:<20} {:<20} {}",
                        k.id,
                        k.prefix,
                        k.role,
                        when(Some(k.created_at)),
                        when(k.last_used_at),
                        when(k.revoked_at),
                        k.name.as_deref().unwrap_or("")
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Action::Revoke { key } => revoke_report("key", key, keys::revoke(&db, key).await, |k| {
            (k.id, k.prefix.clone(), format!(", {}", k.role))
        }),
    }
}

/// What `keys revoke` and `feeds revoke` print and exit with. `label`:
/// a row's id, prefix and what the "revoked" line adds after the prefix.
pub(crate) fn revoke_report<M>(
    what: &str,
    target: &str,
    res: Result<TokenRevoked<M>, sea_orm::DbErr>,
    label: impl Fn(&M) -> (i64, String, String),
) -> ExitCode {
    match res {
        Ok(TokenRevoked::Revoked(m)) => {
            let (id, prefix, extra) = label(&m);
            println!("revoked {what} {id} ({prefix}{extra})");
            ExitCode::SUCCESS
        }
        Ok(TokenRevoked::AlreadyRevoked(m)) => {
            let (id, prefix, _) = label(&m);
            println!("{what} {id} ({prefix}) was already revoked");
            ExitCode::SUCCESS
        }
        Ok(TokenRevoked::NotFound) => {
            eprintln!(
                "vaultstream: no {what} with id or prefix `{target}` (see `vaultstream {what}s list`)"
            );
            ExitCode::from(EXIT_RUNTIME)
        }
        Ok(TokenRevoked::Ambiguous(n)) => {
            eprintln!("vaultstream: `{target}` matches {n} {what}s; revoke by id instead");
            ExitCode::from(EXIT_RUNTIME)
        }
        Err(e) => {
            eprintln!("vaultstream: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
