//! Logs go to stderr (stdout is for command output), as text or JSON.

use tracing_subscriber::EnvFilter;
use vaultstream_core::Settings;
use vaultstream_core::settings::{ConfigError, LogFormat};

pub fn init(settings: &Settings) -> Result<(), ConfigError> {
    // Migration and SQL chatter is noise at `info` unless asked for by name.
    let mut directives = settings.log_level.clone();
    for quiet in ["sea_orm_migration", "sqlx"] {
        if !directives.contains(quiet) {
            directives.push_str(&format!(",{quiet}=warn"));
        }
    }
    let filter = EnvFilter::try_new(&directives).map_err(|e| ConfigError {
        key: "VAULTSTREAM_LOG_LEVEL".into(),
        message: format!("`{}` is not a log filter ({e})", settings.log_level),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = match settings.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second init (tests calling in twice) is harmless.
    let _ = result;
    Ok(())
}
