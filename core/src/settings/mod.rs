//! Settings: one struct, built in layers.
//!
//! Precedence, lowest first: built-in defaults < TOML config file <
//! `VAULTSTREAM_*` environment < command-line flags. [`SettingsSources`]
//! collects the raw layers and [`Settings::load`] turns them into typed
//! values; a bad value is a [`ConfigError`] naming the key, which the CLI
//! turns into exit code 2. Nothing here reads global state: tests build
//! settings from explicit sources.
//!
//! Layout: `keys` (the table: every key, its one default, its help),
//! `sources` (the raw layers), `parse` (typed reading by key, defaults from
//! the table; value parsers), `secret` (values that never print).

mod keys;
mod parse;
mod secret;
mod sources;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use keys::{COOKIE_PLATFORMS, ENV_PREFIX, KEYS, KeyDef};
pub use parse::parse_overrides;
use parse::{Reader, check_database_url, parse_bool, parse_http_url};
pub use secret::{Secret, redact_url};
pub use sources::{Origin, SettingsSources};
use url::Url;

use crate::platform::Platform;

/// A setting that could not be used. `key` is the environment spelling
/// (`VAULTSTREAM_BIND`) so the message tells the operator what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(name: &str, message: impl Into<String>) -> Self {
        Self {
            key: format!("{ENV_PREFIX}{name}"),
            message: message.into(),
        }
    }
}

/// How the API decides whether requests need a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    Required,
    Off,
    /// Required unless the server listens on loopback only.
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// S3/MinIO blob store settings; present only when an endpoint is set.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: Url,
    pub bucket: String,
    pub region: String,
    pub access_key: Secret<String>,
    pub secret_key: Secret<String>,
    pub public_base_url: Option<Url>,
    pub create_bucket: bool,
    pub presign_secs: u32,
}

/// How media files are downloaded and transcoded.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSettings {
    /// 0..=100; 100 encodes lossless.
    pub webp_quality: u8,
    /// libwebp method 0..=6.
    pub webp_method: u8,
    pub max_image_bytes: u64,
    pub max_pixels: u64,
    pub max_video_bytes: u64,
    pub concurrency: usize,
}

/// When and how items are fetched again (`db::refresh`).
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshSettings {
    /// Ages after the first archive at which an item is refreshed, in
    /// order; after the last, never (empty: only on request).
    pub policy: Vec<std::time::Duration>,
    pub concurrency: usize,
    /// Spacing of the second refetch that must agree before `deleted`.
    pub confirm_after_ms: u64,
    /// Scheduled refreshes are queued only while at most this many items
    /// wait for a parse.
    pub parse_backlog_max: u64,
}

/// `1h,1d,7d,30d` (units ms, s, m, h, d, w), or `off`/`never`/empty.
pub fn parse_refresh_policy(v: &str) -> Result<Vec<std::time::Duration>, String> {
    let v = v.trim();
    if v.is_empty() || v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("never") {
        return Ok(Vec::new());
    }
    let mut out: Vec<std::time::Duration> = Vec::new();
    for part in v.split(',').map(str::trim) {
        let split = part
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("`{part}` has no unit (ms, s, m, h, d, w)"))?;
        let (n, unit) = part.split_at(split);
        let n: u64 = n
            .parse()
            .map_err(|_| format!("`{part}` does not start with a number"))?;
        let ms = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(format!("`{part}`: unit is not one of ms, s, m, h, d, w")),
        };
        let d = std::time::Duration::from_millis(n.saturating_mul(ms));
        if out.last().is_some_and(|last| *last >= d) {
            return Err(format!("`{part}` is not later than the step before it"));
        }
        out.push(d);
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct TelegramSettings {
    pub bot_token: Option<Secret<String>>,
    pub api_url: Option<Url>,
    pub allowed_users: Vec<i64>,
    pub operators: Vec<i64>,
    pub default_target: Option<String>,
    /// `getUpdates`' own `timeout`: how long Telegram holds an idle poll.
    pub poll_timeout_secs: u32,
    /// Explicit time limit of one `getUpdates` request; see
    /// [`TelegramSettings::poll_client_timeout`].
    pub poll_client_timeout_secs: Option<u32>,
    /// Time limit of one send request (uploads included).
    pub send_timeout_secs: u32,
}

impl TelegramSettings {
    /// The polling client's time limit: the explicit setting, else the poll
    /// timeout + 10 s. It must exceed the poll timeout, or every idle poll
    /// ends in a client-side timeout (teloxide's default client gives up
    /// after 17 s).
    pub fn poll_client_timeout(&self) -> std::time::Duration {
        let secs = self
            .poll_client_timeout_secs
            .unwrap_or(self.poll_timeout_secs + 10);
        std::time::Duration::from_secs(u64::from(secs))
    }

    /// What is inconsistent about the polling and sending time limits (for
    /// `doctor` and the bot's start-up log); empty when all is well.
    pub fn timeout_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let poll = self.poll_timeout_secs;
        let client = self.poll_client_timeout().as_secs();
        if client <= u64::from(poll) {
            out.push(format!(
                "TELEGRAM_POLL_CLIENT_TIMEOUT_SECS ({client}) must exceed TELEGRAM_POLL_TIMEOUT_SECS ({poll}): \
                 every idle long poll would end in a client timeout and a 2 s gap"
            ));
        } else if client < u64::from(poll) + 3 {
            out.push(format!(
                "TELEGRAM_POLL_CLIENT_TIMEOUT_SECS ({client}) leaves under 3 s above the poll timeout ({poll}): \
                 a slow network turns idle polls into timeouts"
            ));
        }
        if poll == 0 {
            out.push(
                "TELEGRAM_POLL_TIMEOUT_SECS is 0: short polling asks Telegram continuously; use 25"
                    .into(),
            );
        }
        if self.send_timeout_secs < 10 {
            out.push(format!(
                "TELEGRAM_SEND_TIMEOUT_SECS ({}) is short for photo and video uploads; \
                 a send cut off mid-upload is recorded as uncertain and never retried",
                self.send_timeout_secs
            ));
        }
        out
    }
}

/// Everything VaultStream reads from its configuration, typed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Secret<String>,
    pub database_max_connections: u32,
    pub auto_migrate: Option<bool>,
    pub redis_url: Option<Secret<String>>,
    pub s3: Option<S3Settings>,
    pub telegram: TelegramSettings,
    pub auth: AuthMode,
    /// API token bucket size per key / client IP; 0 = no limit.
    pub rate_limit_burst: u32,
    /// API token refill per second; 0 = no limit.
    pub rate_limit_per_sec: u32,
    pub worker_concurrency: usize,
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub queue_namespace: String,
    pub queue_high_water: u64,
    pub lease_ms: u64,
    pub reconcile_interval_ms: u64,
    pub requeue_after_ms: u64,
    pub poll_interval_ms: u64,
    pub shutdown_timeout_ms: u64,
    pub archive_media: bool,
    pub media: MediaSettings,
    pub refresh: RefreshSettings,
    pub allow_private_targets: bool,
    /// One webhook delivery's time limit.
    pub webhook_timeout_ms: u64,
    /// The deployment's public base URL, for links in webhook bodies.
    pub public_url: Option<Url>,
    pub upstream_overrides: Vec<(String, Url)>,
    pub resolve_timeout_ms: u64,
    pub user_agent: Option<String>,
    pub cookies: BTreeMap<Platform, Secret<String>>,
    /// The login vault's key (`db::logins`); `None`: nothing can be stored.
    pub secret_key: Option<Secret<String>>,
    pub login_check_interval_secs: u64,
    pub ytdlp: String,
    pub upstream_concurrency: usize,
    pub metrics_bind: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub log_level: String,
}

impl Settings {
    /// Built-in defaults only (what a fresh machine with no settings gets).
    pub fn defaults() -> Result<Self, ConfigError> {
        Self::load(&SettingsSources::new())
    }

    pub fn load(src: &SettingsSources) -> Result<Self, ConfigError> {
        Self::read(&Reader::new(src))
    }

    /// Every key of the table is read here, through `r`, which supplies the
    /// table's default for an unset key: no default is written twice.
    fn read(r: &Reader<'_>) -> Result<Self, ConfigError> {
        let data_dir = PathBuf::from(r.value("DATA_DIR")?);
        let database_url = match r.optional("DATABASE_URL") {
            Some(url) => {
                check_database_url(url)?;
                url.to_owned()
            }
            None => default_sqlite_url(&data_dir),
        };
        let bind = r.addr("BIND")?;
        let auto_migrate = match r.value("AUTO_MIGRATE")? {
            "auto" => None,
            v => Some(parse_bool("AUTO_MIGRATE", v)?),
        };
        let redis_url = match r.optional("REDIS_URL") {
            Some(v) => {
                let url = Url::parse(v)
                    .map_err(|e| ConfigError::new("REDIS_URL", format!("not a URL ({e})")))?;
                if !matches!(url.scheme(), "redis" | "rediss") {
                    return Err(ConfigError::new(
                        "REDIS_URL",
                        "must start with redis:// or rediss://",
                    ));
                }
                Some(Secret::new(v.to_owned()))
            }
            None => None,
        };

        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Settings {
            bind,
            data_dir,
            database_url: Secret::new(database_url),
            database_max_connections: r.number("DATABASE_MAX_CONNECTIONS", 1, 1000)? as u32,
            auto_migrate,
            redis_url,
            s3: s3_settings(r)?,
            telegram: telegram_settings(r)?,
            auth: match r.value("AUTH")? {
                "auto" => AuthMode::Auto,
                "required" | "on" | "true" => AuthMode::Required,
                "off" | "false" => AuthMode::Off,
                other => {
                    return Err(ConfigError::new(
                        "AUTH",
                        format!("`{other}` is not one of required, off, auto"),
                    ));
                }
            },
            rate_limit_burst: r.number("RATE_LIMIT_BURST", 0, 1_000_000)? as u32,
            rate_limit_per_sec: r.number("RATE_LIMIT_PER_SEC", 0, 1_000_000)? as u32,
            worker_concurrency: r
                .optional_number("WORKER_CONCURRENCY", 1, 4096)?
                .map_or(2 * cores, |v| v as usize),
            max_attempts: r.number("MAX_ATTEMPTS", 1, 100)? as u32,
            backoff_base_ms: r.number("BACKOFF_BASE_MS", 0, 3_600_000)?,
            queue_namespace: match r.value("QUEUE_NAMESPACE")? {
                ns if ns
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-:.".contains(c)) =>
                {
                    ns.to_owned()
                }
                other => {
                    return Err(ConfigError::new(
                        "QUEUE_NAMESPACE",
                        format!("`{other}` may hold only letters, digits and _ - : ."),
                    ));
                }
            },
            queue_high_water: r.number("QUEUE_HIGH_WATER", 10, 1_000_000)?,
            lease_ms: r.number("LEASE_MS", 1000, 3_600_000)?,
            reconcile_interval_ms: r.number("RECONCILE_INTERVAL_MS", 50, 3_600_000)?,
            requeue_after_ms: r.number("REQUEUE_AFTER_MS", 100, 86_400_000)?,
            poll_interval_ms: r.number("POLL_INTERVAL_MS", 10, 60_000)?,
            shutdown_timeout_ms: r.number("SHUTDOWN_TIMEOUT_MS", 0, 3_600_000)?,
            archive_media: r.boolean("ARCHIVE_MEDIA")?,
            media: MediaSettings {
                webp_quality: r.number("WEBP_QUALITY", 0, 100)? as u8,
                webp_method: r.number("WEBP_METHOD", 0, 6)? as u8,
                max_image_bytes: r.number("MEDIA_MAX_IMAGE_BYTES", 1024, 1 << 34)?,
                max_pixels: r.number("MEDIA_MAX_PIXELS", 1, 1_000_000_000)?,
                max_video_bytes: r.number("MEDIA_MAX_VIDEO_BYTES", 1024, 1 << 42)?,
                concurrency: r
                    .optional_number("MEDIA_CONCURRENCY", 1, 1024)?
                    .map_or(cores, |v| v as usize),
            },
            refresh: RefreshSettings {
                policy: r
                    .optional_with("REFRESH_POLICY", parse_refresh_policy)?
                    .unwrap_or_default(),
                concurrency: r.number("REFRESH_CONCURRENCY", 1, 1024)? as usize,
                confirm_after_ms: r.number("REFRESH_CONFIRM_AFTER_MS", 0, 30 * 86_400_000)?,
                parse_backlog_max: r.number("REFRESH_PARSE_BACKLOG_MAX", 0, 1_000_000)?,
            },
            allow_private_targets: r.boolean("ALLOW_PRIVATE_TARGETS")?,
            webhook_timeout_ms: r.number("WEBHOOK_TIMEOUT_MS", 100, 300_000)?,
            public_url: r.optional_http_url("PUBLIC_URL")?,
            upstream_overrides: r
                .optional_with("UPSTREAM_OVERRIDES", parse_overrides)?
                .unwrap_or_default(),
            resolve_timeout_ms: r.number("RESOLVE_TIMEOUT_MS", 100, 120_000)?,
            user_agent: r.optional("USER_AGENT").map(str::to_owned),
            cookies: COOKIE_PLATFORMS
                .iter()
                .filter_map(|p| {
                    let value = r.optional(&format!("{}{p}", keys::COOKIES_PREFIX))?;
                    let platform = Platform::from_str(p).ok()?;
                    Some((platform, Secret::new(value.to_owned())))
                })
                .collect(),
            secret_key: match r.optional("SECRET_KEY") {
                Some(k) if k.chars().count() < 16 => {
                    return Err(ConfigError::new(
                        "SECRET_KEY",
                        "is too short: use at least 16 characters (e.g. `openssl rand -base64 32`)",
                    ));
                }
                k => k.map(|k| Secret::new(k.to_owned())),
            },
            login_check_interval_secs: r.number("LOGIN_CHECK_INTERVAL_SECS", 1, 7 * 86_400)?,
            ytdlp: r.value("YTDLP")?.to_owned(),
            metrics_bind: r.optional_addr("METRICS_BIND")?,
            upstream_concurrency: r.number("UPSTREAM_CONCURRENCY", 1, 1024)? as usize,
            log_format: match r.value("LOG_FORMAT")? {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(ConfigError::new(
                        "LOG_FORMAT",
                        format!("`{other}` is not text or json"),
                    ));
                }
            },
            log_level: r.value("LOG_LEVEL")?.to_owned(),
        })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose().starts_with("sqlite:")
    }

    /// Whether `all`/`api`/`worker` apply migrations on start.
    pub fn migrate_on_start(&self) -> bool {
        self.auto_migrate.unwrap_or_else(|| self.is_sqlite())
    }

    /// Whether the API limits request rates (both rate settings non-zero).
    pub fn rate_limited(&self) -> bool {
        self.rate_limit_burst > 0 && self.rate_limit_per_sec > 0
    }

    /// Whether the API must check keys, given where it listens.
    pub fn auth_required(&self) -> bool {
        match self.auth {
            AuthMode::Required => true,
            AuthMode::Off => false,
            AuthMode::Auto => !self.bind.ip().is_loopback(),
        }
    }
}

fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}/vaultstream.db?mode=rwc", data_dir.display())
}

fn s3_settings(r: &Reader<'_>) -> Result<Option<S3Settings>, ConfigError> {
    let Some(endpoint) = r.optional("S3_ENDPOINT") else {
        return Ok(None);
    };
    let endpoint = parse_http_url("S3_ENDPOINT", endpoint)?;
    // Set to an empty value is not set, even where the table has a default.
    let need = |name: &str| {
        r.optional(name).map(str::to_owned).ok_or_else(|| {
            ConfigError::new(name, "must be set when VAULTSTREAM_S3_ENDPOINT is set")
        })
    };
    Ok(Some(S3Settings {
        endpoint,
        bucket: need("S3_BUCKET")?,
        region: need("S3_REGION")?,
        access_key: Secret::new(need("S3_ACCESS_KEY")?),
        secret_key: Secret::new(need("S3_SECRET_KEY")?),
        public_base_url: r.optional_http_url("S3_PUBLIC_BASE_URL")?,
        create_bucket: r.boolean("S3_CREATE_BUCKET")?,
        presign_secs: r.number("S3_PRESIGN_SECS", 1, 604_800)? as u32,
    }))
}

fn telegram_settings(r: &Reader<'_>) -> Result<TelegramSettings, ConfigError> {
    Ok(TelegramSettings {
        bot_token: r
            .optional("TELEGRAM_BOT_TOKEN")
            .map(|t| Secret::new(t.to_owned())),
        api_url: r.optional_http_url("TELEGRAM_API_URL")?,
        allowed_users: r.ids("TELEGRAM_ALLOWED_USERS")?,
        operators: r.ids("TELEGRAM_OPERATORS")?,
        default_target: r.optional("TELEGRAM_DEFAULT_TARGET").map(str::to_owned),
        poll_timeout_secs: r.number("TELEGRAM_POLL_TIMEOUT_SECS", 0, 600)? as u32,
        poll_client_timeout_secs: r
            .optional_number("TELEGRAM_POLL_CLIENT_TIMEOUT_SECS", 1, 3600)?
            .map(|v| v as u32),
        send_timeout_secs: r.number("TELEGRAM_SEND_TIMEOUT_SECS", 1, 3600)? as u32,
    })
}

#[cfg(test)]
mod tests;
