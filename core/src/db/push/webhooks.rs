//! Webhook targets: what makes a webhook address, its destination key and
//! its signing secret acceptable. The SSRF guard on the address (no
//! loopback, private or metadata hosts) is the adapters' — the same as for
//! any pasted link — and runs before these, in the API; this module checks
//! what the database stores.
//!
//! Secrets follow the Standard Webhooks convention
//! (<https://www.standardwebhooks.com/>, "Signature scheme"): `whsec_` and
//! the base64 of 24 to 64 random bytes; the bytes are the HMAC-SHA256 key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use url::Url;

use crate::status::WebhookFormat;
use crate::{ErrorCode, UserError};

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Longest webhook URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

fn invalid(message: impl Into<String>) -> UserError {
    UserError::new(ErrorCode::InvalidBody, message)
}

/// A webhook to create: its address, receiver format and (for `standard`)
/// signing secret — `None` makes a fresh one, returned once on creation.
#[derive(Clone, PartialEq)]
pub struct NewWebhook {
    pub url: String,
    pub format: WebhookFormat,
    pub secret: Option<String>,
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("url", &redacted_url(&self.url, self.format))
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// An absolute `http`/`https` URL without credentials or fragment,
/// normalised by the WHATWG parser.
pub fn validate_url(raw: &str) -> Result<Url, UserError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(invalid(
            "`url` is empty; give the webhook's https:// address",
        ));
    }
    if s.chars().count() > MAX_URL_CHARS {
        return Err(invalid(format!(
            "`url` is longer than {MAX_URL_CHARS} characters"
        )));
    }
    let url = Url::parse(s).map_err(|e| invalid(format!("`url` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "`url` must be http:// or https://, not {}:",
            url.scheme()
        )));
    }
    if url.host().is_none() {
        return Err(invalid("`url` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "`url` must not carry a user name or password; use `secret` to sign requests",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid("`url` must not have a #fragment"));
    }
    Ok(url)
}

/// The unique destination key of a webhook (`push_targets.chat_id`): one
/// URL is one target, so an item reaches it at most once.
pub fn webhook_key(url: &Url) -> String {
    let digest = Sha256::digest(url.as_str().as_bytes());
    format!("webhook:{}", hex::encode(&digest[..16]))
}

/// A fresh Standard Webhooks secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The HMAC key of a secret (`whsec_` + base64 of 24..=64 bytes).
pub fn secret_bytes(secret: &str) -> Result<Vec<u8>, UserError> {
    let bad = || {
        invalid(format!(
            "`secret` must be `{SECRET_PREFIX}` followed by the base64 of 24 to 64 random bytes (leave it out to have one made)"
        ))
    };
    let b64 = secret.trim().strip_prefix(SECRET_PREFIX).ok_or_else(bad)?;
    let bytes = STANDARD.decode(b64).map_err(|_| bad())?;
    if !(24..=64).contains(&bytes.len()) {
        return Err(bad());
    }
    Ok(bytes)
}

/// The secret to store for a webhook: the one given (checked), or a fresh
/// one; none for Discord and Slack, which do not verify signatures.
pub fn secret_for(format: WebhookFormat, given: Option<&str>) -> Result<Option<String>, UserError> {
    match (format, given) {
        (WebhookFormat::Standard, Some(s)) => {
            secret_bytes(s)?;
            Ok(Some(s.trim().to_owned()))
        }
        (WebhookFormat::Standard, None) => Ok(Some(new_secret())),
        (_, Some(_)) => Err(invalid(format!(
            "`secret`: {format} webhooks are not signed; leave it out"
        ))),
        (_, None) => Ok(None),
    }
}

/// A webhook URL as shown to operators: Discord's and Slack's incoming
/// webhook URLs are credentials (their last path segment is the token), so
/// it is masked; a query string is masked for every format.
pub fn redacted_url(raw: &str, format: WebhookFormat) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        return "[unparseable url]".to_owned();
    };
    if url.query().is_some() {
        url.set_query(Some("***"));
    }
    if format != WebhookFormat::Standard {
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.map(str::to_owned).collect())
            .unwrap_or_default();
        if let Some((_, head)) = segments.split_last() {
            let mut path = head.join("/");
            path.push_str("/***");
            url.set_path(&path);
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_keyed_by_their_normal_form() {
        let a = validate_url(" https://Hooks.Example.com/in ").expect("ok");
        let b = validate_url("https://hooks.example.com:443/in").expect("ok");
        assert_eq!(webhook_key(&a), webhook_key(&b));
        assert_ne!(
            webhook_key(&a),
            webhook_key(&validate_url("https://hooks.example.com/other").unwrap())
        );
        for bad in [
            "",
            "ftp://example.com/x",
            "https://user:pw@example.com/x",
            "https://example.com/x#frag",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert!(validate_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn secrets_are_standard_webhooks_secrets() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(secret_bytes(&s).expect("valid").len(), 32);
        assert_ne!(s, new_secret());
        for bad in ["", "secret", "whsec_", "whsec_!!!", "whsec_c2hvcnQ="] {
            assert!(secret_bytes(bad).is_err(), "{bad} accepted");
        }
        assert!(secret_for(WebhookFormat::Discord, Some(&s)).is_err());
        assert_eq!(secret_for(WebhookFormat::Slack, None).unwrap(), None);
        assert_eq!(
            secret_for(WebhookFormat::Standard, Some(&s)).unwrap(),
            Some(s.clone())
        );
    }

    #[test]
    fn credential_urls_are_masked() {
        assert_eq!(
            redacted_url(
                "https://discord.com/api/webhooks/123/tokentoken",
                WebhookFormat::Discord
            ),
            "https://discord.com/api/webhooks/123/***"
        );
        assert_eq!(
            redacted_url("https://example.com/hook?key=abc", WebhookFormat::Standard),
            "https://example.com/hook?***"
        );
        assert_eq!(
            redacted_url("https://example.com/hook", WebhookFormat::Standard),
            "https://example.com/hook"
        );
    }
}
