//! A guarding forward proxy for programs that make their own connections.
//!
//! yt-dlp resolves names, connects and follows redirects by itself, so the
//! target guard of our HTTP client never sees its connections. Every yt-dlp
//! run therefore gets its own [`GuardProxy`] on 127.0.0.1 and is started
//! with `--proxy` (and the proxy environment variables, for anything it
//! starts in turn). The proxy applies the same rules to every connection:
//!
//! - `CONNECT host:port` (HTTPS) and absolute-form `GET http://host/...`
//!   (plain HTTP) are the only requests it takes;
//! - the host literal must pass the target guard (no loopback, private,
//!   link-local or metadata addresses in any notation, no local-only names);
//! - the name is resolved once, every address of the answer must be public,
//!   and the proxy connects to those checked addresses (never resolving
//!   again, so a rebinding DNS answer cannot slip in between);
//! - an operator's upstream override base (`VAULTSTREAM_UPSTREAM_OVERRIDES`)
//!   is a trusted route and is reached as configured; a plain-HTTP request
//!   for an overridden host is sent to its base, as our client would.
//!
//! A refused connection is answered `403 Forbidden` and remembered
//! ([`GuardProxy::refused`]) so the caller can report *why* yt-dlp failed.
//! Plain-HTTP requests are forwarded with `Connection: close`: one request
//! per connection, so a kept-alive connection can never carry a request
//! for another host to the host that was checked.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use url::Url;

use super::UpstreamOverrides;
use super::guard::check_resolved;
use super::resolve::Resolver;
use super::target;

/// Largest request head we read (request line + headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What the proxy lets through.
#[derive(Clone, Debug, Default)]
pub struct ProxyPolicy {
    pub overrides: UpstreamOverrides,
    /// Development only (`VAULTSTREAM_ALLOW_PRIVATE_TARGETS`): every target
    /// is allowed.
    pub allow_private: bool,
    pub resolver: Resolver,
}

/// A running proxy; stops (with every connection it carries) when dropped.
#[derive(Debug)]
pub struct GuardProxy {
    addr: SocketAddr,
    refused: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GuardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GuardProxy {
    /// Listen on 127.0.0.1, port chosen by the system.
    pub async fn start(policy: ProxyPolicy) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let refused: Arc<Mutex<Vec<String>>> = Arc::default();
        let policy = Arc::new(policy);
        let log = refused.clone();
        let task = tokio::spawn(async move {
            // Connections live in this set: aborting the accept loop drops
            // the set, which aborts them too.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let (policy, log) = (policy.clone(), log.clone());
                        conns.spawn(async move {
                            if let Err(e) = serve(stream, &policy, &log).await {
                                tracing::debug!(error = %e, "guard proxy connection ended");
                            }
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(GuardProxy {
            addr,
            refused,
            task,
        })
    }

    /// `http://127.0.0.1:PORT`, for `--proxy` and `*_proxy` variables.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The connections refused so far, as `target: reason`.
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

/// One client connection: one request (CONNECT or plain HTTP).
async fn serve(
    mut client: TcpStream,
    policy: &ProxyPolicy,
    refused: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let Some((head, rest)) = read_head(&mut client).await? else {
        return Ok(());
    };
    let Some(req) = Head::parse(&head) else {
        return respond(&mut client, "400 Bad Request", "malformed request").await;
    };
    if req.method.eq_ignore_ascii_case("CONNECT") {
        let Some((host, port)) = split_authority(&req.target) else {
            return respond(&mut client, "400 Bad Request", "CONNECT needs host:port").await;
        };
        let mut upstream = match open(policy, &host, port).await {
            Ok(s) => s,
            Err(Refusal::Forbidden(why)) => {
                note(refused, &format!("{host}:{port}"), &why);
                return respond(&mut client, "403 Forbidden", &why).await;
            }
            Err(Refusal::Unreachable(why)) => {
                return respond(&mut client, "502 Bad Gateway", &why).await;
            }
        };
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        if !rest.is_empty() {
            upstream.write_all(&rest).await?;
        }
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }

    // Plain HTTP: the target must be absolute (`http://host/path`).
    let Some(logical) = Url::parse(&req.target)
        .ok()
        .filter(|u| u.scheme() == "http" && u.host_str().is_some())
    else {
        return respond(
            &mut client,
            "400 Bad Request",
            "a proxy request needs an absolute http:// URL",
        )
        .await;
    };
    let wire = policy
        .overrides
        .rewrite(&logical)
        .unwrap_or_else(|| logical.clone());
    let (host, port) = (
        wire.host_str().unwrap_or_default().to_owned(),
        wire.port_or_known_default().unwrap_or(80),
    );
    let mut upstream = match open(policy, &host, port).await {
        Ok(s) => s,
        Err(Refusal::Forbidden(why)) => {
            note(refused, logical.as_str(), &why);
            return respond(&mut client, "403 Forbidden", &why).await;
        }
        Err(Refusal::Unreachable(why)) => {
            return respond(&mut client, "502 Bad Gateway", &why).await;
        }
    };
    let mut out = format!(
        "{} {} HTTP/1.1\r\n",
        req.method,
        &wire[url::Position::BeforePath..url::Position::AfterQuery]
    );
    for (name, value) in &req.headers {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("proxy-")
            || matches!(lower.as_str(), "connection" | "keep-alive" | "host")
        {
            continue;
        }
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let authority = match wire.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    out.push_str(&format!("Host: {authority}\r\nConnection: close\r\n\r\n"));
    upstream.write_all(out.as_bytes()).await?;
    if !rest.is_empty() {
        upstream.write_all(&rest).await?;
    }
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

enum Refusal {
    /// The guard says no.
    Forbidden(String),
    /// Allowed, but the name does not resolve or nothing answers.
    Unreachable(String),
}

/// Connect to `host:port` if the policy allows it.
async fn open(policy: &ProxyPolicy, host: &str, port: u16) -> Result<TcpStream, Refusal> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let trusted = policy.overrides.is_override_base(bare, port);
    let guarded = !trusted && !policy.allow_private;
    if guarded {
        let literal = if bare.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("http://[{bare}]:{port}/")
        } else {
            format!("http://{bare}:{port}/")
        };
        let url = Url::parse(&literal)
            .map_err(|_| Refusal::Forbidden(format!("`{host}` is not a host name")))?;
        target::check(&url).map_err(|e| Refusal::Forbidden(e.message))?;
    }
    let addrs = policy
        .resolver
        .lookup(bare, port)
        .await
        .map_err(|e| Refusal::Unreachable(format!("cannot resolve {bare}: {e}")))?;
    if addrs.is_empty() {
        return Err(Refusal::Unreachable(format!("{bare} has no address")));
    }
    if guarded {
        check_resolved(bare, &addrs).map_err(|e| Refusal::Forbidden(e.to_string()))?;
    }
    let mut last = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(Refusal::Unreachable(format!(
        "cannot connect to {bare}:{port}: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

fn note(refused: &Mutex<Vec<String>>, target: &str, why: &str) {
    tracing::warn!(target = %target, reason = %why, "guard proxy refused a connection from yt-dlp");
    if let Ok(mut r) = refused.lock()
        && r.len() < 100
    {
        r.push(format!("{target}: {why}"));
    }
}

async fn respond(client: &mut TcpStream, status: &str, why: &str) -> std::io::Result<()> {
    let body = format!("vaultstream guard proxy: {why}\n");
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    client.write_all(head.as_bytes()).await?;
    client.write_all(body.as_bytes()).await?;
    client.shutdown().await
}

/// Read up to the end of the request head; returns it and whatever came
/// after it. `None` when the client closed first.
async fn read_head(client: &mut TcpStream) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some((buf, rest)));
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(std::io::Error::other("request head too large"));
        }
    }
}

/// A parsed request head.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(raw: &[u8]) -> Option<Head> {
        let text = std::str::from_utf8(raw).ok()?;
        let mut lines = text.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let (method, target, version) = (first.next()?, first.next()?, first.next()?);
        if first.next().is_some()
            || !version.starts_with("HTTP/1.")
            || method.is_empty()
            || !method.bytes().all(|b| b.is_ascii_alphabetic())
        {
            return None;
        }
        let mut headers = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':')?;
            if name.is_empty() || name.contains([' ', '\t']) {
                return None;
            }
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        Some(Head {
            method: method.to_owned(),
            target: target.to_owned(),
            headers,
        })
    }
}

/// `host:port` or `[v6]:port` → (host without brackets, port).
fn split_authority(authority: &str) -> Option<(String, u16)> {
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return None;
    }
    if host.contains(':') && host.parse::<IpAddr>().is_err() {
        return None;
    }
    Some((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_split() {
        assert_eq!(
            split_authority("example.com:443"),
            Some(("example.com".into(), 443))
        );
        assert_eq!(split_authority("[::1]:8080"), Some(("::1".into(), 8080)));
        assert_eq!(split_authority("example.com"), None);
        assert_eq!(split_authority("a@b:80"), None);
        assert_eq!(split_authority(":80"), None);
    }

    #[test]
    fn heads_parse() {
        let h =
            Head::parse(b"GET http://a.example/x?y HTTP/1.1\r\nHost: a.example\r\nX: 1\r\n\r\n")
                .expect("parses");
        assert_eq!(h.method, "GET");
        assert_eq!(h.target, "http://a.example/x?y");
        assert_eq!(h.headers.len(), 2);
        assert!(Head::parse(b"GET /x\r\n\r\n").is_none());
        assert!(Head::parse(b"G\x01T / HTTP/1.1\r\n\r\n").is_none());
    }
}
