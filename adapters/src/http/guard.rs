//! The SSRF guard at connection time, shared by our HTTP client, the guard
//! proxy in front of yt-dlp and the short-link resolver.
//!
//! A URL first passes the literal check of [`super::target`]; then every
//! address its name resolves to must be public. The whole answer is judged,
//! and the checked addresses are the ones connected to, so a public name
//! rebinding to 127.0.0.1 between check and connect is still refused.

use std::net::{IpAddr, SocketAddr};

use url::Url;
use vaultstream_core::parsed::FetchError;

use super::target;

/// The literal check of [`target::check`] as a fetch failure (permanent:
/// asking again will not make the host public).
pub(crate) fn check_url(url: &Url) -> Result<(), FetchError> {
    target::check(url)
        .map_err(|e| FetchError::permanent(format!("refused to fetch: {}", e.message)))
}

/// A name resolved to an address we must not connect to.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {ip}, which is not a public address")]
pub(crate) struct ForbiddenAddress {
    host: String,
    pub(crate) ip: IpAddr,
}

/// Every address of `addrs` must be public; the first that is not is named.
pub(crate) fn check_resolved(host: &str, addrs: &[SocketAddr]) -> Result<(), ForbiddenAddress> {
    match addrs.iter().map(SocketAddr::ip).find(|ip| !is_public(*ip)) {
        None => Ok(()),
        Some(ip) => Err(ForbiddenAddress {
            host: host.to_owned(),
            ip,
        }),
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => target::is_public_v4(v4),
        IpAddr::V6(v6) => target::is_public_v6(v6),
    }
}

/// The guard's refusal inside an error chain (reqwest wraps what a resolver
/// returns), if that is why a request failed.
pub(crate) fn forbidden_in<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a ForbiddenAddress> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<ForbiddenAddress>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// Resolves with the system resolver and refuses the whole answer if any
/// address is private: a name with one private record is hostile or
/// misconfigured either way.
pub(crate) struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            check_resolved(&host, &addrs)?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolved_private_addresses_are_refused() {
        let ok: Vec<SocketAddr> = vec!["93.184.216.34:0".parse().expect("addr")];
        assert!(check_resolved("example.com", &ok).is_ok());
        for bad in ["127.0.0.1:0", "10.0.0.7:0", "169.254.169.254:0", "[::1]:0"] {
            let addrs: Vec<SocketAddr> = vec![ok[0], bad.parse().expect("addr")];
            let err = check_resolved("rebind.example", &addrs).expect_err("refused");
            assert!(err.to_string().contains("not a public address"), "{err}");
        }
    }
}
