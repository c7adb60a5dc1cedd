//! The Standard Webhooks signature (<https://www.standardwebhooks.com/>,
//! "Signature scheme"; the spec's own test vector is checked below):
//!
//! - `webhook-id`: the message id, the same on every attempt of one
//!   delivery, so a receiver can drop duplicates;
//! - `webhook-timestamp`: Unix seconds of this attempt;
//! - `webhook-signature`: `v1,` + base64(HMAC-SHA256(key, `id.timestamp.body`)),
//!   where the key is the bytes after `whsec_` (base64-decoded).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `v1,<base64 signature>` of one message.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The message id of a pushed record: stable across its attempts.
pub fn message_id(record_id: i64) -> String {
    format!("msg_vs{record_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use vaultstream_core::db::push::webhooks::secret_bytes;

    /// The example of the Standard Webhooks specification (and of its
    /// reference libraries' tests).
    #[test]
    fn the_specifications_example_verifies() {
        let key = secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let sig = signature(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn every_part_is_signed() {
        let key = [7u8; 32];
        let base = signature(&key, "msg_1", 100, b"{}");
        assert_ne!(base, signature(&key, "msg_2", 100, b"{}"));
        assert_ne!(base, signature(&key, "msg_1", 101, b"{}"));
        assert_ne!(base, signature(&key, "msg_1", 100, b"{ }"));
        assert_ne!(base, signature(&[8u8; 32], "msg_1", 100, b"{}"));
    }
}
