//! Outbound HTTP plumbing shared by the fetchers, the media downloader and
//! the short-link resolver.
//!
//! Layout:
//! - upstream overrides (this module): send requests meant for one host to
//!   another base URL;
//! - `config`: `FetchConfig`, what the client, the fetchers, the media
//!   downloader and the yt-dlp driver need from the settings (public as
//!   `fetch::FetchConfig`);
//! - `client`: the one HTTP client of the adapters and the media downloader
//!   (overrides, hand-followed redirects, the SSRF guard, a body cap);
//! - `status`: what an upstream's answer means as a `FetchError` (HTTP
//!   status → error class, `Retry-After`, unreadable bodies);
//! - `target`: the SSRF guard on a URL's host literal (also applied to
//!   every pasted link);
//! - `guard`: the SSRF guard at connection time (every resolved address
//!   must be public), shared by the client, the proxy and the short-link
//!   resolver;
//! - [`outbound`]: the same guard for addresses operators configure
//!   (webhook push targets), on a client that follows no redirects;
//! - [`proxy`]: the guarding forward proxy that programs making their own
//!   connections (yt-dlp) must go through;
//! - [`resolve`]: name resolution for that proxy (with a fixed table for
//!   tests).
//!
//! Tests and staging point real hostnames (`b23.tv`, `api.bilibili.com`, ...)
//! at a local replay server with `VAULTSTREAM_UPSTREAM_OVERRIDES`. The rest
//! of the code keeps working with the *logical* URL (the one the platform
//! would see), so relative redirects, identities and log lines stay the same
//! with or without an override; only the socket we connect to changes.

use url::Url;

pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod guard;
pub mod outbound;
pub mod proxy;
pub mod resolve;
pub(crate) mod status;
pub(crate) mod target;

/// `VAULTSTREAM_UPSTREAM_OVERRIDES`: host=base-url pairs; every outbound
/// request to `host` goes to base-url instead, path and query kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpstreamOverrides {
    /// (lowercase host without trailing dot, base URL). A handful of entries
    /// at most, so a linear scan beats a map.
    pairs: Vec<(String, Url)>,
}

impl UpstreamOverrides {
    /// Parse `"b23.tv=http://127.0.0.1:1234,api.bilibili.com=http://127.0.0.1:1234/bili"`
    /// (the settings loader's parser; blank input gives no overrides).
    pub fn parse(s: &str) -> Result<Self, String> {
        vaultstream_core::settings::parse_overrides(s).map(Self::from_pairs)
    }

    pub fn from_pairs(pairs: Vec<(String, Url)>) -> Self {
        Self {
            pairs: pairs
                .into_iter()
                .map(|(host, base)| (normalise_host(&host), base))
                .collect(),
        }
    }

    /// Rewrite a URL if its host (case-insensitive, exact host match) is
    /// overridden: scheme/host/port from base, base path prefix + original
    /// path, original query kept. Returns `None` when not overridden.
    pub fn rewrite(&self, url: &Url) -> Option<Url> {
        let base = self.base_for(url.host_str()?)?;
        let mut out = base.clone();
        let prefix = base.path().trim_end_matches('/');
        out.set_path(&format!("{prefix}{}", url.path()));
        out.set_query(url.query());
        out.set_fragment(None);
        Some(out)
    }

    /// Whether requests to `host` are redirected by the operator.
    pub fn overrides_host(&self, host: &str) -> bool {
        self.base_for(host).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Whether `host:port` is the authority of an override's base URL: an
    /// operator-configured route, trusted by the guard proxy.
    pub fn is_override_base(&self, host: &str, port: u16) -> bool {
        let host = normalise_host(host);
        self.pairs.iter().any(|(_, base)| {
            base.host_str().is_some_and(|h| {
                normalise_host(h.trim_start_matches('[').trim_end_matches(']')) == host
            }) && base.port_or_known_default() == Some(port)
        })
    }

    fn base_for(&self, host: &str) -> Option<&Url> {
        let host = normalise_host(host);
        self.pairs.iter().find(|(h, _)| *h == host).map(|(_, b)| b)
    }
}

/// Hosts compare case-insensitively and `b23.tv.` is the same name as `b23.tv`.
fn normalise_host(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    lower.strip_suffix('.').unwrap_or(&lower).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL")
    }

    #[test]
    fn parses_pairs_and_rewrites_with_prefix() {
        let o = UpstreamOverrides::parse(
            " b23.tv=http://127.0.0.1:1234 , API.Bilibili.com=http://127.0.0.1:1234/bili/ ",
        )
        .expect("valid");
        assert!(!o.is_empty());
        assert_eq!(
            o.rewrite(&url("https://b23.tv/abc?x=1#frag"))
                .map(String::from),
            Some("http://127.0.0.1:1234/abc?x=1".to_owned())
        );
        assert_eq!(
            o.rewrite(&url(
                "https://api.bilibili.com/x/web-interface/view?bvid=BV1"
            ))
            .map(String::from),
            Some("http://127.0.0.1:1234/bili/x/web-interface/view?bvid=BV1".to_owned())
        );
        // Case-insensitive and trailing-dot tolerant, but exact: no subdomains.
        assert!(o.rewrite(&url("https://B23.TV./x")).is_some());
        assert!(o.rewrite(&url("https://www.b23.tv/x")).is_none());
        assert!(o.rewrite(&url("https://bilibili.com/x")).is_none());
        assert!(o.overrides_host("b23.tv"));
        assert!(!o.overrides_host("t.co"));
    }

    #[test]
    fn empty_and_blank_give_no_overrides() {
        assert!(UpstreamOverrides::parse("").expect("ok").is_empty());
        assert!(UpstreamOverrides::parse(" , ").expect("ok").is_empty());
        assert!(
            UpstreamOverrides::default()
                .rewrite(&url("https://b23.tv/a"))
                .is_none()
        );
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "b23.tv",
            "=http://127.0.0.1",
            "b23.tv=",
            "b23.tv=127.0.0.1:80",
            "b23.tv=ftp://127.0.0.1/",
            "b23.tv=http://127.0.0.1/?q=1",
            "b 23.tv=http://127.0.0.1/",
            "b23.tv=http://127.0.0.1,b23.tv=http://127.0.0.2",
        ] {
            assert!(
                UpstreamOverrides::parse(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn from_pairs_normalises_hosts() {
        let o = UpstreamOverrides::from_pairs(vec![(
            "T.CO.".to_owned(),
            url("http://127.0.0.1:9/base"),
        )]);
        assert_eq!(
            o.rewrite(&url("https://t.co/x")).map(String::from),
            Some("http://127.0.0.1:9/base/x".to_owned())
        );
    }
}
