//! Settings: one struct, built in layers.
//!
//! Precedence, lowest first: built-in defaults < TOML config file <
//! `VAULTSTREAM_*` environment < command-line flags. [`SettingsSources`]
//! collects the raw layers and [`Settings::load`] turns them into typed
//! values; a bad value is a [`ConfigError`] naming the key, which the CLI
//! turns into exit code 2. Nothing here reads global state: tests build
//! settings from explicit sources.

mod keys;
mod secret;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use keys::{COOKIE_PLATFORMS, ENV_PREFIX, KEYS, KeyDef};
pub use secret::{Secret, redact_url};
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

/// Where a raw value came from (for `doctor` and error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    File,
    Env,
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Default => "default",
            Origin::File => "config file",
            Origin::Env => "environment",
            Origin::Flag => "flag",
        })
    }
}

/// The raw layers, before parsing. Later layers win.
#[derive(Debug, Default, Clone)]
pub struct SettingsSources {
    values: BTreeMap<String, (String, Origin)>,
    /// `VAULTSTREAM_*` variables we do not know: probably typos, reported
    /// as warnings once logging is up.
    pub unknown_env: Vec<String>,
}

impl SettingsSources {
    pub fn new() -> Self {
        Self::default()
    }

    /// Read a TOML config file. Keys are the setting names in lower case,
    /// top level or in tables (`[s3] endpoint` is `S3_ENDPOINT`). An unknown
    /// key is an error: a typo in a config file must not be silently ignored.
    pub fn with_file(mut self, path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new("CONFIG", format!("cannot read {}: {e}", path.display()))
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            ConfigError::new(
                "CONFIG",
                format!("{} is not valid TOML: {e}", path.display()),
            )
        })?;
        let mut flat = Vec::new();
        flatten_toml("", &table, &mut flat)
            .map_err(|(k, m)| ConfigError::new(&k, format!("in {}: {m}", path.display())))?;
        for (name, value) in flat {
            if !keys::is_known(&name) {
                return Err(ConfigError::new(
                    &name,
                    format!(
                        "unknown setting `{}` in {}",
                        name.to_lowercase(),
                        path.display()
                    ),
                ));
            }
            self.values.insert(name, (value, Origin::File));
        }
        Ok(self)
    }

    /// Take `VAULTSTREAM_*` variables from an environment.
    pub fn with_env<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (k, v) in vars {
            let Some(name) = k.as_ref().strip_prefix(ENV_PREFIX) else {
                continue;
            };
            // VAULTSTREAM_CONFIG names the file; the CLI reads it itself.
            // VAULTSTREAM_TEST_FAILPOINTS is read by `failpoint`, in tests only.
            if name == "CONFIG" || name == crate::failpoint::ENV_NAME {
                continue;
            }
            if keys::is_known(name) {
                self.values
                    .insert(name.to_owned(), (v.as_ref().to_owned(), Origin::Env));
            } else {
                self.unknown_env.push(k.as_ref().to_owned());
            }
        }
        self
    }

    /// A value from a command-line flag. `name` may be given as `bind`,
    /// `BIND` or `VAULTSTREAM_BIND`.
    pub fn with_flag(mut self, name: &str, value: impl Into<String>) -> Result<Self, ConfigError> {
        let upper = name.trim().to_ascii_uppercase().replace('-', "_");
        let name = upper.strip_prefix(ENV_PREFIX).unwrap_or(&upper).to_owned();
        if !keys::is_known(&name) {
            return Err(ConfigError::new(&name, "unknown setting"));
        }
        self.values.insert(name, (value.into(), Origin::Flag));
        Ok(self)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(|(v, _)| v.as_str())
            .or_else(|| keys::find(name).and_then(|k| k.default))
    }

    /// Like `get`, but an empty string counts as unset (`FOO=` in an env file).
    fn get_nonempty(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Where each set value came from, secrets redacted: for `doctor`.
    pub fn describe(&self) -> Vec<(String, String, Origin)> {
        KEYS.iter()
            .map(|k| k.name.to_owned())
            .chain(
                self.values
                    .keys()
                    .filter(|k| keys::find(k).is_none())
                    .cloned(),
            )
            .map(|name| {
                let (value, origin) = match self.values.get(&name) {
                    Some((v, o)) => (v.clone(), *o),
                    None => (
                        keys::find(&name)
                            .and_then(|k| k.default)
                            .unwrap_or("")
                            .to_owned(),
                        Origin::Default,
                    ),
                };
                let shown = if keys::is_secret(&name) && !value.is_empty() {
                    if name.ends_with("_URL") {
                        redact_url(&value)
                    } else {
                        "[redacted]".to_owned()
                    }
                } else {
                    value
                };
                (format!("{ENV_PREFIX}{name}"), shown, origin)
            })
            .collect()
    }
}

fn flatten_toml(
    prefix: &str,
    table: &toml::Table,
    out: &mut Vec<(String, String)>,
) -> Result<(), (String, String)> {
    for (k, v) in table {
        let name = if prefix.is_empty() {
            k.to_ascii_uppercase()
        } else {
            format!("{prefix}_{}", k.to_ascii_uppercase())
        };
        let value = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        toml::Value::String(s) => parts.push(s.clone()),
                        toml::Value::Integer(i) => parts.push(i.to_string()),
                        _ => {
                            return Err((name, "lists may hold only strings and integers".into()));
                        }
                    }
                }
                parts.join(",")
            }
            toml::Value::Table(t) => {
                flatten_toml(&name, t, out)?;
                continue;
            }
            toml::Value::Datetime(_) => return Err((name, "dates are not a valid setting".into())),
        };
        out.push((name, value));
    }
    Ok(())
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
    pub allow_private_targets: bool,
    pub upstream_overrides: Vec<(String, Url)>,
    pub resolve_timeout_ms: u64,
    pub user_agent: Option<String>,
    pub cookies: BTreeMap<Platform, Secret<String>>,
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
        let data_dir = PathBuf::from(src.get_nonempty("DATA_DIR").unwrap_or("./data"));
        let database_url = match src.get_nonempty("DATABASE_URL") {
            Some(url) => {
                check_database_url(url)?;
                url.to_owned()
            }
            None => default_sqlite_url(&data_dir),
        };
        let bind = parse_with(src, "BIND", |v| {
            v.parse::<SocketAddr>()
                .map_err(|e| format!("`{v}` is not host:port ({e})"))
        })?
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));

        let auto_migrate = match src.get_nonempty("AUTO_MIGRATE") {
            None | Some("auto") => None,
            Some(v) => Some(parse_bool("AUTO_MIGRATE", v)?),
        };
        let redis_url = match src.get_nonempty("REDIS_URL") {
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
            database_max_connections: parse_range(src, "DATABASE_MAX_CONNECTIONS", 1, 1000)?
                .unwrap_or(16) as u32,
            auto_migrate,
            redis_url,
            s3: s3_settings(src)?,
            telegram: telegram_settings(src)?,
            auth: match src.get_nonempty("AUTH").unwrap_or("auto") {
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
            rate_limit_burst: parse_range(src, "RATE_LIMIT_BURST", 0, 1_000_000)?.unwrap_or(300)
                as u32,
            rate_limit_per_sec: parse_range(src, "RATE_LIMIT_PER_SEC", 0, 1_000_000)?.unwrap_or(75)
                as u32,
            worker_concurrency: parse_range(src, "WORKER_CONCURRENCY", 1, 4096)?
                .map_or(2 * cores, |v| v as usize),
            max_attempts: parse_range(src, "MAX_ATTEMPTS", 1, 100)?.unwrap_or(3) as u32,
            backoff_base_ms: parse_range(src, "BACKOFF_BASE_MS", 0, 3_600_000)?.unwrap_or(1000),
            queue_namespace: match src.get_nonempty("QUEUE_NAMESPACE").unwrap_or("vaultstream") {
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
            queue_high_water: parse_range(src, "QUEUE_HIGH_WATER", 10, 1_000_000)?.unwrap_or(5000),
            lease_ms: parse_range(src, "LEASE_MS", 1000, 3_600_000)?.unwrap_or(60_000),
            reconcile_interval_ms: parse_range(src, "RECONCILE_INTERVAL_MS", 50, 3_600_000)?
                .unwrap_or(5000),
            requeue_after_ms: parse_range(src, "REQUEUE_AFTER_MS", 100, 86_400_000)?
                .unwrap_or(60_000),
            poll_interval_ms: parse_range(src, "POLL_INTERVAL_MS", 10, 60_000)?.unwrap_or(250),
            shutdown_timeout_ms: parse_range(src, "SHUTDOWN_TIMEOUT_MS", 0, 3_600_000)?
                .unwrap_or(30_000),
            archive_media: parse_bool("ARCHIVE_MEDIA", src.get("ARCHIVE_MEDIA").unwrap_or("true"))?,
            media: MediaSettings {
                webp_quality: parse_range(src, "WEBP_QUALITY", 0, 100)?.unwrap_or(80) as u8,
                webp_method: parse_range(src, "WEBP_METHOD", 0, 6)?.unwrap_or(4) as u8,
                max_image_bytes: parse_range(src, "MEDIA_MAX_IMAGE_BYTES", 1024, 1 << 34)?
                    .unwrap_or(50 << 20),
                max_pixels: parse_range(src, "MEDIA_MAX_PIXELS", 1, 1_000_000_000)?
                    .unwrap_or(100_000_000),
                max_video_bytes: parse_range(src, "MEDIA_MAX_VIDEO_BYTES", 1024, 1 << 42)?
                    .unwrap_or(2 << 30),
                concurrency: parse_range(src, "MEDIA_CONCURRENCY", 1, 1024)?
                    .map_or(cores, |v| v as usize),
            },
            allow_private_targets: parse_bool(
                "ALLOW_PRIVATE_TARGETS",
                src.get("ALLOW_PRIVATE_TARGETS").unwrap_or("false"),
            )?,
            upstream_overrides: match src.get_nonempty("UPSTREAM_OVERRIDES") {
                Some(v) => {
                    parse_overrides(v).map_err(|m| ConfigError::new("UPSTREAM_OVERRIDES", m))?
                }
                None => Vec::new(),
            },
            resolve_timeout_ms: parse_range(src, "RESOLVE_TIMEOUT_MS", 100, 120_000)?
                .unwrap_or(5000),
            user_agent: src.get_nonempty("USER_AGENT").map(str::to_owned),
            cookies: COOKIE_PLATFORMS
                .iter()
                .filter_map(|p| {
                    let value = src.get_nonempty(&format!("{}{p}", keys::COOKIES_PREFIX))?;
                    let platform = Platform::from_str(p).ok()?;
                    Some((platform, Secret::new(value.to_owned())))
                })
                .collect(),
            ytdlp: src.get_nonempty("YTDLP").unwrap_or("yt-dlp").to_owned(),
            metrics_bind: parse_with(src, "METRICS_BIND", |v| {
                v.parse::<SocketAddr>()
                    .map_err(|e| format!("`{v}` is not host:port ({e})"))
            })?,
            upstream_concurrency: parse_range(src, "UPSTREAM_CONCURRENCY", 1, 1024)?.unwrap_or(8)
                as usize,
            log_format: match src.get_nonempty("LOG_FORMAT").unwrap_or("text") {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => {
                    return Err(ConfigError::new(
                        "LOG_FORMAT",
                        format!("`{other}` is not text or json"),
                    ));
                }
            },
            log_level: src.get_nonempty("LOG_LEVEL").unwrap_or("info").to_owned(),
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

fn check_database_url(v: &str) -> Result<(), ConfigError> {
    let ok =
        v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://");
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "DATABASE_URL",
            format!(
                "`{}` is neither sqlite://PATH nor postgres://…",
                redact_url(v)
            ),
        ))
    }
}

fn parse_with<T>(
    src: &SettingsSources,
    name: &str,
    f: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    src.get_nonempty(name)
        .map(f)
        .transpose()
        .map_err(|m| ConfigError::new(name, m))
}

fn parse_range(
    src: &SettingsSources,
    name: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ConfigError> {
    parse_with(src, name, |v| match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is outside {min}..={max}")),
        Err(_) => Err(format!("`{v}` is not a whole number")),
    })
}

fn parse_bool(name: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        other => Err(ConfigError::new(
            name,
            format!("`{other}` is not a boolean (true/false)"),
        )),
    }
}

fn parse_id_list(name: &str, v: &str) -> Result<Vec<i64>, ConfigError> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| ConfigError::new(name, format!("`{s}` is not a Telegram user id")))
        })
        .collect()
}

fn parse_http_url(name: &str, v: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(v).map_err(|e| ConfigError::new(name, format!("`{v}` is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(
            name,
            format!("`{v}` is not an http(s) URL"),
        ));
    }
    Ok(url)
}

/// `host=base-url` pairs, comma separated, as in
/// `VAULTSTREAM_UPSTREAM_OVERRIDES`. Hosts are compared in lower case without
/// a trailing dot. Errors name the offending entry.
pub fn parse_overrides(v: &str) -> Result<Vec<(String, Url)>, String> {
    let mut out: Vec<(String, Url)> = Vec::new();
    for entry in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, base) = entry
            .split_once('=')
            .ok_or_else(|| format!("override `{entry}` is not of the form host=base-url"))?;
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            return Err(format!("override `{entry}`: `{host}` is not a host name"));
        }
        let base = Url::parse(base.trim())
            .map_err(|e| format!("override `{entry}`: bad base URL: {e}"))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err(format!(
                "override `{entry}`: base URL must be http(s) with a host"
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            // The original query is kept on rewrite; a base query would have
            // to be merged, which nobody needs.
            return Err(format!(
                "override `{entry}`: base URL must not have a query or fragment"
            ));
        }
        if out.iter().any(|(h, _)| *h == host) {
            return Err(format!("override for `{host}` given twice"));
        }
        out.push((host, base));
    }
    Ok(out)
}

fn s3_settings(src: &SettingsSources) -> Result<Option<S3Settings>, ConfigError> {
    let Some(endpoint) = src.get_nonempty("S3_ENDPOINT") else {
        return Ok(None);
    };
    let endpoint = parse_http_url("S3_ENDPOINT", endpoint)?;
    let need = |name: &str| {
        src.get_nonempty(name).map(str::to_owned).ok_or_else(|| {
            ConfigError::new(name, "must be set when VAULTSTREAM_S3_ENDPOINT is set")
        })
    };
    Ok(Some(S3Settings {
        endpoint,
        bucket: need("S3_BUCKET")?,
        region: need("S3_REGION")?,
        access_key: Secret::new(need("S3_ACCESS_KEY")?),
        secret_key: Secret::new(need("S3_SECRET_KEY")?),
        public_base_url: src
            .get_nonempty("S3_PUBLIC_BASE_URL")
            .map(|v| parse_http_url("S3_PUBLIC_BASE_URL", v))
            .transpose()?,
        create_bucket: parse_bool(
            "S3_CREATE_BUCKET",
            src.get("S3_CREATE_BUCKET").unwrap_or("true"),
        )?,
        presign_secs: parse_range(src, "S3_PRESIGN_SECS", 1, 604_800)?.unwrap_or(3600) as u32,
    }))
}

fn telegram_settings(src: &SettingsSources) -> Result<TelegramSettings, ConfigError> {
    Ok(TelegramSettings {
        bot_token: src
            .get_nonempty("TELEGRAM_BOT_TOKEN")
            .map(|t| Secret::new(t.to_owned())),
        api_url: src
            .get_nonempty("TELEGRAM_API_URL")
            .map(|v| parse_http_url("TELEGRAM_API_URL", v))
            .transpose()?,
        allowed_users: parse_id_list(
            "TELEGRAM_ALLOWED_USERS",
            src.get("TELEGRAM_ALLOWED_USERS").unwrap_or(""),
        )?,
        operators: parse_id_list(
            "TELEGRAM_OPERATORS",
            src.get("TELEGRAM_OPERATORS").unwrap_or(""),
        )?,
        default_target: src
            .get_nonempty("TELEGRAM_DEFAULT_TARGET")
            .map(str::to_owned),
        poll_timeout_secs: parse_range(src, "TELEGRAM_POLL_TIMEOUT_SECS", 0, 600)?.unwrap_or(25)
            as u32,
        poll_client_timeout_secs: parse_range(src, "TELEGRAM_POLL_CLIENT_TIMEOUT_SECS", 1, 3600)?
            .map(|v| v as u32),
        send_timeout_secs: parse_range(src, "TELEGRAM_SEND_TIMEOUT_SECS", 1, 3600)?.unwrap_or(30)
            as u32,
    })
}

#[cfg(test)]
mod tests;
