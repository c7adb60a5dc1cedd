//! Per-upstream concurrency limits in one worker process: at most
//! `VAULTSTREAM_UPSTREAM_CONCURRENCY` jobs talk to one platform (or, for
//! generic pages and media files, one host) at a time, so a slow or
//! throttling upstream cannot take every worker slot, and we do not hammer a
//! platform into blocking us. A job over the limit does not wait in its
//! slot: it is queued again a second later and the slot goes to other work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct UpstreamLimits {
    per_key: usize,
    map: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl UpstreamLimits {
    pub fn new(per_key: usize) -> Self {
        Self {
            per_key: per_key.max(1),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// A permit for `key` if one is free now.
    pub fn try_acquire(&self, key: &str) -> Option<OwnedSemaphorePermit> {
        self.try_acquire_leaving(key, 0)
    }

    /// A permit for `key` only if `reserve` more stay free for other work
    /// (refreshes leave room for new items). With a limit no larger than
    /// the reserve, any free permit will do.
    pub fn try_acquire_leaving(&self, key: &str, reserve: usize) -> Option<OwnedSemaphorePermit> {
        let sem = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            // Keys are platforms and hosts; forget idle ones now and then.
            if map.len() > 10_000 {
                let full = self.per_key;
                map.retain(|_, s| s.available_permits() < full);
            }
            map.entry(key.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_key)))
                .clone()
        };
        if reserve < self.per_key && sem.available_permits() <= reserve {
            return None;
        }
        sem.try_acquire_owned().ok()
    }
}

/// The limit key of a URL: its host (lower case), or the URL itself.
pub fn host_key(prefix: &str, url: &str) -> String {
    let host = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    format!("{prefix}:{}", host.as_deref().unwrap_or(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_per_key_and_come_back() {
        let l = UpstreamLimits::new(2);
        let a = l.try_acquire("twitter").unwrap();
        let _b = l.try_acquire("twitter").unwrap();
        assert!(l.try_acquire("twitter").is_none(), "third is refused");
        assert!(l.try_acquire("bilibili").is_some(), "other keys unaffected");
        drop(a);
        assert!(
            l.try_acquire("twitter").is_some(),
            "a released permit is reusable"
        );
        let _c = l.try_acquire("weibo").unwrap();
        assert!(
            l.try_acquire_leaving("weibo", 1).is_none(),
            "the last permit is left for new items"
        );
        assert!(l.try_acquire("weibo").is_some());
        assert_eq!(
            host_key("media", "https://PBS.twimg.com/a.jpg"),
            "media:pbs.twimg.com"
        );
    }
}
