//! Media archive: one row per media file of an item, the blobs they are
//! stored in, and which source bytes produced which blob.
//!
//! - `media`: an item's media in order (role, original URL), with its own
//!   job state (a media job per file, leased and retried like parse jobs)
//!   and, once archived, the blob it points to. UNIQUE(content_id, position)
//!   makes re-inserting an item's media list harmless.
//! - `blobs`: every stored blob once, by key (`blobs/sha256/ab/cd/<h>.<ext>`).
//! - `blob_sources`: SHA-256 of downloaded source bytes (+ the transcoding
//!   variant) → blob, so the same source image is never encoded twice.
//! - `dead_letters.media_id`: a dead-lettered media job names its file.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Media {
    Table,
    Id,
    ContentId,
    Position,
    Role,
    Quoted,
    OriginalUrl,
    UrlHash,
    RequestHeaders,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeaseToken,
    EnqueuedAt,
    BlobKey,
    Sha256,
    SourceSha256,
    Bytes,
    Width,
    Height,
    DurationSecs,
    Mime,
    FailureCount,
    ErrorType,
    ErrorCode,
    ErrorMessage,
    ErrorDetail,
    LastErrorAt,
    CreatedAt,
    UpdatedAt,
    ArchivedAt,
}

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Key,
    Sha256,
    Bytes,
    Mime,
    Width,
    Height,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BlobSources {
    Table,
    SourceSha256,
    Variant,
    BlobKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum DeadLetters {
    Table,
    MediaId,
}

#[derive(DeriveIden)]
enum ContentsRef {
    #[sea_orm(iden = "contents")]
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Media::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Media::Id))
                    .col(big_integer(Media::ContentId))
                    .col(integer(Media::Position))
                    .col(string_len(Media::Role, 16))
                    .col(boolean(Media::Quoted).default(false))
                    .col(text(Media::OriginalUrl))
                    .col(string_len(Media::UrlHash, 64))
                    .col(json_null(Media::RequestHeaders))
                    .col(string_len(Media::Status, 16).default("pending"))
                    .col(integer(Media::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(Media::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Media::LeaseUntil))
                    .col(string_len_null(Media::LeaseToken, 64))
                    .col(timestamp_with_time_zone_null(Media::EnqueuedAt))
                    .col(string_len_null(Media::BlobKey, 128))
                    .col(string_len_null(Media::Sha256, 64))
                    .col(string_len_null(Media::SourceSha256, 64))
                    .col(big_integer_null(Media::Bytes))
                    .col(integer_null(Media::Width))
                    .col(integer_null(Media::Height))
                    .col(double_null(Media::DurationSecs))
                    .col(string_len_null(Media::Mime, 64))
                    .col(integer(Media::FailureCount).default(0))
                    .col(string_len_null(Media::ErrorType, 64))
                    .col(string_len_null(Media::ErrorCode, 64))
                    .col(text_null(Media::ErrorMessage))
                    .col(text_null(Media::ErrorDetail))
                    .col(timestamp_with_time_zone_null(Media::LastErrorAt))
                    .col(timestamp_with_time_zone(Media::CreatedAt))
                    .col(timestamp_with_time_zone(Media::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Media::ArchivedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_media_content")
                            .from(Media::Table, Media::ContentId)
                            .to(ContentsRef::Table, ContentsRef::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "ux_media_content_position",
                vec![Media::ContentId, Media::Position],
                true,
            ),
            // The reconciler's scan.
            (
                "ix_media_status_next_attempt",
                vec![Media::Status, Media::NextAttemptAt],
                false,
            ),
            // "Already archived from this URL?"
            ("ix_media_url_hash", vec![Media::UrlHash], false),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(Media::Table).if_not_exists();
            for c in cols {
                idx.col(c);
            }
            if unique {
                idx.unique();
            }
            manager.create_index(idx.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Blobs::Table)
                    .if_not_exists()
                    .col(string_len(Blobs::Key, 128).primary_key())
                    .col(string_len(Blobs::Sha256, 64))
                    .col(big_integer(Blobs::Bytes))
                    .col(string_len(Blobs::Mime, 64))
                    .col(integer_null(Blobs::Width))
                    .col(integer_null(Blobs::Height))
                    .col(timestamp_with_time_zone(Blobs::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BlobSources::Table)
                    .if_not_exists()
                    .col(string_len(BlobSources::SourceSha256, 64))
                    .col(string_len(BlobSources::Variant, 32))
                    .col(string_len(BlobSources::BlobKey, 128))
                    .col(timestamp_with_time_zone(BlobSources::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(BlobSources::SourceSha256)
                            .col(BlobSources::Variant),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(DeadLetters::Table)
                    .add_column(big_integer_null(DeadLetters::MediaId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(DeadLetters::Table)
                    .drop_column(DeadLetters::MediaId)
                    .to_owned(),
            )
            .await?;
        for t in [
            BlobSources::Table.into_iden(),
            Blobs::Table.into_iden(),
            Media::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
