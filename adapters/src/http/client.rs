//! The one HTTP client every adapter shares.
//!
//! Redirects are followed by hand (at most `max_redirects`) so that every hop
//! is rewritten by the upstream overrides and, for user-supplied pages,
//! checked by the SSRF guard ([`super::guard`]): the host literal first (the
//! same check links get at submission), then the addresses its name resolves
//! to (a resolver that refuses private answers, so a public name rebinding to
//! 127.0.0.1 between check and connect is still refused). Hosts the operator
//! overrides skip the guard: pointing them at a local server is the point.
//!
//! Nothing here logs headers: a request may carry a platform's cookie.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION,
    SET_COOKIE, USER_AGENT,
};
use url::Url;
use vaultstream_core::Platform;
use vaultstream_core::parsed::{Chain, ErrorClass, FetchError};
use vaultstream_core::settings::Secret;

use super::UpstreamOverrides;
use super::config::FetchConfig;
use super::guard::{self, PublicOnlyResolver};
use super::status::{excerpt, malformed, status_error};
use crate::logins::LoginCookies;

/// What we send when neither the platform nor the operator names a UA.
pub(crate) const DESKTOP_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
/// Weibo's and Douyin's mobile pages only serve their data to phones.
pub(crate) const IPHONE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 16_0 like Mac OS X) \
     AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1";

/// One GET, described before it is sent.
pub(crate) struct Get {
    pub url: Url,
    /// Whose cookie to send (if the operator configured one); `None` for
    /// media CDNs, which never get a platform's cookie.
    pub platform: Option<Platform>,
    /// Applied after the User-Agent and Accept, so they can replace them.
    pub headers: Vec<(HeaderName, String)>,
    /// A UA the platform needs regardless of settings.
    pub forced_user_agent: Option<&'static str>,
    pub accept: &'static str,
    /// Apply the SSRF guard (user-supplied targets).
    pub guarded: bool,
    /// Skip reading the body unless it is HTML/XML/JSON/text (a generic
    /// link to a video must not be downloaded into memory).
    pub only_documents: bool,
    /// Total time per hop, replacing the client's own (if it has one).
    pub timeout: Option<Duration>,
    /// A form to POST instead of a GET (Weibo's visitor passport); a
    /// redirect after it is followed with a GET, as browsers do.
    pub form: Option<String>,
    /// A `Cookie` of our own (Weibo's visitor cookies) for when the
    /// operator configured none for the platform; like theirs, sent only
    /// to the first host.
    pub cookie: Option<String>,
    /// The query holds a secret (a QR login's key): logged without it.
    pub secret_query: bool,
}

impl Get {
    pub fn new(url: Url, platform: Platform) -> Self {
        Self {
            url,
            platform: Some(platform),
            headers: Vec::new(),
            forced_user_agent: None,
            accept: "application/json, text/plain, */*",
            guarded: false,
            only_documents: false,
            timeout: None,
            form: None,
            cookie: None,
            secret_query: false,
        }
    }

    /// A media file named by an (untrusted) document: always guarded, no
    /// platform cookie.
    pub fn media(url: Url, accept: &'static str) -> Self {
        Self {
            url,
            platform: None,
            headers: Vec::new(),
            forced_user_agent: None,
            accept,
            guarded: true,
            only_documents: false,
            timeout: None,
            form: None,
            cookie: None,
            secret_query: false,
        }
    }

    /// `name` must be a lowercase header name (a constant in an adapter).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers
            .push((HeaderName::from_static(name), value.into()));
        self
    }

    pub fn html(mut self) -> Self {
        self.accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        self
    }

    pub fn user_agent(mut self, ua: &'static str) -> Self {
        self.forced_user_agent = Some(ua);
        self
    }
}

/// A response with its body read (up to the cap).
#[derive(Debug)]
pub(crate) struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The logical URL of the last hop (before override rewriting).
    pub url: Url,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> String {
        self.headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    }

    /// The body as JSON, or a `Permanent` error quoting its start.
    pub fn json(&self, what: &str) -> Result<serde_json::Value, FetchError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            malformed(
                &format!("{what} is not JSON ({e})"),
                format!(
                    "HTTP {} from {}: {}",
                    self.status,
                    self.url,
                    excerpt(&self.body)
                ),
            )
            .with_source(e)
        })
    }

    /// The usual meaning of a status: `Ok` for 2xx, else a classified error.
    /// `forbidden` is what 403 means on this platform (a login wall on most,
    /// plain refusal for generic pages).
    pub fn check_status(&self, forbidden: ErrorClass) -> Result<(), FetchError> {
        match status_error(self.status, &self.headers, forbidden) {
            None => Ok(()),
            Some(e) => Err(e.with_detail(format!(
                "HTTP {} from {}: {}",
                self.status,
                self.url,
                excerpt(&self.body)
            ))),
        }
    }
}

/// Cheap to clone. Two reqwest clients: the plain one for platform APIs and
/// overridden hosts, and a guarded one whose resolver refuses private
/// addresses, for user-supplied pages.
#[derive(Clone)]
pub(crate) struct HttpClient {
    plain: Option<reqwest::Client>,
    guarded: Option<reqwest::Client>,
    overrides: UpstreamOverrides,
    cookies: Arc<std::collections::BTreeMap<Platform, Secret<String>>>,
    logins: LoginCookies,
    user_agent: Option<String>,
    allow_private_targets: bool,
    max_body_bytes: usize,
    max_redirects: usize,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("overrides", &self.overrides)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// For pages and APIs: `cfg.request_timeout` bounds each hop, body included.
    pub(crate) fn new(cfg: &FetchConfig) -> Self {
        Self::build(cfg, Some(cfg.request_timeout), None)
    }

    /// For media: no total timeout (a large video takes minutes), only
    /// `read_timeout` between two reads (response head or body chunks), so a
    /// stalled transfer fails and a slow one does not. A request can still
    /// set its own total with [`Get::timeout`].
    pub(crate) fn streaming(cfg: &FetchConfig, read_timeout: Duration) -> Self {
        Self::build(cfg, None, Some(read_timeout))
    }

    fn build(cfg: &FetchConfig, total: Option<Duration>, read: Option<Duration>) -> Self {
        let build = |guard: bool| {
            let mut builder = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(cfg.connect_timeout)
                .pool_idle_timeout(Duration::from_secs(60));
            if let Some(total) = total {
                builder = builder.timeout(total);
            }
            if let Some(read) = read {
                builder = builder.read_timeout(read);
            }
            if guard {
                builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
            }
            match builder.build() {
                Ok(c) => Some(c),
                Err(e) => {
                    // Only a broken TLS backend gets here; every fetch then
                    // fails with a clear message instead of a start-up panic.
                    tracing::error!(error = %e, "cannot build the HTTP client for fetching");
                    None
                }
            }
        };
        Self {
            plain: build(false),
            guarded: build(true),
            overrides: cfg.overrides.clone(),
            cookies: Arc::new(cfg.cookies.clone()),
            logins: cfg.logins.clone(),
            user_agent: cfg.user_agent.clone(),
            allow_private_targets: cfg.allow_private_targets,
            max_body_bytes: cfg.max_body_bytes,
            max_redirects: cfg.max_redirects,
        }
    }

    pub(crate) fn overrides(&self) -> &UpstreamOverrides {
        &self.overrides
    }

    /// Send a GET, following redirects by hand. HTTP error statuses are
    /// returned as responses (adapters know what their platform means by
    /// them); transport failures, guard refusals, too many redirects and
    /// oversized bodies are errors.
    pub(crate) async fn get(&self, req: Get) -> Result<Response, FetchError> {
        let (response, url) = self.send(&req).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = if req.only_documents && !is_document(&headers) {
            Vec::new()
        } else {
            read_capped(response, &url, self.max_body_bytes as u64).await?
        };
        Ok(Response {
            status,
            headers,
            body,
            url,
        })
    }

    /// [`HttpClient::get`] without reading the body: the live response of
    /// the last hop (any status but a redirect) and its logical URL, for
    /// callers that stream the body.
    pub(crate) async fn send(&self, req: &Get) -> Result<(reqwest::Response, Url), FetchError> {
        let first_host = req.url.host_str().map(str::to_ascii_lowercase);
        if req.platform.is_some() {
            self.logins.fresh().await;
        }
        let mut current = req.url.clone();
        for hop in 0..=self.max_redirects {
            let overridden = current
                .host_str()
                .is_some_and(|h| self.overrides.overrides_host(h));
            let guard = req.guarded && !self.allow_private_targets && !overridden;
            if guard {
                guard::check_url(&current)?;
            }
            let client = if guard { &self.guarded } else { &self.plain };
            let Some(client) = client else {
                return Err(FetchError::retryable("no HTTP client is available"));
            };
            let wire = self
                .overrides
                .rewrite(&current)
                .unwrap_or_else(|| current.clone());
            let same_host = current.host_str().map(str::to_ascii_lowercase) == first_host;
            let headers = self.headers(req, same_host)?;
            let started = Instant::now();
            let mut builder = match &req.form {
                Some(form) if hop == 0 => client
                    .post(wire)
                    .headers(headers)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.clone()),
                _ => client.get(wire).headers(headers),
            };
            if let Some(timeout) = req.timeout {
                builder = builder.timeout(timeout);
            }
            let response = builder
                .send()
                .await
                .map_err(|e| transport_error(&current, e))?;
            let status = response.status();
            if same_host && let Some(platform) = req.platform {
                // A platform that refreshes the login it was sent answers
                // with `Set-Cookie`: keep the new values.
                let set: Vec<String> = response
                    .headers()
                    .get_all(SET_COOKIE)
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect();
                if !set.is_empty() {
                    self.logins.absorb(platform, &set).await;
                }
            }
            let mut logged = current.clone();
            if req.secret_query {
                logged.set_query(Some("[redacted]"));
            }
            tracing::debug!(
                url = %logged,
                http.status = status.as_u16(),
                duration_ms = started.elapsed().as_millis() as u64,
                hop,
                "upstream response"
            );
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let location = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
                    .filter(|v| !v.is_empty());
                let Some(location) = location else {
                    return Err(FetchError::permanent(format!(
                        "{current} answered {status} without a Location"
                    )));
                };
                // Relative Locations resolve against the logical URL, so an
                // override never leaks into the next hop.
                let next = current.join(location).map_err(|e| {
                    FetchError::permanent(format!("{current} redirects to a bad URL: {e}"))
                        .with_source(e)
                })?;
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(FetchError::permanent(format!(
                        "{current} redirects to a `{}:` URL",
                        next.scheme()
                    )));
                }
                current = next;
                continue;
            }
            return Ok((response, current));
        }
        Err(FetchError::permanent(format!(
            "more than {} redirects (last: {current})",
            self.max_redirects
        )))
    }

    fn headers(&self, req: &Get, same_host: bool) -> Result<HeaderMap, FetchError> {
        let mut map = HeaderMap::new();
        let ua = req
            .forced_user_agent
            .map(str::to_owned)
            .or_else(|| self.user_agent.clone())
            .unwrap_or_else(|| DESKTOP_UA.to_owned());
        let bad = |what: &str| FetchError::permanent(format!("invalid {what} header value"));
        map.insert(
            USER_AGENT,
            HeaderValue::from_str(&ua).map_err(|_| bad("User-Agent"))?,
        );
        map.insert(ACCEPT, HeaderValue::from_static(req.accept));
        for (name, value) in &req.headers {
            map.insert(
                name.clone(),
                HeaderValue::from_str(value).map_err(|_| bad("request"))?,
            );
        }
        // The platform's cookie goes only to the host the adapter asked for,
        // never to wherever a redirect points.
        let operator = req.platform.and_then(|p| {
            self.logins
                .stored(p)
                .or_else(|| self.cookies.get(&p).cloned())
        });
        let cookie = operator
            .as_ref()
            .map(|c| c.expose().as_str())
            .or(req.cookie.as_deref());
        if same_host && let Some(cookie) = cookie {
            let mut value = HeaderValue::from_str(cookie.trim()).map_err(|_| bad("Cookie"))?;
            value.set_sensitive(true);
            map.insert(COOKIE, value);
        }
        Ok(map)
    }
}

/// Read a body into memory, at most `cap` bytes: the declared length is
/// checked before reading, the received length while reading.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    url: &Url,
    cap: u64,
) -> Result<Vec<u8>, FetchError> {
    let too_large = |size: String| {
        FetchError::too_large(format!(
            "the response from {url} is too large ({size} bytes, limit {cap})"
        ))
    };
    if let Some(len) = declared_length(response.headers()).filter(|len| *len > cap) {
        return Err(too_large(len.to_string()));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if (body.len() + chunk.len()) as u64 > cap {
                    return Err(too_large(format!("more than {cap}")));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(transport_error(url, e)),
        }
    }
}

/// `Content-Length`, when the response declares one.
pub(crate) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

fn is_document(headers: &HeaderMap) -> bool {
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    ct.is_empty()
        || ct.contains("html")
        || ct.contains("xml")
        || ct.contains("json")
        || ct.starts_with("text/")
}

/// A request that got no usable answer; the reqwest error is kept as the
/// source.
pub(crate) fn transport_error(url: &Url, e: reqwest::Error) -> FetchError {
    if let Some(refused) = guard::forbidden_in(&e) {
        return FetchError::permanent(format!("refused to fetch {url}: {refused}")).with_source(e);
    }
    let host = url.host_str().unwrap_or_default();
    let message = if e.is_timeout() {
        format!("{host} did not answer in time")
    } else if e.is_connect() {
        format!("cannot connect to {host}")
    } else {
        format!("request to {host} failed")
    };
    // The chain names the cause (DNS, TLS, reset) for operators; reqwest's
    // messages hold the URL but never headers.
    let detail = Chain::of(&e).to_string();
    FetchError::retryable(message)
        .with_detail(detail)
        .with_source(e)
}
