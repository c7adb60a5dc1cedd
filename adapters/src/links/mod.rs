//! From a pasted share text to the [`Identity`] of one piece of content.
//!
//! Layout:
//! - [`extract`](fn@extract): find link candidates in free text (pure).
//! - one file per platform (`bilibili`, `twitter`, ...): recognise a URL's
//!   host and path and spell the platform id one canonical way (pure).
//! - `web`: normalise any other URL into a generic page identity (pure).
//! - `resolve`: [`Linker`], which follows short links over the network.
//!
//! Everything but `resolve` is pure so the identity contract can be tested
//! exhaustively without a network. Hosts are refused by the SSRF target
//! guard of [`crate::http`] (the literal here, every resolved address when
//! a name is looked up).

mod bilibili;
mod douyin;
mod extract;
mod resolve;
mod twitter;
mod web;
mod weibo;
mod xiaohongshu;
mod youtube;
mod zhihu;

use std::time::Duration;

use url::Url;
use vaultstream_core::{ContentKind, ErrorCode, Identity, Platform, UserError};

pub use bilibili::{av_to_bv, bv_to_av};
pub use extract::extract;
pub use resolve::Linker;
pub use weibo::{bid_to_mid, mid_to_bid};

/// How links are checked and short links followed.
#[derive(Clone, Debug)]
pub struct LinkPolicy {
    /// Accept loopback/private/link-local targets (development only).
    pub allow_private_targets: bool,
    /// Upper bound on the whole short-link resolution, all hops together.
    pub resolve_timeout: Duration,
    /// Redirects followed at most while resolving one short link.
    pub max_redirects: usize,
    pub overrides: crate::http::UpstreamOverrides,
    pub user_agent: String,
}

impl Default for LinkPolicy {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            resolve_timeout: Duration::from_secs(5),
            max_redirects: 5,
            overrides: crate::http::UpstreamOverrides::default(),
            // Shorteners answer scripts with interstitials or app-scheme
            // redirects; a desktop browser gets the plain 30x to the web page.
            user_agent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                         (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
                .to_owned(),
        }
    }
}

impl LinkPolicy {
    /// The policy the settings describe (the API, the CLI and the bot all
    /// recognise links the same way).
    pub fn from_settings(settings: &vaultstream_core::Settings) -> Self {
        let defaults = Self::default();
        Self {
            allow_private_targets: settings.allow_private_targets,
            resolve_timeout: Duration::from_millis(settings.resolve_timeout_ms),
            overrides: crate::http::UpstreamOverrides::from_pairs(
                settings.upstream_overrides.clone(),
            ),
            user_agent: settings.user_agent.clone().unwrap_or(defaults.user_agent),
            ..defaults
        }
    }
}

/// What a submission reduced to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identified {
    pub identity: Identity,
    /// The link as found in the text.
    pub submitted_url: String,
    /// Final URL after following a short link, if one was followed.
    pub resolved_url: Option<String>,
}

/// The outcome of recognising one URL without touching the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recognised {
    Content(Identity),
    /// A known shortener: the content is only known after following it.
    ShortLink(Url),
}

/// Longest link we accept from a text at all. Platform links shed their
/// tracking junk before storage; generic pages are held to
/// [`web::MAX_URL_BYTES`] after normalisation.
const MAX_SUBMITTED_URL_BYTES: usize = 8 * 1024;

/// Outbound wrappers (`link.zhihu.com/?target=`) nest; real ones never more
/// than once, so a small bound only stops hostile inputs.
const MAX_UNWRAP_DEPTH: usize = 3;

/// Pure, no network: recognise one URL. Short links come back as
/// [`Recognised::ShortLink`].
pub fn recognise(url: &Url, policy: &LinkPolicy) -> Result<Recognised, UserError> {
    recognise_at_depth(url, policy, 0)
}

/// Pure part of [`Linker::identify`]: extract the links of a text, pick the
/// one to use and recognise it. Returns the link as found and what it is.
///
/// The first link that is platform content or a short link wins; otherwise
/// the first link (so a text citing a random page and then a video archives
/// the video).
pub fn recognise_text(text: &str, policy: &LinkPolicy) -> Result<(Url, Recognised), UserError> {
    let candidates = extract(text)?;
    let mut first: Option<(Url, Result<Recognised, UserError>)> = None;
    for url in candidates {
        let outcome = recognise(&url, policy);
        let is_platform = match &outcome {
            Ok(Recognised::ShortLink(_)) => true,
            Ok(Recognised::Content(id)) => id.platform != Platform::Web,
            Err(_) => false,
        };
        if is_platform {
            return outcome.map(|r| (url, r));
        }
        if first.is_none() {
            first = Some((url, outcome));
        }
    }
    match first {
        Some((url, outcome)) => outcome.map(|r| (url, r)),
        // `extract` never returns an empty list without an error.
        None => Err(UserError::new(
            ErrorCode::NoLinkFound,
            "no link in the text",
        )),
    }
}

fn recognise_at_depth(
    url: &Url,
    policy: &LinkPolicy,
    depth: usize,
) -> Result<Recognised, UserError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UserError::new(
            ErrorCode::UnsupportedScheme,
            format!(
                "only http and https links can be archived, not `{}:`",
                url.scheme()
            ),
        ));
    }
    if url.as_str().len() > MAX_SUBMITTED_URL_BYTES {
        return Err(UserError::new(
            ErrorCode::UrlTooLong,
            format!("the link is longer than {MAX_SUBMITTED_URL_BYTES} bytes"),
        ));
    }
    let Some(raw_host) = url.host_str() else {
        return Err(UserError::new(
            ErrorCode::InvalidUrl,
            "the link has no host",
        ));
    };
    // An overridden host is the operator's own choice (tests point b23.tv at
    // 127.0.0.1); everything else must be a public target.
    if !policy.allow_private_targets && !policy.overrides.overrides_host(raw_host) {
        crate::http::target::check(url)?;
    }
    let host = host_key(raw_host);
    let found = bilibili::recognise(&host, url)
        .or_else(|| twitter::recognise(&host, url))
        .or_else(|| weibo::recognise(&host, url))
        .or_else(|| xiaohongshu::recognise(&host, url))
        .or_else(|| zhihu::recognise(&host, url))
        .or_else(|| douyin::recognise(&host, url))
        .or_else(|| youtube::recognise(&host, url))
        .or_else(|| {
            let is_short = resolve::GENERIC_SHORTENERS.contains(&host.as_str());
            (is_short && !segments(url).is_empty()).then_some(Found::Short)
        });
    match found {
        Some(Found::Content(identity)) => Ok(Recognised::Content(identity)),
        Some(Found::Short) => Ok(Recognised::ShortLink(url.clone())),
        Some(Found::Unwrap(inner)) if depth < MAX_UNWRAP_DEPTH => {
            recognise_at_depth(&inner, policy, depth + 1)
        }
        Some(Found::Unwrap(_)) | None => web::identity(url).map(Recognised::Content),
    }
}

/// What a platform recogniser says about a URL on one of its hosts.
/// `None` from a recogniser means "not content I know": a generic page.
pub(crate) enum Found {
    Content(Identity),
    /// A shortener whose target must be fetched.
    Short,
    /// An outbound wrapper around another URL (`link.zhihu.com/?target=`).
    Unwrap(Url),
}

/// Whether `host` (any case, trailing dot allowed) belongs to a platform we
/// know, shorteners included. Used to prefer platform links in texts.
pub(crate) fn is_known_host(host: &str) -> bool {
    let host = host_key(host);
    [
        bilibili::HOSTS,
        twitter::HOSTS,
        weibo::HOSTS,
        xiaohongshu::HOSTS,
        zhihu::HOSTS,
        douyin::HOSTS,
        youtube::HOSTS,
        resolve::GENERIC_SHORTENERS,
    ]
    .iter()
    .any(|hosts| hosts.contains(&host.as_str()))
}

/// Host as compared against our tables: lowercase, one trailing dot dropped
/// (`www.bilibili.com.` is the same DNS name).
pub(crate) fn host_key(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    lower.strip_suffix('.').unwrap_or(&lower).to_owned()
}

/// Non-empty path segments, still percent-encoded (ids are ASCII).
pub(crate) fn segments(url: &Url) -> Vec<&str> {
    url.path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

/// The first value of a query parameter, decoded. "First wins" matters for
/// YouTube, where `?v=a&v=b` plays `a`.
pub(crate) fn query_param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// A numeric id of `min..=max` ASCII digits, spelled without leading zeros
/// so `020` and `20` never become two items. Zero is no id.
pub(crate) fn numeric_id(s: &str, min: usize, max: usize) -> Option<u64> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().filter(|n| *n > 0)
}

/// ASCII case-insensitive comparison of a path keyword.
pub(crate) fn is(segment: Option<&&str>, keyword: &str) -> bool {
    segment.is_some_and(|s| s.eq_ignore_ascii_case(keyword))
}

pub(crate) fn content(
    platform: Platform,
    platform_id: String,
    canonical_url: String,
    kind: ContentKind,
) -> Option<Found> {
    Some(Found::Content(Identity {
        platform,
        platform_id,
        canonical_url,
        kind,
    }))
}
