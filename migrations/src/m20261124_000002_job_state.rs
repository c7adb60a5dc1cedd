//! Job state on the item, and the dead-letter queue.
//!
//! The database is the source of truth for the pipeline: an item's status,
//! attempt count, lease and next attempt time live on its row, so a lost
//! queue message, a flushed Redis or a killed worker never loses an item —
//! the reconciler finds it here and queues it again. The queue (apalis) is
//! only the transport.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Contents {
    Table,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeaseToken,
    EnqueuedAt,
}

#[derive(DeriveIden)]
enum DeadLetters {
    Table,
    Id,
    ContentId,
    JobKind,
    Platform,
    Payload,
    Attempts,
    ErrorType,
    ErrorMessage,
    ErrorDetail,
    State,
    CreatedAt,
    RetriedAt,
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
        // SQLite adds one column per ALTER.
        let cols = [
            integer(Contents::Attempts).default(0).to_owned(),
            timestamp_with_time_zone_null(Contents::NextAttemptAt).to_owned(),
            timestamp_with_time_zone_null(Contents::LeaseUntil).to_owned(),
            string_len_null(Contents::LeaseToken, 64).to_owned(),
            timestamp_with_time_zone_null(Contents::EnqueuedAt).to_owned(),
        ];
        for mut col in cols {
            manager
                .alter_table(
                    Table::alter()
                        .table(Contents::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        // The reconciler's scan: items waiting or leased, by time.
        manager
            .create_index(
                Index::create()
                    .name("ix_contents_status_next_attempt")
                    .table(Contents::Table)
                    .col(Contents::Status)
                    .col(Contents::NextAttemptAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeadLetters::Table)
                    .if_not_exists()
                    .col(big_pk_auto(DeadLetters::Id))
                    .col(big_integer(DeadLetters::ContentId))
                    .col(string_len(DeadLetters::JobKind, 32))
                    .col(string_len(DeadLetters::Platform, 32))
                    .col(json(DeadLetters::Payload))
                    .col(integer(DeadLetters::Attempts))
                    .col(string_len(DeadLetters::ErrorType, 64))
                    .col(text(DeadLetters::ErrorMessage))
                    .col(text_null(DeadLetters::ErrorDetail))
                    .col(string_len(DeadLetters::State, 16).default("open"))
                    .col(timestamp_with_time_zone(DeadLetters::CreatedAt))
                    .col(timestamp_with_time_zone_null(DeadLetters::RetriedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_dead_letters_content")
                            .from(DeadLetters::Table, DeadLetters::ContentId)
                            .to(ContentsRef::Table, ContentsRef::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_dead_letters_state_id")
                    .table(DeadLetters::Table)
                    .col(DeadLetters::State)
                    .col(DeadLetters::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeadLetters::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_contents_status_next_attempt")
                    .table(Contents::Table)
                    .to_owned(),
            )
            .await?;
        for col in [
            Contents::Attempts,
            Contents::NextAttemptAt,
            Contents::LeaseUntil,
            Contents::LeaseToken,
            Contents::EnqueuedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Contents::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
