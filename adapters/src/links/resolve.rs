//! Follow short links (b23.tv, t.co, xhslink.com, ...) to the content.
//!
//! Only shortener hosts are ever requested. Each `Location` is recognised
//! *before* anything else happens: platform content ends the walk at once
//! (the platform page itself is never fetched here — that is the archiver's
//! job, with its own rate limits and cookies), another short link is the next
//! hop, and any other URL becomes a generic page. Every hop passes the same
//! target guard as a pasted link, so a shortener cannot bounce us to
//! 169.254.169.254.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use regex::Regex;
use reqwest::header::{ACCEPT, LOCATION};
use url::Url;
use vaultstream_core::{ErrorCode, UserError};

use super::{Identified, LinkPolicy, Recognised, recognise, recognise_text};

/// Shorteners that are not tied to one platform but often wrap one.
pub(crate) const GENERIC_SHORTENERS: &[&str] = &["bit.ly", "tinyurl.com"];

/// A shortener's interstitial page is small; stop reading well before a
/// hostile endpoint could make us buffer much.
const MAX_PAGE_BYTES: usize = 64 * 1024;

/// Holds a reqwest client built once (redirects disabled: we follow by hand),
/// cheap to clone.
#[derive(Clone)]
pub struct Linker {
    policy: Arc<LinkPolicy>,
    /// `None` only if the TLS backend failed to initialise; resolving then
    /// fails with a clear message instead of panicking at start-up.
    client: Option<reqwest::Client>,
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Linker {
    pub fn new(policy: LinkPolicy) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.resolve_timeout)
            .connect_timeout(policy.resolve_timeout)
            .user_agent(policy.user_agent.clone())
            .build();
        let client = match client {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "cannot build the HTTP client for short links");
                None
            }
        };
        Self {
            policy: Arc::new(policy),
            client,
        }
    }

    pub fn policy(&self) -> &LinkPolicy {
        &self.policy
    }

    /// Extract the link from a whole share text, recognise it, resolve short
    /// links by following redirects (bounded), and return the identity.
    pub async fn identify(&self, text: &str) -> Result<Identified, UserError> {
        let (submitted, recognised) = recognise_text(text, &self.policy)?;
        match recognised {
            Recognised::Content(identity) => {
                if identity.platform == vaultstream_core::Platform::Web {
                    self.refuse_private_names(&submitted).await?;
                }
                Ok(Identified {
                    identity,
                    submitted_url: submitted.into(),
                    resolved_url: None,
                })
            }
            Recognised::ShortLink(short) => {
                let limit = self.policy.resolve_timeout;
                let walk = tokio::time::timeout(limit, self.follow(short.clone())).await;
                let (identity, resolved) = match walk {
                    Ok(outcome) => outcome?,
                    Err(_) => {
                        return Err(unresolved(
                            &short,
                            format!("it did not resolve within {} ms", limit.as_millis()),
                        ));
                    }
                };
                Ok(Identified {
                    identity,
                    submitted_url: submitted.into(),
                    resolved_url: Some(resolved.into()),
                })
            }
        }
    }

    /// A generic link whose host *name* resolves to a loopback, private or
    /// metadata address (`127.0.0.1.nip.io`, an /etc/hosts alias) is refused
    /// at once. The lookup is bounded: if DNS is slow or unavailable the
    /// link is accepted, and the fetcher's resolver refuses such addresses
    /// again on every connection.
    async fn refuse_private_names(&self, url: &Url) -> Result<(), UserError> {
        const LOOKUP_LIMIT: Duration = Duration::from_millis(500);
        let Some(url::Host::Domain(host)) = url.host() else {
            return Ok(());
        };
        if self.policy.allow_private_targets || self.policy.overrides.overrides_host(host) {
            return Ok(());
        }
        let lookup = tokio::net::lookup_host((host, 0));
        let Ok(Ok(addrs)) = tokio::time::timeout(LOOKUP_LIMIT, lookup).await else {
            return Ok(());
        };
        let addrs: Vec<std::net::SocketAddr> = addrs.collect();
        crate::http::guard::check_resolved(host, &addrs).map_err(|f| {
            UserError::new(
                ErrorCode::ForbiddenTarget,
                format!(
                    "the link's host `{host}` resolves to `{}`, which cannot be archived: its address is not public",
                    f.ip
                ),
            )
        })
    }

    /// Walk the redirect chain from `short` until a URL is not a short link.
    async fn follow(&self, short: Url) -> Result<(vaultstream_core::Identity, Url), UserError> {
        let mut current = short.clone();
        for _ in 0..self.policy.max_redirects {
            let next = self.next_hop(&short, &current).await?;
            tracing::debug!(short_link = %short, from = %current, to = %next, "short link hop");
            match recognise(&next, &self.policy)? {
                Recognised::Content(identity) => return Ok((identity, next)),
                Recognised::ShortLink(again) => current = again,
            }
        }
        Err(unresolved(
            &short,
            format!(
                "it redirects more than {} times (last: {current})",
                self.policy.max_redirects
            ),
        ))
    }

    /// One request: where does `current` send us?
    async fn next_hop(&self, short: &Url, current: &Url) -> Result<Url, UserError> {
        let Some(client) = &self.client else {
            return Err(unresolved(short, "no HTTP client is available".to_owned()));
        };
        // Only the socket changes under an override; relative redirects are
        // still resolved against the logical URL below.
        let request_url = self
            .policy
            .overrides
            .rewrite(current)
            .unwrap_or_else(|| current.clone());
        let response = client
            .get(request_url)
            .header(ACCEPT, "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
            .send()
            .await
            .map_err(|e| unresolved(short, describe(current, &e)))?;
        let status = response.status();
        let target = if status.is_redirection() {
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    unresolved(
                        short,
                        format!("{current} answered {status} without a Location"),
                    )
                })?;
            location.to_owned()
        } else if status.is_success() {
            let page = read_capped(response).await;
            page_redirect(&page).ok_or_else(|| {
                unresolved(
                    short,
                    format!("{current} answered {status} with a page that leads nowhere"),
                )
            })?
        } else {
            return Err(unresolved(short, format!("{current} answered {status}")));
        };
        let next = current.join(&target).map_err(|e| {
            unresolved(
                short,
                format!("{current} redirects to a bad URL `{target}`: {e}"),
            )
        })?;
        if !matches!(next.scheme(), "http" | "https") {
            return Err(unresolved(
                short,
                format!(
                    "{current} redirects to a `{}:` link, not a web page",
                    next.scheme()
                ),
            ));
        }
        Ok(next)
    }
}

fn unresolved(short: &Url, why: String) -> UserError {
    UserError::new(
        ErrorCode::ShortLinkUnresolved,
        format!("the short link {short} could not be resolved: {why}"),
    )
}

fn describe(url: &Url, e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("{url} did not answer in time")
    } else if e.is_connect() {
        format!("cannot connect to {}", url.host_str().unwrap_or_default())
    } else {
        format!("request to {url} failed: {e}")
    }
}

/// The start of a response body, decoded leniently (shorteners' pages are
/// ASCII where it matters).
async fn read_capped(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < MAX_PAGE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(MAX_PAGE_BYTES);
    String::from_utf8_lossy(&body).into_owned()
}

/// Where an HTML interstitial sends the browser: `<meta http-equiv="refresh"
/// content="0;URL=…">` (t.co answers browsers this way), else a script's
/// `location.replace("…")` / `location.href = "…"`.
fn page_redirect(page: &str) -> Option<String> {
    static META: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?is)<meta\b[^>]*>").expect("static regex"));
    static REFRESH: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?is)http-equiv\s*=\s*["']?\s*refresh"#).expect("static regex")
    });
    static CONTENT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?is)\bcontent\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#)
            .expect("static regex")
    });
    static URL_PART: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?is)^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?["']?([^"']+)["']?\s*$"#)
            .expect("static regex")
    });
    static SCRIPT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?s)location(?:\.href)?\s*(?:=|\.replace\(|\.assign\()\s*["']([^"']+)["']"#)
            .expect("static regex")
    });

    for tag in META.find_iter(page) {
        let tag = tag.as_str();
        if !REFRESH.is_match(tag) {
            continue;
        }
        let url = CONTENT
            .captures(tag)
            .and_then(|c| c.get(1).or(c.get(2)).or(c.get(3)))
            .and_then(|value| URL_PART.captures(value.as_str()))
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().trim());
        // `content="30"` only reloads the same page.
        if let Some(url) = url.filter(|u| u.chars().any(|c| !c.is_ascii_digit())) {
            return Some(unescape_html(url));
        }
    }
    let script = SCRIPT.captures(page)?.get(1)?.as_str();
    Some(script.replace("\\/", "/"))
}

/// The few entities that appear in URLs inside attributes.
fn unescape_html(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A name (not a literal address) that resolves to loopback is refused;
    /// `localhost` resolves through /etc/hosts on every machine, so the
    /// check is exercised without any network.
    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused() {
        let linker = Linker::new(LinkPolicy::default());
        let err = linker
            .refuse_private_names(&Url::parse("http://localhost:8080/x").unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::ForbiddenTarget);
        assert!(err.message.contains("resolves to"), "{}", err.message);
        // Unresolvable names are left to the fetcher's guard.
        linker
            .refuse_private_names(&Url::parse("http://no-such-host.invalid/").unwrap())
            .await
            .unwrap();
        let open = Linker::new(LinkPolicy {
            allow_private_targets: true,
            ..LinkPolicy::default()
        });
        open.refuse_private_names(&Url::parse("http://localhost/").unwrap())
            .await
            .unwrap();
    }

    #[test]
    fn meta_refresh_forms() {
        let t_co = r#"<head><noscript><META http-equiv="refresh" content="0;URL=https://x.com/jack/status/20?a=1&amp;b=2"></noscript><title>https://x.com/jack/status/20</title></head>"#;
        assert_eq!(
            page_redirect(t_co).as_deref(),
            Some("https://x.com/jack/status/20?a=1&b=2")
        );
        let reversed = r#"<meta content='5; url=/BV1GJ411x7h7' http-equiv='Refresh'>"#;
        assert_eq!(page_redirect(reversed).as_deref(), Some("/BV1GJ411x7h7"));
        let script = r#"<script>window.location.replace("https:\/\/www.douyin.com\/video\/7535852404919586100")</script>"#;
        assert_eq!(
            page_redirect(script).as_deref(),
            Some("https://www.douyin.com/video/7535852404919586100")
        );
        assert_eq!(page_redirect("<html><body>hello</body></html>"), None);
        assert_eq!(
            page_redirect(r#"<meta http-equiv="refresh" content="30">"#),
            None
        );
    }

    #[test]
    fn default_policy() {
        let p = LinkPolicy::default();
        assert!(!p.allow_private_targets);
        assert_eq!(p.resolve_timeout, Duration::from_secs(5));
        assert_eq!(p.max_redirects, 5);
        assert!(p.overrides.is_empty());
        assert!(p.user_agent.starts_with("Mozilla/5.0"));
    }
}
