//! Generic pages: the identity is the normalised URL itself.
//!
//! Normalisation only removes what cannot change the page: scheme/host case
//! and default port (done by the `url` crate), the host's trailing dot, the
//! fragment, credentials, well-known tracking parameters and the order of
//! query parameters. Anything else — path, trailing slash, a meaningful
//! query — is kept, because two URLs that differ there may be two pages.

use url::Url;
use vaultstream_core::{ContentKind, ErrorCode, Identity, Platform, UserError};

/// Longest normalised URL we store as an identity.
pub(crate) const MAX_URL_BYTES: usize = 2048;

/// Parameters that only say who shared or clicked, never what is shown.
/// Conservative on purpose: a wrongly stripped parameter merges two pages.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "yclid",
    "twclid",
    "ttclid",
    "li_fat_id",
    "mc_cid",
    "mc_eid",
    "igshid",
    "igsh",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "_ga",
    "_gl",
    // Alibaba/Bilibili "super position model" click tracking and Bilibili
    // share-sheet parameters (seen on profile and space pages).
    "spm",
    "spm_id_from",
    "vd_source",
    "share_source",
    "share_medium",
    "share_plat",
    "share_session_id",
    "share_tag",
    "share_from",
    "unique_k",
    "bbid",
    "ts_share",
];

fn is_tracking(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.starts_with("utm_") || TRACKING_PARAMS.contains(&key.as_str())
}

pub(crate) fn identity(url: &Url) -> Result<Identity, UserError> {
    let normalised = normalise(url);
    if normalised.len() > MAX_URL_BYTES {
        return Err(UserError::new(
            ErrorCode::UrlTooLong,
            format!(
                "the link is {} bytes long after normalisation; at most {MAX_URL_BYTES} are accepted",
                normalised.len()
            ),
        ));
    }
    Ok(Identity {
        platform: Platform::Web,
        platform_id: normalised.clone(),
        canonical_url: normalised,
        kind: ContentKind::Page,
    })
}

pub(crate) fn normalise(url: &Url) -> String {
    let mut out = url.clone();
    out.set_fragment(None);
    // Credentials never identify a page and must not end up in the database.
    // Both setters only fail for URLs without a host, which http(s) never are.
    let _ = out.set_username("");
    let _ = out.set_password(None);
    let shorter = url
        .host_str()
        .and_then(|h| h.strip_suffix('.'))
        .filter(|h| !h.is_empty() && !h.ends_with('.'));
    if let Some(host) = shorter {
        // Re-parsing the shorter name cannot fail where the longer one parsed.
        let _ = out.set_host(Some(host));
    }
    let query = url.query().map(normalise_query).unwrap_or_default();
    out.set_query(if query.is_empty() { None } else { Some(&query) });
    out.into()
}

/// Drop tracking parameters and sort the rest by key. Pairs are kept as raw
/// text (not decoded and re-encoded) so `?a` and `?a=` or `%20` and `+` stay
/// distinct exactly as the server sees them; the sort is stable, so repeated
/// keys keep their relative order (it may matter to the server).
fn normalise_query(query: &str) -> String {
    let mut pairs: Vec<(String, &str)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let raw_key = pair.split_once('=').map_or(pair, |(k, _)| k);
            let key = percent_encoding::percent_decode_str(&raw_key.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            (key, pair)
        })
        .filter(|(key, _)| !is_tracking(key))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .iter()
        .map(|(_, pair)| *pair)
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalise(&Url::parse(s).expect("test URL"))
    }

    #[test]
    fn normalises() {
        assert_eq!(
            norm("HTTPS://Example.COM:443/a/b/?b=2&a=1#x"),
            "https://example.com/a/b/?a=1&b=2"
        );
        assert_eq!(norm("http://example.com:80"), "http://example.com/");
        assert_eq!(norm("http://example.com:8080/"), "http://example.com:8080/");
        assert_eq!(norm("https://example.com./p"), "https://example.com/p");
        assert_eq!(norm("https://u:p@example.com/p"), "https://example.com/p");
        assert_eq!(
            norm("https://example.com/p?utm_source=x&UTM_Medium=y&fbclid=z"),
            "https://example.com/p"
        );
        assert_eq!(norm("https://example.com/p?"), "https://example.com/p");
        assert_eq!(norm("https://example.com/p?&&"), "https://example.com/p");
        assert_eq!(
            norm("https://example.com/p?b=1&a=2&b=0"),
            "https://example.com/p?a=2&b=1&b=0"
        );
        assert_eq!(norm("https://example.com/p?q"), "https://example.com/p?q");
        assert_eq!(
            norm("https://example.com/a/./b/../c"),
            "https://example.com/a/c"
        );
        // Keys that merely contain a tracking word are not tracking.
        assert_eq!(
            norm("https://example.com/p?utm=1&myspm=2"),
            "https://example.com/p?myspm=2&utm=1"
        );
    }
}
