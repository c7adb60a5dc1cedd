//! `dlq list|retry`: the dead-letter queue from a shell.

use std::process::ExitCode;

use clap::Subcommand;
use vaultstream_core::Settings;
use vaultstream_core::db::dead_letters::{DeadLetterFilter, list_dead_letters};
use vaultstream_core::db::retry::{retry_dead_letter, retry_dead_letters};
use vaultstream_core::status::DeadLetterState;

use super::EXIT_RUNTIME;

#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// List dead-lettered jobs, newest first.
    List {
        #[arg(long)]
        platform: Option<String>,
        /// retryable, rate_limited, permanent or auth_required.
        #[arg(long)]
        error_type: Option<String>,
        /// Include dead letters that were already retried.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// Retry one dead letter (--id) or every open one matching the filters.
    Retry {
        /// A dead letter id (from `dlq list`).
        #[arg(long, conflicts_with_all = ["platform", "error_type"])]
        id: Option<i64>,
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        error_type: Option<String>,
        /// Retry all open dead letters matching the filters (required without --id).
        #[arg(long, required_unless_present = "id")]
        all: bool,
    },
}

pub async fn run(settings: &Settings, action: &Action) -> ExitCode {
    let db = match super::serve::open_db(settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    match action {
        Action::List {
            platform,
            error_type,
            all,
            limit,
            json,
        } => {
            let filter = DeadLetterFilter {
                platform: platform.clone(),
                error_type: error_type.clone(),
                state: (!*all).then_some(DeadLetterState::Open),
                before_id: None,
                limit: *limit,
            };
            let rows = match list_dead_letters(&db, &filter).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("vaultstream: {e}");
                    return ExitCode::from(EXIT_RUNTIME);
                }
            };
            if !*json {
                println!(
                    "{:<6} {:<8} {:<12} {:<14} {:<8} {:<8} message",
                    "id", "content", "platform", "error_type", "attempts", "state"
                );
            }
            for r in rows {
                if *json {
                    let v = serde_json::json!({
                        "id": r.id, "content_id": r.content_id, "platform": r.platform,
                        "error_type": r.error_type, "error_message": r.error_message,
                        "error_detail": r.error_detail, "attempts": r.attempts,
                        "state": r.state, "created_at": r.created_at,
                    });
                    println!("{v}");
                } else {
                    println!(
                        "{:<6} {:<8} {:<12} {:<14} {:<8} {:<8} {}",
                        r.id,
                        r.content_id,
                        r.platform,
                        r.error_type,
                        r.attempts,
                        r.state,
                        r.error_message
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Action::Retry {
            id,
            platform,
            error_type,
            ..
        } => {
            let requeued = match id {
                Some(id) => match retry_dead_letter(&db, *id).await {
                    Ok(Some((_, requeued))) => requeued,
                    Ok(None) => {
                        eprintln!("vaultstream: no open dead letter with id {id}");
                        return ExitCode::from(EXIT_RUNTIME);
                    }
                    Err(e) => {
                        eprintln!("vaultstream: {e}");
                        return ExitCode::from(EXIT_RUNTIME);
                    }
                },
                None => {
                    let filter = DeadLetterFilter {
                        platform: platform.clone(),
                        error_type: error_type.clone(),
                        state: Some(DeadLetterState::Open),
                        before_id: None,
                        limit: 100_000,
                    };
                    match retry_dead_letters(&db, &filter).await {
                        Ok(requeued) => requeued,
                        Err(e) => {
                            eprintln!("vaultstream: {e}");
                            return ExitCode::from(EXIT_RUNTIME);
                        }
                    }
                }
            };
            // Queue them now; if the queue is unreachable the reconciler of
            // any running worker queues them (their rows say they are due).
            match super::serve::open_queue(settings).await {
                Ok(queue) => requeued.enqueue(&queue).await,
                Err(_) => {
                    eprintln!("warning: queue unreachable; running workers will pick the items up")
                }
            }
            println!(
                "retried {} item(s): {:?}",
                requeued.items.len(),
                requeued.items
            );
            if !requeued.media.is_empty() {
                println!(
                    "retried {} media file(s): {:?}",
                    requeued.media.len(),
                    requeued.media
                );
            }
            if !requeued.refreshes.is_empty() {
                println!(
                    "retried {} refresh(es): {:?}",
                    requeued.refreshes.len(),
                    requeued.refreshes
                );
            }
            ExitCode::SUCCESS
        }
    }
}
