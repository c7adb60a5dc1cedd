//! Waiting in a test for something that happens elsewhere (a worker, a
//! server, another process), always with a bound.
//!
//! ```ignore
//! let view = wait::until(Duration::from_secs(30), "item 1 pulled", || async {
//!     let (_, v) = app.get("/api/v1/contents/1").await;
//!     if v["status"] == "pulled" { Ok(v) } else { Err(v) }
//! })
//! .await;
//! ```

use std::fmt::{Debug, Display};
use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is checked again.
pub const EVERY: Duration = Duration::from_millis(50);

/// Check `check` every [`EVERY`] until it answers `Ok(value)`, and return
/// the value. `Err(seen)` means "not yet"; after `within` the test fails,
/// naming `what` and the last `seen`.
pub async fn until<T, S, F, Fut>(within: Duration, what: impl Display, mut check: F) -> T
where
    S: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, S>>,
{
    let deadline = Instant::now() + within;
    loop {
        let seen = match check().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}; last seen: {seen:?}"
        );
        tokio::time::sleep(EVERY).await;
    }
}

/// Check `check` every [`EVERY`] until it holds or `within` has passed;
/// whether it held. For tests that look at the state either way.
pub async fn at_most<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_value_once_the_condition_holds() {
        let mut n = 0;
        let got = until(Duration::from_secs(5), "three tries", || {
            n += 1;
            let n = n;
            async move { if n >= 3 { Ok(n) } else { Err(n) } }
        })
        .await;
        assert_eq!(got, 3);
        assert!(!at_most(Duration::from_millis(120), || async { false }).await);
    }

    #[tokio::test]
    #[should_panic(expected = "never: not within")]
    async fn fails_naming_what_and_the_last_state() {
        until(Duration::from_millis(100), "never", || async {
            Err::<(), _>("still no")
        })
        .await;
    }
}
