//! A throwaway deployment and the real `vaultstream` binary run on it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sea_orm::DatabaseConnection;
use vaultstream_testkit::env::{Stack, TestEnv};
pub use vaultstream_testkit::proc::{Proc, peak_kb};

use crate::Opts;

/// A deployment: its data dir, database (dropped at the end) and queue
/// namespace (its Redis keys deleted at the end).
pub struct Deployment {
    pub env: TestEnv,
}

impl Deployment {
    pub async fn new(stack: Stack) -> Self {
        let mut env = TestEnv::new(stack).await;
        // Benchmarks measure throughput, not the per-client rate limit.
        env.set("RATE_LIMIT_PER_SEC", "0")
            .set("RATE_LIMIT_BURST", "0");
        Deployment { env }
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.set(key, value);
        self
    }

    /// The deployment's database, migrated.
    pub async fn db(&self) -> anyhow::Result<DatabaseConnection> {
        Ok(vaultstream_core::db::connect_migrated(&self.env.settings()).await?)
    }

    /// `vaultstream <role>` with this deployment's settings (and nothing of
    /// the caller's `VAULTSTREAM_*`), output discarded.
    pub fn spawn(&self, opts: &Opts, role: &str, extra: &[(&str, String)]) -> anyhow::Result<Proc> {
        let mut cmd = vaultstream_testkit::proc::vaultstream(&opts.vaultstream, &self.env);
        for (k, v) in extra {
            cmd.env(format!("VAULTSTREAM_{k}"), v);
        }
        cmd.arg(role)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .with_context(|| format!("running {} {role}", opts.vaultstream.display()))?;
        Ok(Proc(child))
    }

    /// `vaultstream api` on a free loopback port; returns once it answers
    /// `/api/v1/health`.
    pub async fn spawn_api(
        &self,
        opts: &Opts,
        extra: &[(&str, String)],
    ) -> anyhow::Result<(Proc, std::net::SocketAddr)> {
        let port = free_port()?;
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut all = vec![("BIND", addr.to_string())];
        all.extend(extra.iter().cloned());
        let mut api = self.spawn(opts, "api", &all)?;
        wait_healthy(
            &format!("http://{addr}/api/v1/health"),
            &mut api,
            Duration::from_secs(60),
        )
        .await?;
        Ok((api, addr))
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

async fn wait_healthy(url: &str, proc: &mut Proc, within: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = proc.0.try_wait() {
            anyhow::bail!("the process exited ({status}) before {url} answered");
        }
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{url} did not answer within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Poll `check` every `every` until it returns `Some`, or fail after `within`.
pub async fn wait_for<T, F, Fut>(
    what: &str,
    within: Duration,
    every: Duration,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{what}: not done within {within:?}"
        );
        tokio::time::sleep(every).await;
    }
}

/// Percentile (0–100) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
