use sea_orm::entity::prelude::*;

/// A feed: a filter over the archive, read by whoever holds its token. Only
/// the SHA-256 (hex) of the token is stored; `prefix` is its first
/// characters, for lists. Filter columns are NULL for "any".
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "feeds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: Option<String>,
    pub prefix: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub platform: Option<String>,
    pub tag: Option<String>,
    pub kind: Option<String>,
    pub author: Option<String>,
    pub q: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
