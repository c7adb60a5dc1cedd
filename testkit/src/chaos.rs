//! A fault-injecting TCP proxy on 127.0.0.1 in front of an HTTP/1.1
//! upstream (e.g. [`crate::upstream::Upstream`]).
//!
//! Every connection carries one request. With a seeded probability the
//! proxy answers it with a fault instead of forwarding it, chosen uniformly
//! among the [`Fault`] kinds: a 5xx, a hang past the client's timeout, a
//! TCP reset (before any byte or halfway through the response head), or a
//! 429 with `Retry-After: 1`. Otherwise the request goes to the upstream on
//! a fresh connection with `Connection: close` and the answer streams back.
//!
//! The decision for a request depends only on the seed, the request target
//! (path and query) and how many requests for that target came before, so a
//! run's faults do not depend on how concurrent clients interleave. Every
//! request is logged with its arrival time and what the proxy did.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The faults the proxy injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// 500, 502 or 503 with a small JSON body.
    ServerError,
    /// No answer: the connection stays open until the client gives up (or
    /// [`ChaosConfig::hold`] passes), then closes.
    Timeout,
    /// RST (SO_LINGER 0), before any byte or after half a response head.
    Reset,
    /// 429 with `Retry-After: 1`.
    RateLimited,
}

impl Fault {
    pub const ALL: [Fault; 4] = [
        Fault::ServerError,
        Fault::Timeout,
        Fault::Reset,
        Fault::RateLimited,
    ];
}

/// What the proxy did with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Fault(Fault),
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub at: Instant,
    /// The request target: path and query, e.g. `/status/123`.
    pub target: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub struct ChaosConfig {
    pub seed: u64,
    /// Share of requests that get a fault, 0.0..=1.0.
    pub fault_rate: f64,
    /// Longest a [`Fault::Timeout`] keeps a connection open; make it longer
    /// than the client's request timeout.
    pub hold: Duration,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        Self {
            seed: 0x5EED_C4A0_5000_0001,
            fault_rate: 0.3,
            hold: Duration::from_secs(60),
        }
    }
}

#[derive(Default)]
struct State {
    per_target: HashMap<String, u64>,
    log: Vec<Hit>,
}

/// A running proxy; it lives as long as the test's runtime.
#[derive(Clone)]
pub struct Chaos {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub base: String,
    upstream_base: String,
    state: Arc<Mutex<State>>,
}

impl Chaos {
    /// A proxy in front of `upstream_base` (`http://host:port`).
    pub async fn start(upstream_base: &str, cfg: ChaosConfig) -> Self {
        let upstream: SocketAddr = upstream_base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("upstream base is http://IP:PORT");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind chaos proxy");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let cfg = Arc::new(cfg);
        tokio::spawn(async move {
            loop {
                let Ok((conn, _)) = listener.accept().await else {
                    continue;
                };
                let (state, cfg) = (shared.clone(), cfg.clone());
                tokio::spawn(async move {
                    let _ = serve(conn, upstream, &state, &cfg).await;
                });
            }
        });
        Chaos {
            base,
            upstream_base: upstream_base.to_owned(),
            state,
        }
    }

    /// The proxy's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The base URL it forwards to.
    pub fn upstream_base(&self) -> &str {
        &self.upstream_base
    }

    /// `VAULTSTREAM_UPSTREAM_OVERRIDES` routed through the proxy: the
    /// upstream's `host=base` pairs with its base replaced by the proxy's.
    pub fn overrides(&self, upstream_overrides: &str) -> String {
        upstream_overrides
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((host, _)) => format!("{host}={}", self.base),
                None => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    fn with<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Every request so far, in arrival order.
    pub fn log(&self) -> Vec<Hit> {
        self.with(|s| s.log.clone())
    }

    /// Requests that got this fault.
    pub fn count(&self, fault: Fault) -> usize {
        self.with(|s| {
            s.log
                .iter()
                .filter(|h| h.outcome == Outcome::Fault(fault))
                .count()
        })
    }

    /// Requests forwarded to the upstream.
    pub fn passed(&self) -> usize {
        self.with(|s| {
            s.log
                .iter()
                .filter(|h| h.outcome == Outcome::Passed)
                .count()
        })
    }

    /// Fault counts by kind, for reports.
    pub fn counts(&self) -> Vec<(Fault, usize)> {
        Fault::ALL.iter().map(|f| (*f, self.count(*f))).collect()
    }
}

/// SplitMix64: a seeded, well-mixed 64-bit hash step.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// The fault (if any) for the `nth` request (1-based) to `target`, and a
/// second random word for the fault's variant.
fn decide(cfg: &ChaosConfig, target: &str, nth: u64) -> (Option<Fault>, u64) {
    let h = mix(cfg.seed ^ mix(fnv1a(target) ^ mix(nth)));
    let unit = (h >> 11) as f64 / (1u64 << 53) as f64;
    let variant = mix(h);
    if unit >= cfg.fault_rate {
        return (None, variant);
    }
    (Some(Fault::ALL[(variant % 4) as usize]), variant >> 2)
}

/// The request head (through `\r\n\r\n`) and any body bytes read with it.
async fn read_head(conn: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some((buf, rest)));
        }
        if buf.len() > 64 * 1024 {
            return Ok(None);
        }
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn serve(
    mut conn: TcpStream,
    upstream: SocketAddr,
    state: &Mutex<State>,
    cfg: &ChaosConfig,
) -> std::io::Result<()> {
    let Some((head, mut body)) = read_head(&mut conn).await? else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let target = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    // The whole body, so a fault never leaves unread bytes behind.
    while body.len() < length {
        let mut chunk = vec![0u8; (length - body.len()).min(64 * 1024)];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        body.extend_from_slice(&chunk[..n]);
    }

    let (fault, variant) = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        let nth = {
            let n = s.per_target.entry(target.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let (fault, variant) = decide(cfg, &target, nth);
        s.log.push(Hit {
            at: Instant::now(),
            target: target.clone(),
            outcome: fault.map_or(Outcome::Passed, Outcome::Fault),
        });
        (fault, variant)
    };

    match fault {
        None => forward(conn, upstream, &request_line, &headers, &body).await,
        Some(Fault::ServerError) => {
            let code = [500u16, 502, 503][(variant % 3) as usize];
            let reason = match code {
                500 => "Internal Server Error",
                502 => "Bad Gateway",
                _ => "Service Unavailable",
            };
            let json = format!(r#"{{"code":{code},"message":"chaos: injected {code}"}}"#);
            respond(&mut conn, &format!("{code} {reason}"), &[], &json).await
        }
        Some(Fault::RateLimited) => {
            respond(
                &mut conn,
                "429 Too Many Requests",
                &[("retry-after", "1")],
                r#"{"code":429,"message":"chaos: slow down"}"#,
            )
            .await
        }
        Some(Fault::Timeout) => {
            // Hold until the client gives up (EOF or error) or `hold` passes.
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(cfg.hold, async {
                loop {
                    match conn.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
            })
            .await;
            Ok(())
        }
        Some(Fault::Reset) => {
            if variant % 2 == 1 {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-le";
                conn.write_all(head.as_bytes()).await?;
                conn.flush().await?;
                // Let the bytes reach the client before the RST.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            conn.set_zero_linger()?;
            drop(conn);
            Ok(())
        }
    }
}

async fn respond(
    conn: &mut TcpStream,
    status: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    conn.write_all(out.as_bytes()).await?;
    conn.shutdown().await
}

/// Send the request to the upstream with `Connection: close` and stream the
/// answer back until the upstream closes.
async fn forward(
    mut conn: TcpStream,
    upstream: SocketAddr,
    request_line: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut up = TcpStream::connect(upstream).await?;
    let mut head = format!("{request_line}\r\n");
    for (k, v) in headers {
        if k.eq_ignore_ascii_case("connection") || k.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).await?;
    up.write_all(body).await?;
    tokio::io::copy(&mut up, &mut conn).await?;
    conn.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_seeded_and_near_the_rate() {
        let cfg = ChaosConfig::default();
        let mut counts: HashMap<Option<Fault>, u32> = HashMap::new();
        for i in 0..10_000u64 {
            let target = format!("/status/{i}");
            let (f, _) = decide(&cfg, &target, 1);
            assert_eq!(f, decide(&cfg, &target, 1).0, "same seed, same answer");
            *counts.entry(f).or_default() += 1;
        }
        let faults = 10_000 - counts[&None];
        assert!((2_700..3_300).contains(&faults), "{faults}");
        for f in Fault::ALL {
            let n = counts.get(&Some(f)).copied().unwrap_or(0);
            assert!((600..900).contains(&n), "{f:?}: {n}");
        }
    }

    #[test]
    fn overrides_point_every_host_at_the_proxy() {
        let c = Chaos {
            base: "http://127.0.0.1:9".into(),
            upstream_base: "http://127.0.0.1:8".into(),
            state: Arc::default(),
        };
        assert_eq!(
            c.overrides("a.com=http://127.0.0.1:8,b.com=http://127.0.0.1:8"),
            "a.com=http://127.0.0.1:9,b.com=http://127.0.0.1:9"
        );
    }
}
