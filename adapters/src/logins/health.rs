//! [`Logins`]: everything an operator does with platform logins, the same
//! from the CLI, the API, the bot and the worker's scheduled checks.
//!
//! A check stores its result (`core::db::logins::record_check`, which
//! queues the operator notices); a login that is valid again has its
//! platform's `auth_required` dead letters retried, paced, and operators
//! are told how many.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbErr};
use vaultstream_core::Platform;
use vaultstream_core::db::dead_letters::DeadLetterFilter;
use vaultstream_core::db::entities::login;
use vaultstream_core::db::logins::{self, LoginState, Recorded, Vault, VaultError};
use vaultstream_core::db::retry::{Requeued, retry_dead_letters};
use vaultstream_core::queue::{JobQueue, ParseJob, Payload};
use vaultstream_core::settings::Secret;

use super::check::{self, CheckOutcome};
use super::qr::{self, QrPoll, QrStart};
use super::{CACHE_TTL, LoginCookies};
use crate::fetch::FetchConfig;
use crate::http::client::HttpClient;

/// Retried items are queued this far apart, so a platform that just took
/// a login back is not hit by every waiting item at once.
pub const RETRY_PACE: Duration = Duration::from_millis(500);
/// Dead letters retried per check (the rest at the next valid check).
const RETRY_BATCH: u64 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error(
        "{0} has no login: store one with `vaultstream logins set {0}` (or set VAULTSTREAM_COOKIES_{upper})",
        upper = .0.as_str().to_ascii_uppercase()
    )]
    NoLogin(Platform),
    #[error("{0} has no login check (checked: bilibili, weibo, zhihu)")]
    NoCheck(Platform),
    #[error("{0} offers no QR login we support (only bilibili)")]
    NoQr(Platform),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The platform's answer (its message, never a cookie).
    #[error("{0}")]
    Upstream(String),
}

/// One platform's login as shown to operators: never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEntry {
    pub platform: Platform,
    /// `vault` (stored, can be replaced or removed) or `env`
    /// (`VAULTSTREAM_COOKIES_<PLATFORM>`, read-only).
    pub source: &'static str,
    pub read_only: bool,
    pub account: Option<String>,
    pub set_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_check_at: Option<DateTime<Utc>>,
    pub state: Option<LoginState>,
    pub detail: Option<String>,
    pub failures_in_row: i32,
    /// The platform has a health check.
    pub checkable: bool,
}

/// What one check found and did.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub platform: Platform,
    pub outcome: CheckOutcome,
    pub recorded: Recorded,
    /// Dead letters retried because the login is valid again.
    pub retried: usize,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Logins {
    http: HttpClient,
    cfg: FetchConfig,
    db: DatabaseConnection,
}

impl Logins {
    /// `cfg.logins` is the vault whose logins are used and stored.
    pub fn new(cfg: FetchConfig, db: DatabaseConnection) -> Self {
        Self {
            http: HttpClient::new(&cfg),
            cfg,
            db,
        }
    }

    /// From the settings: their environment cookies, their vault key.
    pub fn from_settings(settings: &vaultstream_core::Settings, db: DatabaseConnection) -> Self {
        let vault = Vault::from_settings(settings, db.clone());
        Self::new(FetchConfig::from_settings(settings).with_vault(vault), db)
    }

    pub fn cookies(&self) -> &LoginCookies {
        &self.cfg.logins
    }

    pub fn vault(&self) -> Result<&Vault, LoginError> {
        self.cfg
            .logins
            .vault()
            .ok_or(LoginError::Vault(VaultError::NoKey))
    }

    fn env_cookie(&self, platform: Platform) -> Option<&Secret<String>> {
        self.cfg.cookies.get(&platform)
    }

    /// Every login: stored ones and the environment's, by platform.
    pub async fn entries(&self) -> Result<Vec<LoginEntry>, LoginError> {
        let rows = logins::list(&self.db).await?;
        let mut out = Vec::new();
        for platform in Platform::ALL {
            let row = rows.iter().find(|r| r.platform == platform.as_str());
            let stored = row.is_some_and(login::Model::stored);
            if !stored && self.env_cookie(platform).is_none() {
                continue;
            }
            out.push(LoginEntry {
                platform,
                source: if stored { "vault" } else { "env" },
                read_only: !stored,
                account: row.and_then(|r| r.account.clone()),
                set_at: row.and_then(|r| r.set_at),
                expires_at: row.and_then(|r| r.expires_at),
                last_check_at: row.and_then(|r| r.last_check_at),
                state: row.and_then(login::Model::state),
                detail: row.and_then(|r| r.last_check_detail.clone()),
                failures_in_row: row.map_or(0, |r| r.failures_in_row),
                checkable: check::supported(platform),
            });
        }
        Ok(out)
    }

    /// The cookie in force: the stored one, else the environment's.
    async fn cookie_for(&self, platform: Platform) -> Result<Option<Secret<String>>, LoginError> {
        if let Some(vault) = self.cfg.logins.vault()
            && let Some(c) = vault.cookie(platform).await?
        {
            return Ok(Some(c));
        }
        Ok(self.env_cookie(platform).cloned())
    }

    /// Store a login (replacing a stored one), use it at once in this
    /// process, and check it when the platform has a check.
    pub async fn set(
        &self,
        platform: Platform,
        cookie: &str,
        account: Option<&str>,
        expires_at: Option<DateTime<Utc>>,
        queue: &dyn JobQueue,
    ) -> Result<(login::Model, Option<CheckReport>), LoginError> {
        let row = self
            .vault()?
            .set(platform, cookie, account, expires_at)
            .await?;
        self.cfg.logins.reload().await;
        let report = if check::supported(platform) {
            Some(self.check(platform, queue).await?)
        } else {
            None
        };
        Ok((row, report))
    }

    /// Forget a stored login. False: there was none.
    pub async fn remove(&self, platform: Platform) -> Result<bool, LoginError> {
        let gone = logins::remove(&self.db, platform).await?;
        self.cfg.logins.reload().await;
        Ok(gone)
    }

    /// Check one platform's login now and record the result.
    pub async fn check(
        &self,
        platform: Platform,
        queue: &dyn JobQueue,
    ) -> Result<CheckReport, LoginError> {
        if !check::supported(platform) {
            return Err(LoginError::NoCheck(platform));
        }
        let cookie = self
            .cookie_for(platform)
            .await?
            .ok_or(LoginError::NoLogin(platform))?;
        let outcome = check::probe(&self.http, platform, &cookie)
            .await
            .ok_or(LoginError::NoCheck(platform))?;
        let recorded = logins::record_check(
            &self.db,
            platform,
            outcome.state,
            Some(&outcome.detail),
            outcome.account.as_deref(),
        )
        .await?;
        tracing::info!(
            %platform,
            login.state = %outcome.state,
            login.failures_in_row = recorded.failures_in_row,
            "login checked"
        );
        let retried = if recorded.became_valid {
            self.retry_waiting(platform, queue).await?
        } else {
            0
        };
        Ok(CheckReport {
            platform,
            outcome,
            recorded,
            retried,
        })
    }

    /// Check every login whose last check is older than `every` (the
    /// worker's schedule). Failures are logged and skipped.
    pub async fn check_due(&self, every: Duration, queue: &dyn JobQueue) -> Vec<CheckReport> {
        let rows = match logins::list(&self.db).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the logins to check");
                return Vec::new();
            }
        };
        let now = Utc::now();
        let mut out = Vec::new();
        for platform in check::CHECKED {
            let row = rows.iter().find(|r| r.platform == platform.as_str());
            // A stored login without the key to open it is not checked (the
            // start-up warns about it once).
            let stored = self.cfg.logins.vault().is_some() && row.is_some_and(login::Model::stored);
            let has = stored || self.env_cookie(platform).is_some();
            let due = row
                .and_then(|r| r.last_check_at)
                .is_none_or(|t| (now - t).to_std().unwrap_or_default() >= every);
            if !has || !due {
                continue;
            }
            match self.check(platform, queue).await {
                Ok(r) => out.push(r),
                Err(e) => tracing::warn!(%platform, error = %e, "login check failed"),
            }
        }
        out
    }

    /// Retry the platform's `auth_required` dead letters, paced, and tell
    /// operators how many.
    async fn retry_waiting(
        &self,
        platform: Platform,
        queue: &dyn JobQueue,
    ) -> Result<usize, DbErr> {
        let filter = DeadLetterFilter {
            platform: Some(platform.as_str().to_owned()),
            error_type: Some("auth_required".to_owned()),
            limit: RETRY_BATCH,
            ..Default::default()
        };
        let requeued = retry_dead_letters(&self.db, &filter).await?;
        let count = requeued.items.len() + requeued.media.len() + requeued.refreshes.len();
        if count == 0 {
            return Ok(0);
        }
        // Every process reads the vault again within CACHE_TTL: the retried
        // jobs start after that, so none goes out with the old cookie.
        self.cfg.logins.reload().await;
        for (i, &id) in requeued.items.iter().enumerate() {
            let delay = CACHE_TTL + RETRY_PACE * u32::try_from(i).unwrap_or(u32::MAX);
            if let Err(e) = ParseJob::for_row(id).enqueue(queue, Some(delay)).await {
                tracing::warn!(content.id = id, error = %e, "could not queue the retry; the reconciler will");
            }
        }
        Requeued {
            items: Vec::new(),
            ..requeued
        }
        .enqueue(queue)
        .await;
        tracing::info!(%platform, retried = count, "login valid again: retrying what failed for lack of it");
        logins::add_notice(
            &self.db,
            platform,
            &format!(
                "The {platform} login is valid again: {count} item(s) that failed for lack of a \
                 login are being retried."
            ),
        )
        .await?;
        Ok(count)
    }

    /// Start a QR login: refused before any code is shown when there is no
    /// vault to store the result in.
    pub async fn qr_start(&self, platform: Platform) -> Result<QrStart, LoginError> {
        if !qr::supported(platform) {
            return Err(LoginError::NoQr(platform));
        }
        self.vault()?.verify().await?;
        qr::generate(&self.http)
            .await
            .map_err(|e| LoginError::Upstream(e.message))
    }

    /// Poll a QR login once; when confirmed, the login is stored and
    /// checked (which retries what waited for it).
    pub async fn qr_poll(
        &self,
        platform: Platform,
        key: &Secret<String>,
        queue: &dyn JobQueue,
    ) -> Result<(QrPoll, Option<CheckReport>), LoginError> {
        if !qr::supported(platform) {
            return Err(LoginError::NoQr(platform));
        }
        // Nothing could be stored: do not ask the platform.
        self.vault()?;
        let state = qr::poll(&self.http, key)
            .await
            .map_err(|e| LoginError::Upstream(e.message))?;
        let report = match &state {
            QrPoll::Done { cookie, expires_at } => {
                let (_, report) = self
                    .set(platform, cookie.expose(), None, *expires_at, queue)
                    .await?;
                report
            }
            _ => None,
        };
        Ok((state, report))
    }

    /// A whole QR login: `show` gets the code, then polls every
    /// [`qr::POLL_EVERY`] until it is confirmed, expires, or `within` has
    /// passed (reported as expired).
    pub async fn qr_login(
        &self,
        platform: Platform,
        queue: &dyn JobQueue,
        within: Duration,
        every: Duration,
        show: impl FnOnce(&QrStart),
    ) -> Result<(QrPoll, Option<CheckReport>), LoginError> {
        let start = self.qr_start(platform).await?;
        show(&start);
        let deadline = tokio::time::Instant::now() + within;
        loop {
            tokio::time::sleep(every).await;
            let (state, report) = self.qr_poll(platform, &start.key, queue).await?;
            match state {
                QrPoll::Waiting | QrPoll::Scanned if tokio::time::Instant::now() < deadline => {}
                QrPoll::Waiting | QrPoll::Scanned => return Ok((QrPoll::Expired, None)),
                done => return Ok((done, report)),
            }
        }
    }
}
