//! Contents, their submissions (sources) and their tags.
//!
//! `contents(platform, platform_id)` is UNIQUE: the database, not a
//! read-then-write in the application, decides that one piece of content is
//! stored once when many users submit it at the same moment.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Contents {
    Table,
    Id,
    Platform,
    PlatformId,
    CanonicalUrl,
    Kind,
    Status,
    Title,
    Text,
    AuthorName,
    AuthorId,
    AuthorUrl,
    PublishedAt,
    Stats,
    RawMetadata,
    FailureCount,
    LastError,
    LastErrorType,
    LastErrorDetail,
    LastErrorAt,
    PulledAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ContentSources {
    Table,
    Id,
    ContentId,
    RawText,
    SubmittedUrl,
    ResolvedUrl,
    Channel,
    Tags,
    Note,
    SubmittedBy,
    RequestId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ContentTags {
    Table,
    ContentId,
    Tag,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Contents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Contents::Id))
                    .col(string_len(Contents::Platform, 32))
                    .col(text(Contents::PlatformId))
                    .col(text(Contents::CanonicalUrl))
                    .col(string_len(Contents::Kind, 32))
                    .col(string_len(Contents::Status, 32).default("unprocessed"))
                    .col(text_null(Contents::Title))
                    .col(text_null(Contents::Text))
                    .col(text_null(Contents::AuthorName))
                    .col(text_null(Contents::AuthorId))
                    .col(text_null(Contents::AuthorUrl))
                    .col(timestamp_with_time_zone_null(Contents::PublishedAt))
                    .col(json_null(Contents::Stats))
                    .col(json_null(Contents::RawMetadata))
                    .col(integer(Contents::FailureCount).default(0))
                    .col(text_null(Contents::LastError))
                    .col(string_len_null(Contents::LastErrorType, 64))
                    .col(text_null(Contents::LastErrorDetail))
                    .col(timestamp_with_time_zone_null(Contents::LastErrorAt))
                    .col(timestamp_with_time_zone_null(Contents::PulledAt))
                    .col(timestamp_with_time_zone(Contents::CreatedAt))
                    .col(timestamp_with_time_zone(Contents::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_contents_platform_platform_id")
                    .table(Contents::Table)
                    .col(Contents::Platform)
                    .col(Contents::PlatformId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The list route filters by status and/or platform and pages newest
        // first by id (keyset): these indexes serve `WHERE x = ? AND id < ?
        // ORDER BY id DESC` without a sort.
        for (name, col) in [
            ("ix_contents_status_id", Contents::Status),
            ("ix_contents_platform_id", Contents::Platform),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Contents::Table)
                        .col(col)
                        .col(Contents::Id)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ContentSources::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ContentSources::Id))
                    .col(big_integer(ContentSources::ContentId))
                    .col(text(ContentSources::RawText))
                    .col(text(ContentSources::SubmittedUrl))
                    .col(text_null(ContentSources::ResolvedUrl))
                    .col(string_len(ContentSources::Channel, 32))
                    .col(json(ContentSources::Tags))
                    .col(text_null(ContentSources::Note))
                    .col(text_null(ContentSources::SubmittedBy))
                    .col(string_len_null(ContentSources::RequestId, 128))
                    .col(timestamp_with_time_zone(ContentSources::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_content_sources_content")
                            .from(ContentSources::Table, ContentSources::ContentId)
                            .to(Contents::Table, Contents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_content_sources_content_id")
                    .table(ContentSources::Table)
                    .col(ContentSources::ContentId)
                    .col(ContentSources::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ContentTags::Table)
                    .if_not_exists()
                    .col(big_integer(ContentTags::ContentId))
                    .col(string_len(ContentTags::Tag, 64))
                    .col(timestamp_with_time_zone(ContentTags::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(ContentTags::ContentId)
                            .col(ContentTags::Tag),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_content_tags_content")
                            .from(ContentTags::Table, ContentTags::ContentId)
                            .to(Contents::Table, Contents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // `?tag=` lists: find the items of a tag, newest first.
        manager
            .create_index(
                Index::create()
                    .name("ix_content_tags_tag_content_id")
                    .table(ContentTags::Table)
                    .col(ContentTags::Tag)
                    .col(ContentTags::ContentId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ContentTags::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ContentSources::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Contents::Table).to_owned())
            .await
    }
}
