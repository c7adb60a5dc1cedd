//! The command tree. Settings are assembled here from the layers (defaults <
//! config file < environment < flags) and handed to each command.

mod dlq;
mod doctor;
mod export;
mod feeds;
mod import;
mod import_submit;
mod keys;
mod logging;
mod logins;
mod migrate;
mod progress;
mod refresh;
mod search;
mod serve;
mod submit;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use vaultstream_core::Settings;
use vaultstream_core::settings::{ConfigError, SettingsSources};

/// Exit codes of the contract.
pub const EXIT_RUNTIME: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "vaultstream",
    version,
    about = "Archive what people share: share links in, platform items with media out.",
    long_about = "Archive what people share: submit share links (Bilibili, Twitter/X, Weibo, \
Xiaohongshu, Zhihu, Douyin, YouTube or any web page) over REST, the CLI or Telegram; \
VaultStream stores each piece of content once and archives it.\n\n\
Settings come from built-in defaults < a TOML config file < VAULTSTREAM_* environment \
variables < flags. Every key is listed in .env.example.",
    propagate_version = true
)]
pub struct Cli {
    /// TOML config file (keys as in .env.example, lower case, without the prefix).
    #[arg(long, global = true, env = "VAULTSTREAM_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (VAULTSTREAM_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… (VAULTSTREAM_DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// HTTP listen address (VAULTSTREAM_BIND).
    #[arg(long, global = true, value_name = "HOST:PORT")]
    bind: Option<String>,
    /// Set any setting, e.g. --set max_attempts=5 (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// API + workers + bot (bot only when a token is set). The default.
    All,
    /// Serve the REST API only.
    Api,
    /// Run job workers only.
    Worker,
    /// Run the Telegram bot only.
    Bot,
    /// Apply, roll back or show schema migrations.
    Migrate {
        #[command(subcommand)]
        action: Option<migrate::Action>,
    },
    /// Submit links or whole share texts from a shell ("-" reads stdin).
    Submit(submit::Args),
    /// Search the archive (`search reindex` rebuilds the index).
    Search(search::Args),
    /// Write every item, its sources, history and media files to a
    /// directory or a .tar, in an open layout (items.jsonl, blobs/,
    /// manifest.json).
    Export(export::Args),
    /// Import: our own export (restored whole), browser bookmarks (HTML),
    /// Pocket's CSV, Karakeep/Linkwarden/Omnivore JSON or a list of links;
    /// a CSV report of every entry's outcome.
    Import(import::Args),
    /// Fetch items again now (re-archive; upstream state; stats history).
    Refresh(refresh::Args),
    /// The dead-letter queue: failed jobs waiting for an operator.
    Dlq {
        #[command(subcommand)]
        action: dlq::Action,
    },
    /// API keys for the REST API.
    Keys {
        #[command(subcommand)]
        action: keys::Action,
    },
    /// RSS, Atom and JSON feeds of the archive, each behind its own revocable token.
    Feeds {
        #[command(subcommand)]
        action: feeds::Action,
    },
    /// Platform logins: store cookies (encrypted), check them, log in by QR code.
    Logins {
        #[command(subcommand)]
        action: logins::Action,
    },
    /// Check the settings and every dependency; print what is wrong and how to fix it.
    Doctor,
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.as_ref().unwrap_or(&Command::All);
    if let Command::Completions { shell } = command {
        clap_complete::generate(
            *shell,
            &mut Cli::command(),
            "vaultstream",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let (settings, sources) = match load_settings(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vaultstream: bad configuration: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Err(e) = logging::init(&settings) {
        eprintln!("vaultstream: bad configuration: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    for key in &sources.unknown_env {
        tracing::warn!(key = %key, "unknown setting in the environment; is it a typo? (see .env.example)");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vaultstream: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    runtime.block_on(async move {
        match command {
            Command::All => serve::run(settings, serve::Roles::all()).await,
            Command::Api => serve::run(settings, serve::Roles::api()).await,
            Command::Worker => serve::run(settings, serve::Roles::worker()).await,
            Command::Bot => {
                if settings.telegram.bot_token.is_none() {
                    eprintln!(
                        "vaultstream: VAULTSTREAM_TELEGRAM_BOT_TOKEN: the bot needs a token (from @BotFather)"
                    );
                    return ExitCode::from(EXIT_USAGE);
                }
                serve::run(settings, serve::Roles::bot()).await
            }
            Command::Migrate { action } => migrate::run(&settings, action.clone()).await,
            Command::Submit(args) => submit::run(&settings, args).await,
            Command::Search(args) => search::run(&settings, args).await,
            Command::Export(args) => export::run(&settings, args).await,
            Command::Import(args) => import::run(&settings, args).await,
            Command::Refresh(args) => refresh::run(&settings, args).await,
            Command::Dlq { action } => dlq::run(&settings, action).await,
            Command::Keys { action } => keys::run(&settings, action).await,
            Command::Feeds { action } => feeds::run(&settings, action).await,
            Command::Logins { action } => logins::run(&settings, action).await,
            Command::Doctor => doctor::run(&settings, &sources).await,
            Command::Completions { .. } => ExitCode::SUCCESS,
        }
    })
}

fn load_settings(cli: &Cli) -> Result<(Settings, SettingsSources), ConfigError> {
    let mut src = SettingsSources::new();
    if let Some(file) = &cli.config {
        src = src.with_file(file)?;
    }
    src = src.with_env(std::env::vars());
    if let Some(d) = &cli.data_dir {
        src = src.with_flag("DATA_DIR", d.display().to_string())?;
    }
    if let Some(u) = &cli.database_url {
        src = src.with_flag("DATABASE_URL", u.clone())?;
    }
    if let Some(b) = &cli.bind {
        src = src.with_flag("BIND", b.clone())?;
    }
    for pair in &cli.set {
        let (k, v) = pair.split_once('=').ok_or_else(|| ConfigError {
            key: "--set".into(),
            message: format!("`{pair}` is not KEY=VALUE"),
        })?;
        src = src.with_flag(k, v)?;
    }
    let settings = Settings::load(&src)?;
    Ok((settings, src))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
