//! Name resolution for the guard proxy: the system resolver, with an
//! optional fixed table in front of it. The table is how tests make a
//! public-looking name resolve to a private address (the DNS-rebinding
//! case) without touching the machine's resolver.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Resolver {
    /// Lower-case names answered from here before the system is asked.
    fixed: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl Resolver {
    /// The system resolver only.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system resolver behind a fixed table of answers.
    pub fn with_fixed<I, S>(answers: I) -> Self
    where
        I: IntoIterator<Item = (S, Vec<IpAddr>)>,
        S: Into<String>,
    {
        Resolver {
            fixed: Arc::new(
                answers
                    .into_iter()
                    .map(|(name, ips)| (name.into().to_ascii_lowercase(), ips))
                    .collect(),
            ),
        }
    }

    /// Every address `host` resolves to, with `port`.
    pub async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let key = host.trim_end_matches('.').to_ascii_lowercase();
        if let Some(ips) = self.fixed.get(&key) {
            return Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}
