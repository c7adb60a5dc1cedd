//! API keys: create, list, revoke, verify.
//!
//! A key is `vs_` followed by 40 random URL-safe characters (240 bits from
//! the operating system's CSPRNG via `rand::rng()`). It is shown once, at
//! creation; the database keeps only its SHA-256 (hex, UNIQUE) and its first
//! [`PREFIX_LEN`] characters, so lists can name keys without revealing them.
//! Verification hashes what the client sent and looks the hash up: there is
//! no secret comparison in our code to leak timing.
//!
//! `last_used_at` is written at most once per [`LAST_USED_GRANULARITY_SECS`]
//! per key (a conditional UPDATE), so busy clients do not turn every read
//! into a write.

use std::fmt;
use std::str::FromStr;

use chrono::{Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, ModelTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use sha2::{Digest, Sha256};

use super::entities::api_key;

/// Every key starts with this.
pub const KEY_PREFIX: &str = "vs_";
/// Random characters after [`KEY_PREFIX`].
pub const KEY_RANDOM_CHARS: usize = 40;
/// How many leading characters of a key are stored and shown in lists.
pub const PREFIX_LEN: usize = 11;
/// `last_used_at` is refreshed at most this often per key.
pub const LAST_USED_GRANULARITY_SECS: i64 = 60;

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const MAX_NAME_CHARS: usize = 128;

/// What a key may do. An operator may do everything a submitter may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Submit shares and read items and blobs.
    Submitter,
    /// Everything, including the operator routes.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Submitter => "submitter",
            Role::Operator => "operator",
        }
    }

    /// Whether a key with this role may use a route that needs `needed`.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "submitter" => Ok(Role::Submitter),
            "operator" => Ok(Role::Operator),
            other => Err(format!("`{other}` is not submitter or operator")),
        }
    }
}

impl api_key::Model {
    /// The role; an unknown value in the database (never written by us)
    /// counts as the least privileged role.
    pub fn role(&self) -> Role {
        self.role.parse().unwrap_or(Role::Submitter)
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// SHA-256 of the full key, lower-case hex.
pub fn hash_key(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// A fresh random key.
pub fn generate_key() -> String {
    random_token(KEY_PREFIX)
}

/// `prefix` and [`KEY_RANDOM_CHARS`] random URL-safe characters: API keys,
/// and feed tokens (`db::feeds`), which are made and kept the same way.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; KEY_RANDOM_CHARS];
    rand::rng().fill_bytes(&mut bytes);
    let mut key = String::with_capacity(prefix.len() + KEY_RANDOM_CHARS);
    key.push_str(prefix);
    // 256 is a multiple of 64: masking keeps the distribution uniform.
    key.extend(bytes.iter().map(|b| URL_SAFE[usize::from(b & 63)] as char));
    key
}

/// Whether `text` has the shape of a key (cheap check before any query).
pub fn looks_like_key(text: &str) -> bool {
    looks_like_token(text, KEY_PREFIX)
}

/// Whether `text` has the shape of a [`random_token`] with this prefix.
pub fn looks_like_token(text: &str, prefix: &str) -> bool {
    text.len() == prefix.len() + KEY_RANDOM_CHARS
        && text.starts_with(prefix)
        && text[prefix.len()..].bytes().all(|b| URL_SAFE.contains(&b))
}

/// Create a key. Returns the stored row and the plaintext key, which is not
/// kept anywhere: show it to the operator once.
pub async fn create(
    db: &DatabaseConnection,
    role: Role,
    name: Option<&str>,
) -> Result<(api_key::Model, String), DbErr> {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(MAX_NAME_CHARS).collect::<String>());
    let key = generate_key();
    let row = api_key::ActiveModel {
        id: NotSet,
        name: Set(name),
        role: Set(role.as_str().to_owned()),
        prefix: Set(key[..PREFIX_LEN].to_owned()),
        key_hash: Set(hash_key(&key)),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((row, key))
}

/// Every key, revoked ones included, oldest first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .order_by_asc(api_key::Column::Id)
        .all(db)
        .await
}

/// How many keys are not revoked.
pub async fn count_active(db: &DatabaseConnection) -> Result<u64, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::RevokedAt.is_null())
        .count(db)
        .await
}

/// What a revoke did (keys here, feeds in `db::feeds`).
#[derive(Debug, Clone, PartialEq)]
pub enum TokenRevoked<M> {
    /// This row is revoked now.
    Revoked(M),
    /// No row has that id, prefix or token.
    NotFound,
    /// The row was revoked before.
    AlreadyRevoked(M),
    /// The prefix matches several rows: use the id.
    Ambiguous(usize),
}

/// What [`revoke`] did.
pub type Revoked = TokenRevoked<api_key::Model>;

/// A table of revocable tokens kept as their SHA-256 and a shown prefix
/// (API keys, feed tokens): what [`revoke_token`] needs of it.
pub trait TokenTable: EntityTrait {
    const ID: Self::Column;
    const HASH: Self::Column;
    const PREFIX: Self::Column;
    const REVOKED_AT: Self::Column;
    /// Whether a text has the shape of one of this table's tokens.
    fn looks_like(text: &str) -> bool;
    fn revoked_at(row: &Self::Model) -> Option<chrono::DateTime<Utc>>;
    fn with_revoked_at(row: Self::Model, at: chrono::DateTime<Utc>) -> Self::Model;
}

impl TokenTable for api_key::Entity {
    const ID: api_key::Column = api_key::Column::Id;
    const HASH: api_key::Column = api_key::Column::KeyHash;
    const PREFIX: api_key::Column = api_key::Column::Prefix;
    const REVOKED_AT: api_key::Column = api_key::Column::RevokedAt;
    fn looks_like(text: &str) -> bool {
        looks_like_key(text)
    }
    fn revoked_at(row: &api_key::Model) -> Option<chrono::DateTime<Utc>> {
        row.revoked_at
    }
    fn with_revoked_at(row: api_key::Model, at: chrono::DateTime<Utc>) -> api_key::Model {
        api_key::Model {
            revoked_at: Some(at),
            ..row
        }
    }
}

/// Revoke a key named by its id, its prefix (as `keys list` shows it) or
/// the full key.
pub async fn revoke(db: &DatabaseConnection, id_or_prefix: &str) -> Result<Revoked, DbErr> {
    revoke_token::<api_key::Entity>(db, id_or_prefix).await
}

/// Revoke a token row named by its id, its prefix or the full token.
pub async fn revoke_token<T: TokenTable>(
    db: &DatabaseConnection,
    id_or_prefix: &str,
) -> Result<TokenRevoked<T::Model>, DbErr> {
    let target = id_or_prefix.trim();
    let condition = if let Ok(id) = target.parse::<i64>() {
        Condition::all().add(T::ID.eq(id))
    } else if T::looks_like(target) {
        Condition::all().add(T::HASH.eq(hash_key(target)))
    } else if target.is_empty() {
        return Ok(TokenRevoked::NotFound);
    } else {
        Condition::all().add(T::PREFIX.eq(target))
    };
    let rows = T::find().filter(condition).all(db).await?;
    let row = match rows.len() {
        0 => return Ok(TokenRevoked::NotFound),
        1 => rows.into_iter().next().expect("one row"),
        n => return Ok(TokenRevoked::Ambiguous(n)),
    };
    if T::revoked_at(&row).is_some() {
        return Ok(TokenRevoked::AlreadyRevoked(row));
    }
    let now = Utc::now();
    let id = row.get(T::ID);
    let res = T::update_many()
        .col_expr(T::REVOKED_AT, Expr::value(now))
        .filter(T::ID.eq(id))
        .filter(T::REVOKED_AT.is_null())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        // Revoked concurrently by someone else.
        return Ok(TokenRevoked::AlreadyRevoked(row));
    }
    Ok(TokenRevoked::Revoked(T::with_revoked_at(row, now)))
}

/// The live (not revoked) key behind `plaintext`, if any. Refreshes
/// `last_used_at` when it is older than a minute; a failure to do so is
/// logged, never fatal.
pub async fn verify(
    db: &DatabaseConnection,
    plaintext: &str,
) -> Result<Option<api_key::Model>, DbErr> {
    if !looks_like_key(plaintext) {
        return Ok(None);
    }
    let Some(row) = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash_key(plaintext)))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    let stale_before = now - Duration::seconds(LAST_USED_GRANULARITY_SECS);
    if row.last_used_at.is_none_or(|t| t < stale_before) {
        let res = api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(row.id))
            .filter(
                Condition::any()
                    .add(api_key::Column::LastUsedAt.is_null())
                    .add(api_key::Column::LastUsedAt.lt(stale_before)),
            )
            .exec(db)
            .await;
        if let Err(e) = res {
            tracing::warn!(key.id = row.id, error = %e, "cannot record the key's last use");
        }
    }
    Ok(Some(row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_the_documented_shape() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(looks_like_key(&a), "{a}");
        assert!(!looks_like_key("vs_short"));
        assert!(!looks_like_key(&a.replace("vs_", "xx_")));
        assert_eq!(hash_key(&a).len(), 64);
    }

    #[test]
    fn operators_may_do_what_submitters_may() {
        assert!(Role::Operator.allows(Role::Submitter));
        assert!(Role::Operator.allows(Role::Operator));
        assert!(Role::Submitter.allows(Role::Submitter));
        assert!(!Role::Submitter.allows(Role::Operator));
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!("admin".parse::<Role>().is_err());
    }
}
