//! An HTTP/1.1 load generator: `conns` keep-alive connections, each sending
//! its next request as soon as the previous answer is read, for a warm-up
//! and then a measured window. Light enough that on a 2-core machine most
//! of the CPU is left to the server it measures.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

/// What one request is: method, path and JSON body (for request number `n`,
/// unique across the whole run).
pub type MakeRequest = Arc<dyn Fn(u64) -> (hyper::Method, String, Option<String>) + Send + Sync>;

#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Requests answered inside the measured window.
    pub requests: u64,
    pub secs: f64,
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Answers by status inside the window (errors: status 0).
    pub statuses: BTreeMap<u16, u64>,
    /// Requests sent in all, warm-up included.
    pub sent: u64,
}

impl LoadResult {
    /// Requests in the window with a status other than `ok`.
    pub fn not(&self, ok: &[u16]) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| !ok.contains(s))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Drive `addr` with `conns` connections: `warmup`, then `window` measured.
pub async fn run(
    addr: SocketAddr,
    conns: usize,
    warmup: Duration,
    window: Duration,
    make: MakeRequest,
) -> anyhow::Result<LoadResult> {
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + warmup;
    let stop_at = measure_from + window;
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let make = make.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            one_connection(addr, make, counter, measure_from, stop_at).await
        }));
    }
    let mut parts = Vec::with_capacity(tasks.len());
    for t in tasks {
        parts.push(t.await??);
    }
    Ok(summarise(parts, window, counter.load(Ordering::Relaxed)))
}

/// Merge what each connection or task measured into one result.
fn summarise(parts: Vec<Samples>, window: Duration, sent: u64) -> LoadResult {
    let mut lat: Vec<f64> = Vec::new();
    let mut statuses = BTreeMap::new();
    for (l, s) in parts {
        lat.extend(l);
        for (k, v) in s {
            *statuses.entry(k).or_insert(0) += v;
        }
    }
    lat.sort_by(f64::total_cmp);
    let secs = window.as_secs_f64();
    let requests = statuses.values().sum::<u64>();
    LoadResult {
        requests,
        secs,
        per_s: requests as f64 / secs,
        p50_ms: crate::deploy::percentile(&lat, 50.0),
        p99_ms: crate::deploy::percentile(&lat, 99.0),
        max_ms: lat.last().copied().unwrap_or(f64::NAN),
        statuses,
        sent,
    }
}

type Samples = (Vec<f64>, BTreeMap<u16, u64>);

async fn one_connection(
    addr: SocketAddr,
    make: MakeRequest,
    counter: Arc<AtomicU64>,
    measure_from: Instant,
    stop_at: Instant,
) -> anyhow::Result<Samples> {
    let mut lat = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let host = addr.to_string();
    'reconnect: while Instant::now() < stop_at {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        while Instant::now() < stop_at {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let (method, path, body) = make(n);
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header("host", &host);
            if body.is_some() {
                req = req.header("content-type", "application/json");
            }
            let req = req.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
            let sent_at = Instant::now();
            let status = match sender.send_request(req).await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    match resp.into_body().collect().await {
                        Ok(_) => Some(status),
                        Err(_) => None,
                    }
                }
                Err(_) => None,
            };
            let done = Instant::now();
            if sent_at >= measure_from && done <= stop_at {
                lat.push((done - sent_at).as_secs_f64() * 1000.0);
                *statuses.entry(status.unwrap_or(0)).or_insert(0) += 1;
            }
            if status.is_none() {
                continue 'reconnect;
            }
        }
    }
    Ok((lat, statuses))
}

/// Run `tasks` copies of `op` concurrently for `warmup` + `window`,
/// counting completed operations and their latencies in the window: the
/// same shape as [`run`], for loops that are not HTTP (raw SQL, raw queue).
pub async fn run_loop<F, Fut>(
    tasks: usize,
    warmup: Duration,
    window: Duration,
    op: F,
) -> anyhow::Result<LoadResult>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + warmup;
    let stop_at = measure_from + window;
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let op = op.clone();
        let counter = counter.clone();
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
            while Instant::now() < stop_at {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                let ok = op(n).await.is_ok();
                let done = Instant::now();
                if t >= measure_from && done <= stop_at {
                    lat.push((done - t).as_secs_f64() * 1000.0);
                    *statuses.entry(if ok { 200 } else { 0 }).or_insert(0) += 1;
                }
            }
            (lat, statuses)
        }));
    }
    let mut parts = Vec::with_capacity(handles.len());
    for h in handles {
        parts.push(h.await?);
    }
    Ok(summarise(parts, window, counter.load(Ordering::Relaxed)))
}
