//! Feeds: a saved filter over the archive, read by whoever holds its token.
//!
//! A token is `vf_` followed by 40 random URL-safe characters, made like an
//! API key ([`keys::random_token`]) and kept like one: shown once, at
//! creation; the database keeps its SHA-256 (hex, UNIQUE) and its first
//! [`PREFIX_LEN`] characters. A feed reader sends it in the feed's URL
//! (`?token=`), so it needs no header; revoking the feed ends it.
//!
//! What a feed shows is [`contents::list`] with the feed's filter and
//! `status = pulled` (an item not yet archived has nothing to read), newest
//! first. [`may_read_blob`] decides whether a feed's token opens an archived
//! file: only files of items the feed shows.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, DatabaseConnection, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::contents::{self, Cursor, ListFilter};
use super::entities::{content, feed, media};
use super::keys::{self, hash_key};
use crate::content::Status;
use crate::error::{ErrorCode, UserError};
use crate::platform::{ContentKind, Platform};

/// Every feed token starts with this.
pub const TOKEN_PREFIX: &str = "vf_";
/// How many leading characters of a token are stored and shown in lists.
pub const PREFIX_LEN: usize = 11;
/// `last_used_at` is refreshed at most this often per feed.
pub const LAST_USED_GRANULARITY_SECS: i64 = 60;
/// The longest name, tag, author or query a feed keeps.
pub const MAX_TEXT_CHARS: usize = 128;

/// What a feed selects; `None` is "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedFilter {
    pub platform: Option<Platform>,
    /// Normalised like an item's tags (lower case, no `#`).
    pub tag: Option<String>,
    pub kind: Option<ContentKind>,
    /// The author's name or platform id, exactly.
    pub author: Option<String>,
    /// A search in the search route's language (`GET /api/v1/search`):
    /// words, phrases, exclusions and filters, matched by the index.
    pub q: Option<String>,
}

impl FeedFilter {
    /// Trim, drop empty values, normalise the tag. `Err`: a value that is
    /// too long (`invalid_body`, naming it) or a `q` that is not a search
    /// (`invalid_query`, saying where).
    pub fn normalised(self) -> Result<Self, UserError> {
        let clean = |name: &str, v: Option<String>| -> Result<Option<String>, UserError> {
            let v = v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
            match v {
                Some(v) if v.chars().count() > MAX_TEXT_CHARS => Err(UserError::new(
                    ErrorCode::InvalidBody,
                    format!("`{name}` is longer than {MAX_TEXT_CHARS} characters"),
                )),
                other => Ok(other),
            }
        };
        let q = clean("q", self.q)?;
        if let Some(Err(e)) = q.as_deref().map(super::search::parse) {
            return Err(UserError::new(
                ErrorCode::InvalidQuery,
                format!("`q` is not a search: {}", e.message),
            ));
        }
        Ok(FeedFilter {
            platform: self.platform,
            tag: clean("tag", self.tag)?.map(|t| t.trim_start_matches('#').to_lowercase()),
            kind: self.kind,
            author: clean("author", self.author)?,
            q,
        })
    }

    /// The list query of this feed's page. `q` is a search (the search
    /// route's language, matched by the index); a `q` stored before feeds
    /// took searches that does not parse as one stays a substring match.
    pub fn list_filter(
        &self,
        backend: DbBackend,
        limit: u64,
        cursor: Option<Cursor>,
    ) -> ListFilter {
        let search = self.q.as_deref().map(super::search::parse);
        let (ids_in, q) = match search {
            Some(Ok(query)) => (super::search::matching_ids(backend, &query), None),
            Some(Err(_)) => (None, self.q.clone()),
            None => (None, None),
        };
        ListFilter {
            status: Some(Status::Pulled),
            platform: self.platform,
            tag: self.tag.clone(),
            q,
            ids_in,
            kind: self.kind,
            author: self.author.clone(),
            limit,
            cursor,
            ..Default::default()
        }
    }
}

impl feed::Model {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }

    /// The stored filter. A value we never wrote (an unknown platform or
    /// kind) selects nothing rather than everything.
    pub fn filter(&self) -> FeedFilter {
        FeedFilter {
            platform: self.platform.as_deref().and_then(|p| p.parse().ok()),
            tag: self.tag.clone(),
            kind: self.kind.as_deref().and_then(|k| k.parse().ok()),
            author: self.author.clone(),
            q: self.q.clone(),
        }
    }

    /// Whether a stored filter value no longer parses (see [`Self::filter`]).
    pub fn filter_unreadable(&self) -> bool {
        self.platform
            .as_deref()
            .is_some_and(|p| p.parse::<Platform>().is_err())
            || self
                .kind
                .as_deref()
                .is_some_and(|k| k.parse::<ContentKind>().is_err())
    }
}

/// Whether `text` has the shape of a feed token.
pub fn looks_like_token(text: &str) -> bool {
    keys::looks_like_token(text, TOKEN_PREFIX)
}

/// Create a feed. Returns the row and the token, which is not kept
/// anywhere: show it once.
pub async fn create(
    db: &DatabaseConnection,
    name: Option<&str>,
    filter: FeedFilter,
) -> Result<(feed::Model, String), DbErr> {
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(MAX_TEXT_CHARS).collect::<String>());
    let token = keys::random_token(TOKEN_PREFIX);
    let row = feed::ActiveModel {
        id: NotSet,
        name: Set(name),
        prefix: Set(token[..PREFIX_LEN].to_owned()),
        token_hash: Set(hash_key(&token)),
        platform: Set(filter.platform.map(|p| p.as_str().to_owned())),
        tag: Set(filter.tag),
        kind: Set(filter.kind.map(|k| k.as_str().to_owned())),
        author: Set(filter.author),
        q: Set(filter.q),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((row, token))
}

/// Every feed, revoked ones included, oldest first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<feed::Model>, DbErr> {
    feed::Entity::find()
        .order_by_asc(feed::Column::Id)
        .all(db)
        .await
}

/// One feed by id.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<feed::Model>, DbErr> {
    feed::Entity::find_by_id(id).one(db).await
}

/// What [`revoke`] did.
pub type Revoked = keys::TokenRevoked<feed::Model>;

impl keys::TokenTable for feed::Entity {
    const ID: feed::Column = feed::Column::Id;
    const HASH: feed::Column = feed::Column::TokenHash;
    const PREFIX: feed::Column = feed::Column::Prefix;
    const REVOKED_AT: feed::Column = feed::Column::RevokedAt;
    fn looks_like(text: &str) -> bool {
        looks_like_token(text)
    }
    fn revoked_at(row: &feed::Model) -> Option<chrono::DateTime<Utc>> {
        row.revoked_at
    }
    fn with_revoked_at(row: feed::Model, at: chrono::DateTime<Utc>) -> feed::Model {
        feed::Model {
            revoked_at: Some(at),
            ..row
        }
    }
}

/// Revoke a feed named by its id, its prefix or its full token.
pub async fn revoke(db: &DatabaseConnection, id_or_prefix: &str) -> Result<Revoked, DbErr> {
    keys::revoke_token::<feed::Entity>(db, id_or_prefix).await
}

/// The live feed behind `token`, if any. Refreshes `last_used_at` at most
/// once a minute; a failure to do so is logged, never fatal.
pub async fn verify(db: &DatabaseConnection, token: &str) -> Result<Option<feed::Model>, DbErr> {
    if !looks_like_token(token) {
        return Ok(None);
    }
    let Some(row) = feed::Entity::find()
        .filter(feed::Column::TokenHash.eq(hash_key(token)))
        .filter(feed::Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    let stale_before = now - Duration::seconds(LAST_USED_GRANULARITY_SECS);
    if row.last_used_at.is_none_or(|t| t < stale_before) {
        let res = feed::Entity::update_many()
            .col_expr(feed::Column::LastUsedAt, Expr::value(now))
            .filter(feed::Column::Id.eq(row.id))
            .filter(
                Condition::any()
                    .add(feed::Column::LastUsedAt.is_null())
                    .add(feed::Column::LastUsedAt.lt(stale_before)),
            )
            .exec(db)
            .await;
        if let Err(e) = res {
            tracing::warn!(feed.id = row.id, error = %e, "cannot record the feed's last use");
        }
    }
    Ok(Some(row))
}

/// One page of the feed, newest first.
pub async fn page(
    db: &DatabaseConnection,
    feed: &feed::Model,
    limit: u64,
    cursor: Option<Cursor>,
) -> Result<contents::Page, DbErr> {
    if feed.filter_unreadable() {
        return Ok(contents::Page {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    contents::list(
        db,
        &feed
            .filter()
            .list_filter(db.get_database_backend(), limit, cursor),
    )
    .await
}

/// Whether the feed shows an item that has this archived file (by its blob
/// key, `blobs/sha256/...`): a feed's token opens those files and no other.
pub async fn may_read_blob(
    db: &DatabaseConnection,
    feed: &feed::Model,
    blob_key: &str,
) -> Result<bool, DbErr> {
    if feed.filter_unreadable() {
        return Ok(false);
    }
    let owners: Vec<i64> = media::Entity::find()
        .select_only()
        .column(media::Column::ContentId)
        .filter(media::Column::BlobKey.eq(blob_key))
        .limit(1000)
        .into_tuple()
        .all(db)
        .await?;
    if owners.is_empty() {
        return Ok(false);
    }
    let filter = feed
        .filter()
        .list_filter(db.get_database_backend(), 1, None);
    let shown = content::Entity::find()
        .filter(contents::condition(&filter))
        .filter(content::Column::Id.is_in(owners))
        .count(db)
        .await?;
    Ok(shown > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_their_own_prefix() {
        let t = keys::random_token(TOKEN_PREFIX);
        assert!(looks_like_token(&t), "{t}");
        assert!(!keys::looks_like_key(&t), "a feed token is not an API key");
        assert!(!looks_like_token(&keys::generate_key()));
    }

    #[test]
    fn filters_are_normalised() {
        let f = FeedFilter {
            tag: Some("  #Cats ".into()),
            author: Some("   ".into()),
            q: Some(" word ".into()),
            ..Default::default()
        }
        .normalised()
        .unwrap();
        assert_eq!(f.tag.as_deref(), Some("cats"));
        assert_eq!(f.author, None);
        assert_eq!(f.q.as_deref(), Some("word"));
        let long = FeedFilter {
            q: Some("x".repeat(MAX_TEXT_CHARS + 1)),
            ..Default::default()
        };
        let e = long.normalised().unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidBody);
        assert!(e.message.contains("`q`"));
        let e = FeedFilter {
            q: Some("\"open".into()),
            ..Default::default()
        }
        .normalised()
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidQuery);
        assert!(e.message.contains("column"), "{}", e.message);
    }
}
