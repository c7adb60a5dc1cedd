//! Feeds: RSS, Atom and JSON Feed views of the archive, each behind its own
//! revocable token.
//!
//! - `feeds`: one row per feed. Only the SHA-256 (hex) of the feed's token
//!   is stored (`token_hash`, UNIQUE: a reader's request is found by hashing
//!   the token in its URL), with the token's first characters (`prefix`) for
//!   lists. The filter is a column per field (`platform`, `tag`, `kind`,
//!   `author`, `q`), NULL meaning "any". A revoked feed keeps its row
//!   (`revoked_at` set), like an API key.
//!
//! A new table: no existing row changes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Feeds {
    Table,
    Id,
    Name,
    Prefix,
    TokenHash,
    Platform,
    Tag,
    Kind,
    Author,
    Q,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Feeds::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Feeds::Id))
                    .col(string_len_null(Feeds::Name, 128))
                    .col(string_len(Feeds::Prefix, 16))
                    .col(string_len(Feeds::TokenHash, 64))
                    .col(string_len_null(Feeds::Platform, 32))
                    .col(string_len_null(Feeds::Tag, 128))
                    .col(string_len_null(Feeds::Kind, 32))
                    .col(string_len_null(Feeds::Author, 256))
                    .col(string_len_null(Feeds::Q, 256))
                    .col(timestamp_with_time_zone(Feeds::CreatedAt))
                    .col(timestamp_with_time_zone_null(Feeds::LastUsedAt))
                    .col(timestamp_with_time_zone_null(Feeds::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_feeds_token_hash")
                    .table(Feeds::Table)
                    .col(Feeds::TokenHash)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_feeds_prefix")
                    .table(Feeds::Table)
                    .col(Feeds::Prefix)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Feeds::Table).if_exists().to_owned())
            .await
    }
}
