//! Outbound requests to addresses operators configure (webhook push
//! targets): the same SSRF guard as every pasted link — the host literal
//! when the address is stored and again before each request, then every
//! resolved address when connecting — on a client that never follows
//! redirects (a receiver's redirect is its answer, not a new target).
//!
//! `allow_private` is `VAULTSTREAM_ALLOW_PRIVATE_TARGETS`: tests let
//! loopback receivers through; deployments keep it off.

use std::sync::Arc;
use std::time::Duration;

use url::Url;
use vaultstream_core::UserError;

use super::{guard, target};

/// Refuse an address that is not a public internet target (unless
/// `allow_private`): `forbidden_target`, naming the host.
pub fn check_target(url: &Url, allow_private: bool) -> Result<(), UserError> {
    if allow_private {
        return Ok(());
    }
    target::check(url).map_err(|mut e| {
        e.message = e
            .message
            .replacen("the link points at", "the address points at", 1)
            .replacen("cannot be archived", "is not allowed as a target", 1);
        e
    })
}

/// A client for posting to configured addresses: no redirects, the
/// guard's resolver (unless `allow_private`), `total` per request.
pub fn client(
    connect: Duration,
    total: Duration,
    allow_private: bool,
) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect.min(total))
        .timeout(total)
        .pool_idle_timeout(Duration::from_secs(60));
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(guard::PublicOnlyResolver));
    }
    builder.build()
}

/// The guard's refusal, when that is why a request failed: a name that
/// resolved to a private address.
pub fn refused_address(e: &reqwest::Error) -> Option<String> {
    guard::forbidden_in(e).map(ToString::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_refused_unless_allowed() {
        for bad in [
            "http://127.0.0.1:8080/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://10.1.2.3/x",
            "http://[::1]/x",
            "http://metadata/x",
            "http://hooks.internal/x",
        ] {
            let url = Url::parse(bad).expect("url");
            let err = check_target(&url, false).expect_err(bad);
            assert_eq!(err.code, vaultstream_core::ErrorCode::ForbiddenTarget);
            assert!(
                err.message.contains("not allowed as a target"),
                "{}",
                err.message
            );
            assert!(check_target(&url, true).is_ok());
        }
        let ok = Url::parse("https://hooks.example.com/x").expect("url");
        assert!(check_target(&ok, false).is_ok());
    }
}
