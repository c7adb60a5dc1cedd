//! Prometheus metrics: one process-global registry and the helpers the
//! `api`, `worker` and `bot` crates record through.
//!
//! The registry lives in this process only. HTTP counters are recorded by
//! the API's middleware, job and push counters by the worker's jobs, so a
//! process's `GET /metrics` exposes only what *it* recorded: an `api`
//! process shows HTTP metrics (job counters stay absent), a `worker`
//! process records job metrics but serves no HTTP, and the `all` role
//! (API and workers in one process) shows both. The gauges (items, media,
//! dead letters, blobs, queue depth, oldest waiting item) come from the
//! database and the queue, refreshed by [`refresh`] when `/metrics` is
//! scraped, so every process that serves `/metrics` shows the same values.
//!
//! Labels are small closed sets: HTTP routes are path templates
//! (`/api/v1/contents/{id}`, `unmatched` otherwise), never raw paths.
//!
//! Metric families (all prefixed `vaultstream_`):
//! - `http_requests_total{method,route,status}` (counter)
//! - `http_request_duration_seconds{method,route}` (histogram)
//! - `jobs_total{kind,platform,outcome}` (counter; outcome: `done`,
//!   `retried`, `dead`, `stale`, `rescheduled`, `lease_lost`, `unknown`,
//!   `error` — our own database failed and the queue redelivers)
//! - `job_duration_seconds{kind,platform}` (histogram; claimed jobs only)
//! - `job_failures_total{kind,platform,error_class}` (counter; parse and
//!   media attempts that failed, by the adapter's error class)
//! - `pushes_total{outcome}` (counter; `sent`, `retry`, `failed`, `unknown`)
//! - `refreshes_total{outcome}` (counter; `unchanged`, `changed`,
//!   `suspect`, `deleted`, `restricted`, `unreachable`)
//! - `rate_limit_checks_total{store}` (counter; `redis` when the shared
//!   buckets answered, `local` for in-memory buckets, `fallback` when Redis
//!   was configured but unreachable and the local bucket decided)
//! - `rate_limit_shared` (gauge: 1 while the shared Redis buckets answer,
//!   0 while falling back to per-process buckets, and without Redis)
//! - gauges: `items{status}`, `media{status}`, `dead_letters_open`, `blobs`,
//!   `blob_bytes`, `queue_depth{queue}` (backends that can count),
//!   `oldest_waiting_seconds`, `items_upstream{status}` (by upstream
//!   state), `refresh_backlog_age_seconds`, `login_state{platform,state}`
//!   (1 for each login's last check: `valid`, `expired`, `risk_control`,
//!   `unreachable`, or `unchecked`), `metrics_refresh_ok` (1 when the last
//!   refresh succeeded; on failure the gauges keep their previous values).
//!
//! Platforms are `unknown` where the job ended before its row was claimed
//! (stale messages) and for publish jobs (the record's item is not read).

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use sea_orm::DatabaseConnection;

use crate::db::entities::{content, media};
use crate::db::work::status_counts;
use crate::queue::{JobKind, JobQueue};

/// The content type of [`encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How long a scrape may spend on the database and the queue.
pub const REFRESH_TIMEOUT: Duration = Duration::from_secs(3);

const HTTP_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const JOB_BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: &'static str,
    platform: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobKindLabels {
    kind: &'static str,
    platform: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    kind: &'static str,
    platform: String,
    error_class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    store: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

impl StatusLabels {
    fn of(status: impl std::fmt::Display) -> Self {
        StatusLabels {
            status: status.to_string(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoginLabels {
    platform: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

fn job_histogram() -> Histogram {
    Histogram::new(JOB_BUCKETS)
}

/// The metric families of this process.
struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    jobs: Family<JobLabels, Counter>,
    job_duration: HistogramFamily<JobKindLabels>,
    job_failures: Family<FailureLabels, Counter>,
    pushes: Family<OutcomeLabels, Counter>,
    rate_limit_checks: Family<StoreLabels, Counter>,
    rate_limit_shared: Gauge,
    items: Family<StatusLabels, Gauge>,
    media: Family<StatusLabels, Gauge>,
    dead_letters_open: Gauge,
    blobs: Gauge,
    blob_bytes: Gauge,
    queue_depth: Family<QueueLabels, Gauge>,
    oldest_waiting: Gauge<f64, AtomicU64>,
    refreshes: Family<OutcomeLabels, Counter>,
    upstream: Family<StatusLabels, Gauge>,
    refresh_backlog_age: Gauge<f64, AtomicU64>,
    refresh_ok: Gauge,
    login_state: Family<LoginLabels, Gauge>,
    /// One scrape refreshes and encodes at a time (gauge families are
    /// cleared and refilled).
    scrape: tokio::sync::Mutex<()>,
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("vaultstream");
        let m = Metrics {
            registry: Registry::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(http_histogram),
            jobs: Family::default(),
            job_duration: Family::new_with_constructor(job_histogram),
            job_failures: Family::default(),
            pushes: Family::default(),
            rate_limit_checks: Family::default(),
            rate_limit_shared: Gauge::default(),
            items: Family::default(),
            media: Family::default(),
            dead_letters_open: Gauge::default(),
            blobs: Gauge::default(),
            blob_bytes: Gauge::default(),
            queue_depth: Family::default(),
            oldest_waiting: Gauge::default(),
            refreshes: Family::default(),
            upstream: Family::default(),
            refresh_backlog_age: Gauge::default(),
            refresh_ok: Gauge::default(),
            login_state: Family::default(),
            scrape: tokio::sync::Mutex::new(()),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            m.http_requests.clone(),
        );
        registry.register_with_unit(
            "http_request_duration",
            "HTTP request latency, by method and route template",
            Unit::Seconds,
            m.http_duration.clone(),
        );
        registry.register(
            "jobs",
            "Jobs handled by this process, by kind, platform and outcome",
            m.jobs.clone(),
        );
        registry.register_with_unit(
            "job_duration",
            "Time spent on claimed jobs, by kind and platform",
            Unit::Seconds,
            m.job_duration.clone(),
        );
        registry.register(
            "job_failures",
            "Failed job attempts, by kind, platform and error class",
            m.job_failures.clone(),
        );
        registry.register(
            "pushes",
            "Telegram pushes attempted by this process, by outcome",
            m.pushes.clone(),
        );
        registry.register(
            "rate_limit_checks",
            "API rate-limit checks, by where the bucket was kept",
            m.rate_limit_checks.clone(),
        );
        registry.register(
            "rate_limit_shared",
            "1 while the shared (Redis) rate-limit buckets answer, 0 while falling back to local ones",
            m.rate_limit_shared.clone(),
        );
        registry.register("items", "Items by status", m.items.clone());
        registry.register("media", "Media files by status", m.media.clone());
        registry.register(
            "dead_letters_open",
            "Open dead letters",
            m.dead_letters_open.clone(),
        );
        registry.register("blobs", "Blobs stored", m.blobs.clone());
        registry.register(
            "blob_bytes",
            "Bytes of all stored blobs",
            m.blob_bytes.clone(),
        );
        registry.register(
            "queue_depth",
            "Jobs waiting per queue (backends that can count them)",
            m.queue_depth.clone(),
        );
        registry.register(
            "oldest_waiting_seconds",
            "How long the oldest due unprocessed item has been waiting",
            m.oldest_waiting.clone(),
        );
        registry.register(
            "refreshes",
            "Item refreshes stored by this process, by outcome",
            m.refreshes.clone(),
        );
        registry.register(
            "items_upstream",
            "Items by upstream state (status label: live, deleted, restricted, unreachable)",
            m.upstream.clone(),
        );
        registry.register(
            "refresh_backlog_age_seconds",
            "How long the oldest due refresh has been waiting",
            m.refresh_backlog_age.clone(),
        );
        registry.register(
            "login_state",
            "1 for each platform login's last health check, by platform and state",
            m.login_state.clone(),
        );
        registry.register(
            "metrics_refresh_ok",
            "1 when the last scrape-time refresh of the gauges succeeded",
            m.refresh_ok.clone(),
        );
        Metrics { registry, ..m }
    }
}

/// Record one answered HTTP request. `route` is the matched path template
/// (or `unmatched`), never the raw path.
pub fn observe_http(method: &str, route: &str, status: u16, elapsed: Duration) {
    let m = metrics();
    m.http_requests
        .get_or_create(&HttpLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        })
        .inc();
    m.http_duration
        .get_or_create(&RouteLabels {
            method: method.to_owned(),
            route: route.to_owned(),
        })
        .observe(elapsed.as_secs_f64());
}

/// Record how one job ended. `elapsed` is the time spent on a claimed job
/// (`None` when nothing was claimed: it then counts without a duration).
pub fn observe_job(
    kind: JobKind,
    platform: &str,
    outcome: &'static str,
    elapsed: Option<Duration>,
) {
    let m = metrics();
    m.jobs
        .get_or_create(&JobLabels {
            kind: kind.as_str(),
            platform: platform.to_owned(),
            outcome,
        })
        .inc();
    if let Some(elapsed) = elapsed {
        m.job_duration
            .get_or_create(&JobKindLabels {
                kind: kind.as_str(),
                platform: platform.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

/// Record one failed job attempt (retried or dead-lettered alike).
pub fn job_failure(kind: JobKind, platform: &str, error_class: &str) {
    metrics()
        .job_failures
        .get_or_create(&FailureLabels {
            kind: kind.as_str(),
            platform: platform.to_owned(),
            error_class: error_class.to_owned(),
        })
        .inc();
}

/// Record one rate-limit check: `redis`, `local` or `fallback`.
pub fn rate_limit_check(store: &'static str) {
    metrics()
        .rate_limit_checks
        .get_or_create(&StoreLabels { store })
        .inc();
}

/// Whether the shared rate-limit buckets answer (1) or not (0).
pub fn rate_limit_shared(up: bool) {
    metrics().rate_limit_shared.set(i64::from(up));
}

/// Record one push attempt: `sent`, `retry`, `failed` or `unknown`.
pub fn push_outcome(outcome: &'static str) {
    metrics()
        .pushes
        .get_or_create(&OutcomeLabels { outcome })
        .inc();
}

/// Record one stored refresh: `unchanged`, `changed`, `suspect`,
/// `deleted`, `restricted` or `unreachable`.
pub fn refresh_outcome(outcome: &'static str) {
    metrics()
        .refreshes
        .get_or_create(&OutcomeLabels { outcome })
        .inc();
}

async fn refresh_inner(db: &DatabaseConnection, queue: &dyn JobQueue) -> anyhow::Result<()> {
    let m = metrics();
    let items = status_counts::<content::Entity>(db).await?;
    let media = status_counts::<media::Entity>(db).await?;
    let dead = crate::db::dead_letters::open_count(db).await?;
    let (blobs, bytes) = crate::db::blobs::blob_totals(db).await?;
    let oldest = crate::db::items::oldest_waiting(db).await?;
    let upstream = crate::db::refresh::state_counts(db).await?;
    let backlog = crate::db::refresh::backlog_age(db).await?;
    let logins = crate::db::logins::list(db).await?;
    let mut depths = Vec::new();
    for &kind in JobKind::ALL {
        if let Some(d) = queue.depth_of(kind).await? {
            depths.push((kind.as_str(), d));
        }
    }
    // Set everything only once every query answered: a partial refresh
    // would mix old and new values.
    m.items.clear();
    for (status, n) in items {
        m.items.get_or_create(&StatusLabels::of(status)).set(n);
    }
    m.media.clear();
    for (status, n) in media {
        m.media.get_or_create(&StatusLabels::of(status)).set(n);
    }
    m.dead_letters_open.set(dead as i64);
    m.blobs.set(blobs);
    m.blob_bytes.set(bytes);
    m.oldest_waiting
        .set(oldest.map_or(0.0, |d| d.as_secs_f64()));
    m.upstream.clear();
    for (state, n) in upstream {
        m.upstream.get_or_create(&StatusLabels::of(state)).set(n);
    }
    m.refresh_backlog_age
        .set(backlog.map_or(0.0, |d| d.as_secs_f64()));
    m.login_state.clear();
    for l in logins {
        let state = l.last_check_state.unwrap_or_else(|| "unchecked".into());
        m.login_state
            .get_or_create(&LoginLabels {
                platform: l.platform,
                state,
            })
            .set(1);
    }
    m.queue_depth.clear();
    for (queue, d) in depths {
        m.queue_depth
            .get_or_create(&QueueLabels { queue })
            .set(d as i64);
    }
    Ok(())
}

/// Refresh the gauges from the database and the queue (within
/// [`REFRESH_TIMEOUT`]) and encode every metric of this process in the
/// OpenMetrics text format ([`CONTENT_TYPE`]). A failed or slow refresh
/// is logged, leaves the previous gauge values and sets
/// `vaultstream_metrics_refresh_ok` to 0; the counters are served anyway.
pub async fn scrape(db: &DatabaseConnection, queue: &dyn JobQueue) -> String {
    let m = metrics();
    let _one_at_a_time = m.scrape.lock().await;
    let ok = match tokio::time::timeout(REFRESH_TIMEOUT, refresh_inner(db, queue)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: could not refresh the gauges");
            false
        }
        Err(_) => {
            tracing::warn!("metrics: refreshing the gauges timed out");
            false
        }
    };
    m.refresh_ok.set(i64::from(ok));
    encode()
}

/// Every metric of this process in the OpenMetrics text format, as is
/// (no refresh).
pub fn encode() -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &metrics().registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_value(text: &str, prefix: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.trim().parse().ok())
    }

    #[test]
    fn job_counters_are_labelled_and_counted() {
        // A platform no other test uses: the registry is process-global.
        let p = "metrics_unit_test";
        observe_job(JobKind::Parse, p, "done", Some(Duration::from_millis(1200)));
        observe_job(JobKind::Parse, p, "done", Some(Duration::from_millis(30)));
        observe_job(
            JobKind::Parse,
            p,
            "retried",
            Some(Duration::from_millis(50)),
        );
        observe_job(JobKind::Media, p, "stale", None);
        job_failure(JobKind::Parse, p, "retryable");
        push_outcome("unknown");

        let text = encode();
        let done =
            format!(r#"vaultstream_jobs_total{{kind="parse",platform="{p}",outcome="done"}} "#);
        assert_eq!(line_value(&text, &done), Some(2.0), "{text}");
        let retried =
            format!(r#"vaultstream_jobs_total{{kind="parse",platform="{p}",outcome="retried"}} "#);
        assert_eq!(line_value(&text, &retried), Some(1.0), "{text}");
        let stale =
            format!(r#"vaultstream_jobs_total{{kind="media",platform="{p}",outcome="stale"}} "#);
        assert_eq!(line_value(&text, &stale), Some(1.0), "{text}");
        let count =
            format!(r#"vaultstream_job_duration_seconds_count{{kind="parse",platform="{p}"}} "#);
        assert_eq!(line_value(&text, &count), Some(3.0), "{text}");
        // Stale jobs ran nothing: no duration observed.
        assert!(!text.contains(&format!(
            r#"vaultstream_job_duration_seconds_count{{kind="media",platform="{p}"}}"#
        )));
        let le1 = format!(
            r#"vaultstream_job_duration_seconds_bucket{{le="1.0",kind="parse",platform="{p}"}} "#
        );
        assert_eq!(line_value(&text, &le1), Some(2.0), "{text}");
        let failures = format!(
            r#"vaultstream_job_failures_total{{kind="parse",platform="{p}",error_class="retryable"}} "#
        );
        assert_eq!(line_value(&text, &failures), Some(1.0), "{text}");
        assert!(
            line_value(&text, r#"vaultstream_pushes_total{outcome="unknown"} "#)
                .is_some_and(|n| n >= 1.0),
            "{text}"
        );
        assert!(text.contains("# TYPE vaultstream_job_duration_seconds histogram"));
        assert!(text.ends_with("# EOF\n"));
    }
}
