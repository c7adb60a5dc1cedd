//! The login vault: per-platform cookie strings stored encrypted, and the
//! health of every login (stored or from the environment).
//!
//! Encryption: XChaCha20-Poly1305 with a key derived from
//! `VAULTSTREAM_SECRET_KEY` (SHA-256 of a domain tag and the setting), a
//! fresh random 24-byte nonce per write, and the platform's name as
//! associated data (a row copied onto another platform does not decrypt).
//! The row keeps base64(nonce ‖ ciphertext), never the cookie. Without a
//! key nothing is stored ([`VaultError::NoKey`]). The `login_vault` row
//! keeps a one-way check value of the derived key: a process started with
//! a different key is refused ([`VaultError::WrongKey`], naming the
//! setting) instead of failing to decrypt later.
//!
//! Values never leave this module but as [`Secret`]s, which print as
//! `[redacted]`; the rows ([`login::Model`]) hold only ciphertext, and
//! everything shown (API, CLI, bot, `doctor`) is built from rows.
//!
//! Health ([`record_check`]): each check stores its [`LoginState`], counts
//! failures in a row, and queues operator notices on the row (`notice`)
//! when a login expires or fails three times in a row; the worker's login
//! task delivers them ([`take_notices`]).
//!
//! Layout: this module (the vault: key, encryption, stored cookies) and
//! `health` (rows as shown, check results, notices).

mod health;

pub use health::{
    FAILURES_BEFORE_NOTICE, LoginState, Recorded, add_notice, forget_all, get, list, record_check,
    remove, take_notices,
};

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
};
use sha2::{Digest, Sha256};

use crate::db::entities::{login, login_vault};
use crate::platform::Platform;
use crate::settings::{Secret, Settings};

/// The setting that holds the vault's key, as operators write it.
pub const SECRET_KEY_SETTING: &str = "VAULTSTREAM_SECRET_KEY";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(
        "VAULTSTREAM_SECRET_KEY is not set: logins are stored only encrypted, with a key from that \
         setting (at least 16 characters, e.g. `openssl rand -base64 32`)"
    )]
    NoKey,
    #[error(
        "VAULTSTREAM_SECRET_KEY does not match the key the stored logins were encrypted with: set \
         the key they were stored with (or delete every stored login with `vaultstream logins \
         remove --all --forget-key` and store them again)"
    )]
    WrongKey,
    #[error("the stored login for {0} cannot be decrypted (damaged row): set it again")]
    Damaged(String),
    #[error("the cookie string is empty or has control characters")]
    BadCookie,
    #[error("database: {0}")]
    Db(#[from] DbErr),
}

/// The vault's key and database. Cheap to clone; prints nothing secret.
#[derive(Clone)]
pub struct Vault {
    db: DatabaseConnection,
    cipher: Arc<XChaCha20Poly1305>,
    check: Arc<str>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vault { key: [redacted] }")
    }
}

fn derive(secret: &str) -> ([u8; 32], String) {
    let mut h = Sha256::new();
    h.update(b"vaultstream login vault v1\0");
    h.update(secret.as_bytes());
    let key: [u8; 32] = h.finalize().into();
    let mut c = Sha256::new();
    c.update(b"vaultstream login vault key check v1\0");
    c.update(key);
    (key, hex::encode(c.finalize()))
}

/// Whether a cookie string can be sent as a `Cookie` header.
pub fn valid_cookie(cookie: &str) -> bool {
    let c = cookie.trim();
    !c.is_empty() && c.len() <= 16 * 1024 && !c.chars().any(|ch| ch.is_control())
}

impl Vault {
    /// The vault for `secret` (not checked against the database: see
    /// [`Vault::verify`]).
    pub fn new(db: DatabaseConnection, secret: &Secret<String>) -> Self {
        let (key, check) = derive(secret.expose());
        Self {
            db,
            cipher: Arc::new(XChaCha20Poly1305::new(&Key::from(key))),
            check: check.into(),
        }
    }

    /// The vault of the settings' key; `None` without one.
    pub fn from_settings(settings: &Settings, db: DatabaseConnection) -> Option<Self> {
        settings.secret_key.as_ref().map(|k| Self::new(db, k))
    }

    /// [`Vault::from_settings`], checked: `Ok(None)` without a key, an
    /// error when the key is not the one the vault was written with.
    pub async fn open(
        settings: &Settings,
        db: DatabaseConnection,
    ) -> Result<Option<Self>, VaultError> {
        match Self::from_settings(settings, db) {
            Some(v) => {
                v.verify().await?;
                Ok(Some(v))
            }
            None => Ok(None),
        }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Refuse a key other than the vault's; the first key used is recorded
    /// (and a new key replaces the old one while no login is stored).
    pub async fn verify(&self) -> Result<(), VaultError> {
        if let Some(row) = login_vault::Entity::find_by_id(1).one(&self.db).await? {
            if row.key_check == *self.check {
                return Ok(());
            }
            let stored = login::Entity::find()
                .filter(login::Column::Secret.is_not_null())
                .one(&self.db)
                .await?;
            if stored.is_some() {
                return Err(VaultError::WrongKey);
            }
            login_vault::Entity::delete_by_id(1).exec(&self.db).await?;
        }
        // Two processes starting together: one insert wins, both re-read.
        login_vault::Entity::insert(login_vault::ActiveModel {
            id: Set(1),
            key_check: Set(self.check.to_string()),
            created_at: Set(Utc::now()),
        })
        .on_conflict_do_nothing_on([login_vault::Column::Id])
        .exec_without_returning(&self.db)
        .await?;
        match login_vault::Entity::find_by_id(1).one(&self.db).await? {
            Some(row) if row.key_check == *self.check => Ok(()),
            _ => Err(VaultError::WrongKey),
        }
    }

    fn encrypt(&self, platform: Platform, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: platform.as_str().as_bytes(),
        };
        // Encryption fails only for messages over 256 GiB.
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        B64.encode(out)
    }

    fn decrypt(&self, platform: &str, stored: &str) -> Result<Secret<String>, VaultError> {
        let damaged = || VaultError::Damaged(platform.to_owned());
        let bytes = B64.decode(stored).map_err(|_| damaged())?;
        if bytes.len() <= NONCE_LEN {
            return Err(damaged());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| damaged())?;
        let payload = Payload {
            msg: sealed,
            aad: platform.as_bytes(),
        };
        let plain = self
            .cipher
            .decrypt(&XNonce::from(nonce), payload)
            .map_err(|_| damaged())?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| damaged())
    }

    /// Store (or replace) a platform's cookie string. Its health starts
    /// unknown, so the next valid check counts as "valid again".
    pub async fn set(
        &self,
        platform: Platform,
        cookie: &str,
        account: Option<&str>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<login::Model, VaultError> {
        if !valid_cookie(cookie) {
            return Err(VaultError::BadCookie);
        }
        self.verify().await?;
        let now = Utc::now();
        let row = login::ActiveModel {
            platform: Set(platform.as_str().to_owned()),
            source: Set("vault".to_owned()),
            account: Set(account.map(str::to_owned)),
            secret: Set(Some(self.encrypt(platform, cookie.trim()))),
            set_at: Set(Some(now)),
            expires_at: Set(expires_at),
            last_check_at: Set(None),
            last_check_state: Set(None),
            last_check_detail: Set(None),
            failures_in_row: Set(0),
            notice: NotSet,
            updated_at: Set(now),
        };
        login::Entity::insert(row)
            .on_conflict(
                OnConflict::column(login::Column::Platform)
                    .update_columns([
                        login::Column::Source,
                        login::Column::Account,
                        login::Column::Secret,
                        login::Column::SetAt,
                        login::Column::ExpiresAt,
                        login::Column::LastCheckAt,
                        login::Column::LastCheckState,
                        login::Column::LastCheckDetail,
                        login::Column::FailuresInRow,
                        login::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        get(&self.db, platform)
            .await?
            .ok_or_else(|| VaultError::Db(DbErr::RecordNotFound("login".into())))
    }

    /// Cookies a platform refreshed (`Set-Cookie`): written over the stored
    /// ones, the health kept. False when the vault holds no cookie for it.
    pub async fn refresh(
        &self,
        platform: Platform,
        cookie: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<bool, VaultError> {
        if !valid_cookie(cookie) {
            return Err(VaultError::BadCookie);
        }
        let mut update = login::Entity::update_many()
            .col_expr(
                login::Column::Secret,
                sea_orm::sea_query::Expr::value(self.encrypt(platform, cookie.trim())),
            )
            .col_expr(
                login::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            );
        if let Some(t) = expires_at {
            update = update.col_expr(login::Column::ExpiresAt, sea_orm::sea_query::Expr::value(t));
        }
        let done = update
            .filter(login::Column::Platform.eq(platform.as_str()))
            .filter(login::Column::Secret.is_not_null())
            .exec(&self.db)
            .await?;
        Ok(done.rows_affected == 1)
    }

    /// Every stored cookie string, decrypted. A row that does not decrypt
    /// is left out and logged (by platform only).
    pub async fn cookies(&self) -> Result<BTreeMap<Platform, Secret<String>>, VaultError> {
        let mut out = BTreeMap::new();
        for row in list(&self.db).await? {
            let (Some(stored), Ok(platform)) = (&row.secret, row.platform.parse::<Platform>())
            else {
                continue;
            };
            match self.decrypt(&row.platform, stored) {
                Ok(c) => {
                    out.insert(platform, c);
                }
                Err(e) => {
                    tracing::warn!(platform = %row.platform, error = %e, "a stored login is unusable")
                }
            }
        }
        Ok(out)
    }

    /// One platform's stored cookie string.
    pub async fn cookie(&self, platform: Platform) -> Result<Option<Secret<String>>, VaultError> {
        match get(&self.db, platform).await?.and_then(|r| r.secret) {
            Some(stored) => self.decrypt(platform.as_str(), &stored).map(Some),
            None => Ok(None),
        }
    }
}
