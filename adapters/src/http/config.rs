//! [`FetchConfig`]: what the fetchers, the media downloader and the
//! yt-dlp driver need from the settings — all of it about reaching
//! upstreams: the client's limits, cookies and User-Agent, the guard's
//! rules, and the yt-dlp program that runs behind the guard proxy. It sits
//! here, below all three, so none of them reaches up into another for it.

use std::collections::BTreeMap;
use std::time::Duration;

use vaultstream_core::Platform;
use vaultstream_core::settings::Secret;

use super::UpstreamOverrides;
use super::resolve::Resolver;
use crate::logins::LoginCookies;

/// Everything the adapters need from the settings, as one value tests can
/// build by hand.
#[derive(Clone, Debug)]
pub struct FetchConfig {
    pub overrides: UpstreamOverrides,
    /// Replaces our default browser User-Agent where a platform does not
    /// need a specific one (Weibo and Douyin need a phone, the Twitter
    /// syndication endpoint answers Googlebot).
    pub user_agent: Option<String>,
    /// A `Cookie` header value per platform. Sent only to the host the
    /// adapter asked for, never logged.
    pub cookies: BTreeMap<Platform, Secret<String>>,
    /// Logins from the vault (`core::db::logins`); a stored login wins over
    /// `cookies`. Clones share one cache.
    pub logins: LoginCookies,
    /// Let generic pages point at loopback/private addresses (development).
    pub allow_private_targets: bool,
    /// The yt-dlp program (a name on PATH or a path).
    pub ytdlp: String,
    pub connect_timeout: Duration,
    /// Whole request, headers and body, per hop.
    pub request_timeout: Duration,
    /// Whole yt-dlp run; the process is killed when it is exceeded.
    pub ytdlp_timeout: Duration,
    /// Largest response body read; more is a `Permanent` "too large".
    pub max_body_bytes: usize,
    pub max_redirects: usize,
    /// How the guard proxy in front of yt-dlp resolves names (the system
    /// resolver; tests add fixed answers).
    pub resolver: Resolver,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            overrides: UpstreamOverrides::default(),
            user_agent: None,
            cookies: BTreeMap::new(),
            logins: LoginCookies::default(),
            allow_private_targets: false,
            ytdlp: "yt-dlp".to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            ytdlp_timeout: Duration::from_secs(120),
            max_body_bytes: 8 * 1024 * 1024,
            max_redirects: 5,
            resolver: Resolver::system(),
        }
    }
}

impl FetchConfig {
    pub fn from_settings(settings: &vaultstream_core::Settings) -> Self {
        Self {
            overrides: UpstreamOverrides::from_pairs(settings.upstream_overrides.clone()),
            user_agent: settings.user_agent.clone(),
            cookies: settings.cookies.clone(),
            allow_private_targets: settings.allow_private_targets,
            ytdlp: settings.ytdlp.clone(),
            ..Self::default()
        }
    }

    /// The same, with the login vault's cookies (`None`: no vault key).
    pub fn with_vault(mut self, vault: Option<vaultstream_core::db::logins::Vault>) -> Self {
        self.logins = LoginCookies::new(vault);
        self
    }

    /// The cookie requests to `platform` carry: the stored login, else the
    /// environment's (as last read: see `LoginCookies`).
    pub fn cookie(&self, platform: Platform) -> Option<Secret<String>> {
        self.logins
            .stored(platform)
            .or_else(|| self.cookies.get(&platform).cloned())
    }
}
