//! Platform logins as the adapters use them: which cookie a request
//! carries, what a platform's `Set-Cookie` refreshes, whether a login still
//! works, and logging in by QR code.
//!
//! Layout:
//! - this module: [`LoginCookies`], the live view of the login vault
//!   (`core::db::logins`) that the HTTP client reads: a stored login wins
//!   over the environment's `VAULTSTREAM_COOKIES_<PLATFORM>`, cached for a
//!   few seconds so every request does not read the database, and cookies
//!   a platform refreshes written back to the vault;
//! - `jar`: cookie strings and `Set-Cookie` answers;
//! - [`check`]: one cheap authenticated request per platform and what its
//!   answer means (valid, expired, risk control, unreachable);
//! - [`qr`]: Bilibili's web QR login (generate → poll → cookies) and the QR
//!   code as terminal text, PNG and SVG;
//! - [`health`]: [`Logins`], what the CLI, the API, the bot and the
//!   worker's login task call: entries for display, checks recorded with
//!   their notices, dead letters retried when a login is valid again, and
//!   the QR flow ending in a stored login.
//!
//! Cookie values never reach a log line, an error message or a view: they
//! travel as [`Secret`]s and as sensitive header values.

pub mod check;
pub mod health;
pub(crate) mod jar;
pub mod qr;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::Utc;
use vaultstream_core::Platform;
use vaultstream_core::db::logins::Vault;
use vaultstream_core::settings::Secret;

pub use health::{CheckReport, LoginEntry, LoginError, Logins};

/// How long a process uses what it read from the vault before reading it
/// again (a login set by the CLI or another process is used after this).
pub const CACHE_TTL: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Cache {
    cookies: BTreeMap<Platform, Secret<String>>,
    loaded_at: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    vault: Option<Vault>,
    cache: RwLock<Cache>,
    reload: tokio::sync::Mutex<()>,
}

/// The vault's cookies as this process sees them. Cheap to clone (clones
/// share the cache); without a vault it holds nothing.
#[derive(Clone, Default)]
pub struct LoginCookies {
    inner: Arc<Inner>,
}

impl fmt::Debug for LoginCookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginCookies")
            .field("vault", &self.inner.vault.is_some())
            .finish_non_exhaustive()
    }
}

impl LoginCookies {
    pub fn new(vault: Option<Vault>) -> Self {
        Self {
            inner: Arc::new(Inner {
                vault,
                ..Default::default()
            }),
        }
    }

    pub fn vault(&self) -> Option<&Vault> {
        self.inner.vault.as_ref()
    }

    /// The stored cookie for `platform`, as last read.
    pub(crate) fn stored(&self, platform: Platform) -> Option<Secret<String>> {
        let cache = self.inner.cache.read().unwrap_or_else(|p| p.into_inner());
        cache.cookies.get(&platform).cloned()
    }

    /// Read the vault again now.
    pub async fn reload(&self) {
        let Some(vault) = &self.inner.vault else {
            return;
        };
        let _one = self.inner.reload.lock().await;
        match vault.cookies().await {
            Ok(cookies) => {
                let mut cache = self.inner.cache.write().unwrap_or_else(|p| p.into_inner());
                cache.cookies = cookies;
                cache.loaded_at = Some(Instant::now());
            }
            // The previous cookies stay in use; the next request tries again.
            Err(e) => tracing::warn!(error = %e, "cannot read the login vault"),
        }
    }

    /// Read the vault again when what we have is older than [`CACHE_TTL`].
    pub(crate) async fn fresh(&self) {
        if self.inner.vault.is_none() {
            return;
        }
        let stale = {
            let cache = self.inner.cache.read().unwrap_or_else(|p| p.into_inner());
            cache.loaded_at.is_none_or(|t| t.elapsed() >= CACHE_TTL)
        };
        if stale {
            self.reload().await;
        }
    }

    /// A platform answered a request that carried its stored login with
    /// `Set-Cookie`s: refresh the stored cookies they name.
    pub(crate) async fn absorb(&self, platform: Platform, set_cookies: &[String]) {
        let (Some(vault), Some(current)) = (&self.inner.vault, self.stored(platform)) else {
            return;
        };
        let now = Utc::now();
        let set: Vec<jar::SetCookie> = set_cookies
            .iter()
            .filter_map(|h| jar::parse_set_cookie(h, now))
            .collect();
        let Some((refreshed, expires)) = jar::merge(current.expose(), &set) else {
            return;
        };
        if refreshed.is_empty() {
            return;
        }
        match vault.refresh(platform, &refreshed, expires).await {
            Ok(true) => {
                let mut cache = self.inner.cache.write().unwrap_or_else(|p| p.into_inner());
                cache.cookies.insert(platform, Secret::new(refreshed));
                tracing::info!(%platform, "the platform refreshed its login cookies; stored");
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(%platform, error = %e, "cannot store refreshed login cookies"),
        }
    }
}
