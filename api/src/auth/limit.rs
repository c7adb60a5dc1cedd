//! The buckets a request draws from.
//!
//! With Redis configured (`VAULTSTREAM_REDIS_URL`) the buckets live in
//! Redis ([`SharedBuckets`]: one atomic GCRA script per check, keyed under
//! the queue namespace), so the limit holds for the whole deployment
//! however many API processes share it. If Redis does not answer, the
//! process falls back to its own in-memory bucket for that request (and
//! for a short cool-down), logs the switch once and counts it in
//! `vaultstream_rate_limit_checks_total{store="fallback"}`: the limiter
//! never turns a Redis outage into errors. Without Redis the buckets live
//! in memory, per API process ([`RateLimiter`]): N processes allow N times
//! the rate, and a restart forgets them. The in-memory map is bounded
//! ([`MAX_BUCKETS`]): buckets that have refilled completely are dropped
//! first (they are the same as a new one), then the longest idle. The peer
//! address is used as is: behind a reverse
//! proxy every anonymous client shares the proxy's bucket (we do not trust
//! `X-Forwarded-For`, which clients can forge); use keys there.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vaultstream_core::Settings;

pub use super::key::BucketKey;
use super::shared::SharedBuckets;

/// Most buckets kept in memory per process.
pub const MAX_BUCKETS: usize = 100_000;

/// The buckets a request draws from: shared in Redis when configured and
/// answering, else this process's own.
pub struct Limiter {
    local: RateLimiter,
    shared: Option<SharedBuckets>,
}

impl Limiter {
    /// This process's buckets, and the shared ones when Redis is configured.
    pub fn new(s: &Settings) -> Self {
        let local = RateLimiter::new(s.rate_limit_burst, s.rate_limit_per_sec, MAX_BUCKETS);
        let shared = s.redis_url.as_ref().and_then(|url| {
            SharedBuckets::new(
                url.expose(),
                &s.queue_namespace,
                s.rate_limit_burst,
                s.rate_limit_per_sec,
            )
            .map_err(|e| tracing::warn!(error = %e, "rate limits: cannot use Redis; buckets stay in this process"))
            .ok()
        });
        Limiter { local, shared }
    }

    /// Take a token for `key`, or say how long until one is available.
    pub async fn check(&self, key: BucketKey) -> Result<(), Duration> {
        if let Some(shared) = &self.shared {
            match shared.check(key).await {
                Some(verdict) => {
                    vaultstream_core::metrics::rate_limit_check("redis");
                    return verdict;
                }
                None => vaultstream_core::metrics::rate_limit_check("fallback"),
            }
        } else {
            vaultstream_core::metrics::rate_limit_check("local");
        }
        self.local.check(key, Instant::now())
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets: each holds up to `burst` tokens, refilled at `per_sec`;
/// a request takes one.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_sec: f64,
    max_buckets: usize,
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
}

impl RateLimiter {
    pub fn new(burst: u32, per_sec: u32, max_buckets: usize) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_sec: f64::from(per_sec.max(1)),
            max_buckets: max_buckets.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take a token for `key`, or say how long until one is available.
    pub fn check(&self, key: BucketKey, now: Instant) -> Result<(), Duration> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(&key) && map.len() >= self.max_buckets {
            self.evict(&mut map, now);
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec))
        }
    }

    /// Make room: drop buckets that are full again (indistinguishable from
    /// a new one); if that is not enough, the least recently used quarter.
    fn evict(&self, map: &mut HashMap<BucketKey, Bucket>, now: Instant) {
        let full_after = Duration::from_secs_f64(self.burst / self.per_sec);
        map.retain(|_, b| now.saturating_duration_since(b.last) < full_after);
        if map.len() >= self.max_buckets {
            let mut by_age: Vec<(Instant, BucketKey)> =
                map.iter().map(|(k, b)| (b.last, *k)).collect();
            by_age.sort_unstable_by_key(|(last, _)| *last);
            let drop = (self.max_buckets / 4).max(1);
            for (_, k) in by_age.into_iter().take(drop) {
                map.remove(&k);
            }
        }
    }

    /// Buckets held now (for tests).
    pub fn len(&self) -> usize {
        self.buckets.lock().map_or(0, |m| m.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refills() {
        let rl = RateLimiter::new(5, 1, 100);
        let t0 = Instant::now();
        let k = BucketKey::Key(1);
        for _ in 0..5 {
            assert!(rl.check(k, t0).is_ok());
        }
        let wait = rl.check(k, t0).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        // Another key has its own bucket.
        assert!(rl.check(BucketKey::Key(2), t0).is_ok());
        // One second later one token is back.
        let t1 = t0 + Duration::from_secs(1);
        assert!(rl.check(k, t1).is_ok());
        assert!(rl.check(k, t1).is_err());
    }

    #[test]
    fn the_map_stays_bounded() {
        let rl = RateLimiter::new(10, 1, 100);
        let t0 = Instant::now();
        for i in 0..1000 {
            let _ = rl.check(BucketKey::Key(i), t0 + Duration::from_millis(i as u64));
            assert!(rl.len() <= 100);
        }
        // Idle buckets that refilled are dropped first.
        let later = t0 + Duration::from_secs(3600);
        let _ = rl.check(BucketKey::Key(-1), later);
        assert!(rl.len() <= 100);
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64() {
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::ffff:2".parse().unwrap();
        let c: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert_eq!(BucketKey::client(a), BucketKey::client(b));
        assert_ne!(BucketKey::client(a), BucketKey::client(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(
            BucketKey::client(mapped),
            BucketKey::Ip("10.0.0.1".parse().unwrap())
        );
    }
}
