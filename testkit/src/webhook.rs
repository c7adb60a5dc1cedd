//! A webhook receiver on 127.0.0.1 that behaves like real ones in time and
//! failure: it answers each request by a script — a status (2xx, 4xx,
//! 5xx), a 429 with `Retry-After`, a redirect, an answer that comes too
//! late (the sender must time out), a dropped connection — and records
//! every request it read (headers, body, when). A plain HTTP/1.1 server
//! on a socket, so a dropped connection is a real one.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// This status, with an optional body.
    Status(u16, &'static str),
    /// 429 with `Retry-After: secs`.
    RetryAfter(u64),
    /// 307 to this location.
    Redirect(&'static str),
    /// Wait this long, then answer 200 (after the sender gave up).
    Late(Duration),
    /// Close the connection without answering.
    Drop,
}

/// One request the receiver read.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
    pub answer: Answer,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Answer>,
    fallback: Option<Answer>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct WebhookReceiver {
    /// `http://127.0.0.1:port`
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl WebhookReceiver {
    /// A receiver that answers `200 ok` unless scripted otherwise.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s.clone()));
            }
        });
        Self { base, state }
    }

    /// The URL of a path on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Answer the next requests with these, in order.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state.lock().expect("lock").script.extend(answers);
    }

    /// Answer every unscripted request with this (default `200 ok`).
    pub fn always(&self, answer: Answer) {
        self.state.lock().expect("lock").fallback = Some(answer);
    }

    /// Every request read so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().expect("lock").received.clone()
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    loop {
        let Some((method, path, headers, body)) = read_request(&mut stream).await else {
            return;
        };
        let answer = {
            let mut s = state.lock().expect("lock");
            let answer = s
                .script
                .pop_front()
                .or_else(|| s.fallback.clone())
                .unwrap_or(Answer::Status(200, "ok"));
            s.received.push(Received {
                method,
                path,
                headers,
                body,
                at: Instant::now(),
                answer: answer.clone(),
            });
            answer
        };
        let (status, extra, body) = match answer {
            Answer::Drop => return,
            Answer::Late(wait) => {
                tokio::time::sleep(wait).await;
                (200, String::new(), "late")
            }
            Answer::Status(code, body) => (code, String::new(), body),
            Answer::RetryAfter(secs) => (429, format!("retry-after: {secs}\r\n"), "slow down"),
            Answer::Redirect(to) => (307, format!("location: {to}\r\n"), ""),
        };
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n{extra}\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

type Request = (String, String, BTreeMap<String, String>, Vec<u8>);

/// One HTTP/1.1 request with a `content-length` body; `None` when the
/// connection closes.
async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Some((method, path, headers, body))
}
