//! `migrate up|down|status`.

use std::process::ExitCode;

use clap::Subcommand;
use vaultstream_core::Settings;
use vaultstream_core::db;

use super::EXIT_RUNTIME;

#[derive(Debug, Clone, Subcommand)]
pub enum Action {
    /// Apply every pending migration (the default).
    Up,
    /// Roll back the most recent migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// Show each migration and whether it is applied.
    Status,
}

pub async fn run(settings: &Settings, action: Option<Action>) -> ExitCode {
    let database = match db::connect(settings).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("vaultstream: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let result = match action.unwrap_or(Action::Up) {
        Action::Up => db::migrate_up(&database).await.map(|()| {
            println!("schema is up to date");
        }),
        Action::Down { steps } => db::migrate_down(&database, steps).await.map(|()| {
            println!("rolled back {steps} migration(s)");
        }),
        Action::Status => db::migration_status(&database).await.map(|list| {
            for (name, applied) in list {
                println!("{}  {name}", if applied { "applied" } else { "pending" });
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vaultstream: migration failed: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
