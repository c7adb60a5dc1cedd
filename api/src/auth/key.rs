//! Whose bucket a request draws from: an API key, or a client address;
//! the same key for the local buckets and, by its name, for the shared ones.

use std::net::IpAddr;

/// Whose bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BucketKey {
    Key(i64),
    /// An IPv4 address, or an IPv6 address with its last 64 bits cleared
    /// (one host usually owns a whole /64).
    Ip(IpAddr),
}

impl BucketKey {
    pub fn client(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => BucketKey::Ip(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => BucketKey::Ip(IpAddr::V4(v4)),
                None => {
                    let bits = u128::from(v6) & !((1u128 << 64) - 1);
                    BucketKey::Ip(IpAddr::V6(bits.into()))
                }
            },
        }
    }
}

impl BucketKey {
    /// The bucket's name in Redis (after the namespace prefix).
    pub(super) fn redis_suffix(&self) -> String {
        match self {
            BucketKey::Key(id) => format!("key:{id}"),
            BucketKey::Ip(ip) => format!("ip:{ip}"),
        }
    }
}
