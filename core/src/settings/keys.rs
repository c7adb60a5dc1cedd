//! Every setting VaultStream reads: its key, default and meaning.
//!
//! This table is the single list of settings and the only place a default
//! is written. The loader accepts exactly these keys (plus
//! `COOKIES_<PLATFORM>`) and takes an unset key's default from here (a test
//! checks that it reads every key and that every default parses);
//! `.env.example` documents exactly these keys with these defaults (a test
//! compares them), and `doctor` prints them.

/// One setting. `name` is the key without the `VAULTSTREAM_` prefix; in a
/// TOML file it is written in lower case (`bind = "..."`), or as a table
/// (`[s3] endpoint = "..."` is `S3_ENDPOINT`).
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub name: &'static str,
    /// The value an unset key takes (also shown in `.env.example`); `None`:
    /// unset, or computed by the loader (e.g. from the number of cores).
    pub default: Option<&'static str>,
    pub secret: bool,
    pub help: &'static str,
}

const fn key(name: &'static str, default: Option<&'static str>, help: &'static str) -> KeyDef {
    KeyDef {
        name,
        default,
        secret: false,
        help,
    }
}

const fn secret(name: &'static str, help: &'static str) -> KeyDef {
    KeyDef {
        name,
        default: None,
        secret: true,
        help,
    }
}

pub const ENV_PREFIX: &str = "VAULTSTREAM_";

/// Per-platform login cookies: `VAULTSTREAM_COOKIES_<PLATFORM>`.
pub const COOKIES_PREFIX: &str = "COOKIES_";

pub const KEYS: &[KeyDef] = &[
    key(
        "BIND",
        Some("127.0.0.1:8080"),
        "HTTP listen address (host:port).",
    ),
    key(
        "DATA_DIR",
        Some("./data"),
        "Directory for the embedded database, local blobs and the embedded queue.",
    ),
    secret(
        "DATABASE_URL",
        "Database URL: sqlite://PATH or postgres://user:pass@host/db. Unset: sqlite://<data_dir>/vaultstream.db (WAL).",
    ),
    key(
        "DATABASE_MAX_CONNECTIONS",
        Some("16"),
        "Connection pool size per process.",
    ),
    key(
        "AUTO_MIGRATE",
        Some("auto"),
        "Apply pending migrations when all/api/worker start: true, false, or auto (true for SQLite, false for PostgreSQL, where `vaultstream migrate up` is a deploy step).",
    ),
    secret(
        "REDIS_URL",
        "redis://host:port/db selects the Redis queue. Unset: the embedded queue on the database.",
    ),
    key(
        "S3_ENDPOINT",
        None,
        "S3/MinIO endpoint URL (path-style). Unset: blobs on local disk under the data dir.",
    ),
    key("S3_BUCKET", Some("vaultstream"), "S3 bucket."),
    key(
        "S3_REGION",
        Some("us-east-1"),
        "S3 region used for signing.",
    ),
    secret("S3_ACCESS_KEY", "S3 access key id."),
    secret("S3_SECRET_KEY", "S3 secret access key."),
    key(
        "S3_PUBLIC_BASE_URL",
        None,
        "Public base URL of the bucket; unset: blob URLs are presigned.",
    ),
    key(
        "S3_CREATE_BUCKET",
        Some("true"),
        "Create the bucket on start when it does not exist (needs the permission).",
    ),
    key(
        "S3_PRESIGN_SECS",
        Some("3600"),
        "Lifetime of presigned blob URLs, in seconds.",
    ),
    secret("TELEGRAM_BOT_TOKEN", "Telegram bot token; unset: no bot."),
    key(
        "TELEGRAM_API_URL",
        Some("https://api.telegram.org"),
        "Bot API base URL (tests point it at a fake Bot API).",
    ),
    key(
        "TELEGRAM_ALLOWED_USERS",
        Some(""),
        "Comma-separated Telegram user ids that may submit.",
    ),
    key(
        "TELEGRAM_OPERATORS",
        Some(""),
        "Comma-separated Telegram user ids that may operate (retry, targets).",
    ),
    key(
        "TELEGRAM_DEFAULT_TARGET",
        None,
        "Chat id or @channel that /get pushes to.",
    ),
    key(
        "TELEGRAM_POLL_TIMEOUT_SECS",
        Some("25"),
        "How long one getUpdates long poll waits for a message, in seconds (0 = short polling).",
    ),
    key(
        "TELEGRAM_POLL_CLIENT_TIMEOUT_SECS",
        None,
        "Time limit of one getUpdates HTTP request, in seconds; must exceed the poll timeout. Unset: the poll timeout + 10.",
    ),
    key(
        "TELEGRAM_SEND_TIMEOUT_SECS",
        Some("30"),
        "Time limit of one send (message, photo, album, video upload) to Telegram, in seconds.",
    ),
    key(
        "AUTH",
        Some("auto"),
        "API authentication: required, off, or auto (required unless bound to loopback).",
    ),
    key(
        "RATE_LIMIT_BURST",
        Some("300"),
        "API rate limit per key (per client IP when auth is off): requests allowed in a burst. 0 disables the limit.",
    ),
    key(
        "RATE_LIMIT_PER_SEC",
        Some("75"),
        "API rate limit: sustained requests per second per key or client IP. 0 disables the limit. Counted in memory, per API process.",
    ),
    key(
        "WORKER_CONCURRENCY",
        None,
        "Jobs in flight per worker process. Unset: 2 x CPU cores.",
    ),
    key(
        "MAX_ATTEMPTS",
        Some("3"),
        "Attempts per job before it is dead-lettered.",
    ),
    key(
        "BACKOFF_BASE_MS",
        Some("1000"),
        "Retry backoff base: base x 2^attempt milliseconds, with jitter.",
    ),
    key(
        "QUEUE_NAMESPACE",
        Some("vaultstream"),
        "Prefix of the queue's Redis keys / embedded queue names (one namespace per deployment).",
    ),
    key(
        "QUEUE_HIGH_WATER",
        Some("5000"),
        "Most jobs kept waiting in a Redis queue; beyond it new items wait in the database and the reconciler feeds them in as the queue drains.",
    ),
    key(
        "LEASE_MS",
        Some("60000"),
        "How long a worker owns an item it works on; renewed while it works. A crashed worker's items come back after this.",
    ),
    key(
        "RECONCILE_INTERVAL_MS",
        Some("5000"),
        "How often each worker looks for items that are due but not queued (lost messages, expired leases).",
    ),
    key(
        "REQUEUE_AFTER_MS",
        Some("60000"),
        "An item due and unqueued for this long is queued again by the reconciler.",
    ),
    key(
        "POLL_INTERVAL_MS",
        Some("250"),
        "How often an idle worker asks the queue for jobs.",
    ),
    key(
        "SHUTDOWN_TIMEOUT_MS",
        Some("30000"),
        "On SIGTERM, how long in-flight jobs may take to finish.",
    ),
    key(
        "ARCHIVE_MEDIA",
        Some("true"),
        "Download and transcode media.",
    ),
    key(
        "WEBP_QUALITY",
        Some("80"),
        "WebP quality (0-100) for archived images; 100 = lossless.",
    ),
    key(
        "WEBP_METHOD",
        Some("4"),
        "libwebp effort (0 fastest .. 6 smallest).",
    ),
    key(
        "MEDIA_MAX_IMAGE_BYTES",
        Some("52428800"),
        "Largest image download, in bytes (50 MiB).",
    ),
    key(
        "MEDIA_MAX_PIXELS",
        Some("100000000"),
        "Largest image, in pixels (width x height); larger ones are refused before decoding.",
    ),
    key(
        "MEDIA_MAX_VIDEO_BYTES",
        Some("2147483648"),
        "Largest video download, in bytes (2 GiB).",
    ),
    key(
        "MEDIA_CONCURRENCY",
        None,
        "Media jobs (downloads, transcodes) in flight per worker process. Unset: the number of CPU cores.",
    ),
    secret(
        "SECRET_KEY",
        "Key that encrypts stored logins (`vaultstream logins`) at rest; at least 16 characters. Unset: logins cannot be stored (environment cookies still work). Keep it: a different key is refused at start-up.",
    ),
    key(
        "LOGIN_CHECK_INTERVAL_SECS",
        Some("1800"),
        "How often the worker checks each platform login (stored or from the environment) with a cheap authenticated request, in seconds.",
    ),
    key(
        "ALLOW_PRIVATE_TARGETS",
        Some("false"),
        "Let generic links and webhook targets reach loopback/private hosts (tests only).",
    ),
    key(
        "WEBHOOK_TIMEOUT_MS",
        Some("10000"),
        "Time limit of one webhook delivery (connect, send, answer); a timeout is retried with backoff.",
    ),
    key(
        "PUBLIC_URL",
        None,
        "This deployment's public base URL (https://vault.example.com): webhook bodies link the archived files under it. Unset: their links are relative.",
    ),
    key(
        "UPSTREAM_OVERRIDES",
        None,
        "Comma-separated host=base-url pairs: requests to host go to base-url instead, path and query kept.",
    ),
    key(
        "RESOLVE_TIMEOUT_MS",
        Some("5000"),
        "Time limit for following a short link (b23.tv, t.co, ...) at submission.",
    ),
    key(
        "USER_AGENT",
        None,
        "User-Agent for outbound requests. Unset: a current desktop browser's.",
    ),
    key(
        "UPSTREAM_CONCURRENCY",
        Some("8"),
        "Jobs talking to one platform (or, for pages and media, one host) at once, per worker process.",
    ),
    key(
        "REFRESH_POLICY",
        Some("1h,1d,7d,30d"),
        "When items are fetched again after their first archive: comma-separated ages (ms, s, m, h, d, w), then never; `off`: only on request.",
    ),
    key(
        "REFRESH_CONCURRENCY",
        Some("1"),
        "Refresh jobs in flight per worker process (a pool of their own, below new items).",
    ),
    key(
        "REFRESH_CONFIRM_AFTER_MS",
        Some("3600000"),
        "An item that looks deleted is fetched again after this long; deleted is declared only when that refetch agrees.",
    ),
    key(
        "REFRESH_PARSE_BACKLOG_MAX",
        Some("0"),
        "Scheduled refreshes are fed to the queue only while at most this many new items wait for their parse.",
    ),
    key("YTDLP", Some("yt-dlp"), "yt-dlp program path."),
    key(
        "METRICS_BIND",
        None,
        "Where `worker` and `bot` processes serve GET /metrics (host:port, no auth: keep it private). Unset: only the API serves /metrics.",
    ),
    key("LOG_FORMAT", Some("text"), "Log format: text or json."),
    key(
        "LOG_LEVEL",
        Some("info"),
        "Log filter (tracing EnvFilter syntax, e.g. info,vaultstream_api=debug).",
    ),
];

/// Platforms whose cookies can be set with `VAULTSTREAM_COOKIES_<PLATFORM>`.
pub const COOKIE_PLATFORMS: &[&str] = &[
    "BILIBILI",
    "TWITTER",
    "WEIBO",
    "XIAOHONGSHU",
    "ZHIHU",
    "DOUYIN",
    "YOUTUBE",
];

pub fn find(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.name == name)
}

/// True when `name` (without prefix) is a key we read.
pub fn is_known(name: &str) -> bool {
    find(name).is_some()
        || name
            .strip_prefix(COOKIES_PREFIX)
            .is_some_and(|p| COOKIE_PLATFORMS.contains(&p))
}

pub fn is_secret(name: &str) -> bool {
    find(name).is_some_and(|k| k.secret) || name.starts_with(COOKIES_PREFIX)
}
