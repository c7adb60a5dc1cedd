//! Retry timing: base × 2^(attempt-1), with ±25 % jitter so a burst of
//! failures does not retry in lockstep; a 429's Retry-After is honoured.

use std::time::Duration;

use rand::Rng;
use vaultstream_core::parsed::FetchError;

/// The longest we wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// Delay before attempt `attempt + 1`, after attempt number `attempt`
/// (1-based) failed with `err`.
pub fn delay(base_ms: u64, attempt: u32, err: &FetchError) -> Duration {
    let exp = attempt.saturating_sub(1).min(20);
    let raw = base_ms.saturating_mul(1u64 << exp) as f64;
    let jitter = rand::rng().random_range(0.75..=1.25);
    let backoff = Duration::from_millis((raw * jitter) as u64);
    let wanted = match err.retry_after {
        Some(ra) => backoff.max(ra),
        None => backoff,
    };
    wanted.min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_with_jitter() {
        let e = FetchError::retryable("x");
        for attempt in 1..=5u32 {
            let nominal = 1000u64 << (attempt - 1);
            for _ in 0..50 {
                let d = delay(1000, attempt, &e).as_millis() as u64;
                assert!(
                    d >= nominal * 3 / 4 && d <= nominal * 5 / 4,
                    "{attempt}: {d}"
                );
            }
        }
    }

    #[test]
    fn honours_retry_after_and_caps() {
        let e = FetchError::rate_limited("slow down", Some(Duration::from_secs(30)));
        assert!(delay(100, 1, &e) >= Duration::from_secs(30));
        assert_eq!(delay(u64::MAX, 30, &FetchError::retryable("x")), MAX_DELAY);
    }
}
