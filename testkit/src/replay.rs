//! A replay server on 127.0.0.1:0 serving recorded upstream responses.
//!
//! Every upstream host a test touches is pointed at it through
//! `VAULTSTREAM_UPSTREAM_OVERRIDES` under its own path prefix (`/h/<host>`),
//! so a route names the logical host and path it stands for. The reply of
//! the longest matching route prefix wins; unmatched requests answer 599.
//! Every request is recorded, so tests can assert what was (not) fetched.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// A recorded fixture file's text (`adapters/tests/fixtures/<path>`,
/// provenance in its `PROVENANCE.md`).
pub fn fixture(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../adapters/tests/fixtures")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

#[derive(Clone)]
pub struct Reply {
    /// Wait this long before answering (timeout tests).
    pub delay: Option<std::time::Duration>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(body: impl Into<String>) -> Self {
        Self::with_type(200, "application/json; charset=utf-8", body)
    }
    pub fn html(body: impl Into<String>) -> Self {
        Self::with_type(200, "text/html; charset=utf-8", body)
    }
    pub fn with_type(status: u16, ct: &str, body: impl Into<String>) -> Self {
        Self {
            delay: None,
            status,
            headers: vec![("content-type".into(), ct.into())],
            body: body.into().into_bytes(),
        }
    }
    /// A binary body (media files).
    pub fn bytes(ct: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            delay: None,
            status: 200,
            headers: vec![("content-type".into(), ct.into())],
            body: body.into(),
        }
    }
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Self::with_type(status, "application/json", body)
    }
    pub fn redirect(location: &str) -> Self {
        Self {
            delay: None,
            status: 302,
            headers: vec![("location".into(), location.into())],
            body: Vec::new(),
        }
    }
    pub fn delayed(mut self, by: std::time::Duration) -> Self {
        self.delay = Some(by);
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Hit {
    /// `<host><path>?<query>` in logical terms (prefix stripped).
    pub target: String,
    pub headers: BTreeMap<String, String>,
}

type Routes = Arc<Mutex<Vec<(String, Reply)>>>;

#[derive(Clone)]
pub struct Replay {
    pub base: String,
    routes: Routes,
    hits: Arc<Mutex<Vec<Hit>>>,
    hosts: Vec<String>,
}

impl Replay {
    /// `hosts`: the upstream hosts to override onto this server.
    pub async fn start(hosts: &[&str]) -> Self {
        let routes: Routes = Arc::default();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let (r, h) = (routes.clone(), hits.clone());
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let (routes, hits) = (r.clone(), h.clone());
            async move {
                let pq = uri
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                let target = pq.strip_prefix("/h/").unwrap_or(&pq).to_owned();
                let headers: BTreeMap<String, String> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                    .collect();
                hits.lock().expect("lock").push(Hit {
                    target: target.clone(),
                    headers,
                });
                // Longest matching prefix wins, so a test can add a specific
                // route over a general one.
                let reply = routes
                    .lock()
                    .expect("lock")
                    .iter()
                    .filter(|(prefix, _)| target.starts_with(prefix.as_str()))
                    .max_by_key(|(prefix, _)| prefix.len())
                    .map(|(_, r)| r.clone());
                if let Some(by) = reply.as_ref().and_then(|r| r.delay) {
                    tokio::time::sleep(by).await;
                }
                respond(reply)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base: format!("http://{addr}"),
            routes,
            hits,
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        }
    }

    /// Answer requests whose `<host><path>?<query>` starts with `prefix`.
    pub fn route(&self, prefix: &str, reply: Reply) -> &Self {
        self.routes
            .lock()
            .expect("lock")
            .push((prefix.to_owned(), reply));
        self
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("lock").clone()
    }

    /// The targets of every request so far.
    pub fn targets(&self) -> Vec<String> {
        self.hits().into_iter().map(|h| h.target).collect()
    }

    /// Requests whose target starts with `prefix`.
    pub fn hits_on(&self, prefix: &str) -> usize {
        self.hits()
            .iter()
            .filter(|h| h.target.starts_with(prefix))
            .count()
    }

    /// The value of `VAULTSTREAM_UPSTREAM_OVERRIDES` that sends every host
    /// given to [`Replay::start`] here.
    pub fn overrides(&self) -> String {
        self.hosts
            .iter()
            .map(|h| format!("{h}={}/h/{h}", self.base))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn respond(reply: Option<Reply>) -> Response {
    let Some(reply) = reply else {
        return (StatusCode::from_u16(599).expect("status"), "no route").into_response();
    };
    let mut resp = (
        StatusCode::from_u16(reply.status).expect("status"),
        reply.body,
    )
        .into_response();
    for (k, v) in reply.headers {
        resp.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            axum::http::HeaderValue::from_str(&v).expect("value"),
        );
    }
    resp
}
