//! Push targets and pushed records, for the Telegram publisher.
//!
//! - `push_targets`: a Telegram chat (`@channel` or a numeric chat id, kept
//!   as text) with platform and tag filters (JSON arrays; empty = all).
//!   UNIQUE(chat_id): one target per chat.
//! - `pushed_records`: one row per (target, item), UNIQUE(target_id,
//!   content_id) — the "never twice" guarantee. Its own job state:
//!   `pending` → `sending` → `sent` | `failed`; a `sending` row is never
//!   claimed again automatically (Telegram may have posted it).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PushTargets {
    Table,
    Id,
    Name,
    ChatId,
    Platforms,
    Tags,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PushedRecords {
    Table,
    Id,
    TargetId,
    ContentId,
    Status,
    Attempts,
    NextAttemptAt,
    EnqueuedAt,
    MessageIds,
    ErrorMessage,
    ErrorDetail,
    CreatedAt,
    ClaimedAt,
    SentAt,
    UpdatedAt,
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
                    .table(PushTargets::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PushTargets::Id))
                    .col(string_len_null(PushTargets::Name, 128))
                    .col(string_len(PushTargets::ChatId, 64))
                    .col(json(PushTargets::Platforms))
                    .col(json(PushTargets::Tags))
                    .col(boolean(PushTargets::Enabled).default(true))
                    .col(timestamp_with_time_zone(PushTargets::CreatedAt))
                    .col(timestamp_with_time_zone(PushTargets::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_push_targets_chat_id")
                    .table(PushTargets::Table)
                    .col(PushTargets::ChatId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PushedRecords::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PushedRecords::Id))
                    .col(big_integer(PushedRecords::TargetId))
                    .col(big_integer(PushedRecords::ContentId))
                    .col(string_len(PushedRecords::Status, 16).default("pending"))
                    .col(integer(PushedRecords::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(PushedRecords::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(PushedRecords::EnqueuedAt))
                    .col(json_null(PushedRecords::MessageIds))
                    .col(text_null(PushedRecords::ErrorMessage))
                    .col(text_null(PushedRecords::ErrorDetail))
                    .col(timestamp_with_time_zone(PushedRecords::CreatedAt))
                    .col(timestamp_with_time_zone_null(PushedRecords::ClaimedAt))
                    .col(timestamp_with_time_zone_null(PushedRecords::SentAt))
                    .col(timestamp_with_time_zone(PushedRecords::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pushed_records_target")
                            .from(PushedRecords::Table, PushedRecords::TargetId)
                            .to(PushTargets::Table, PushTargets::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pushed_records_content")
                            .from(PushedRecords::Table, PushedRecords::ContentId)
                            .to(ContentsRef::Table, ContentsRef::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            // Never twice: one record per (target, item).
            (
                "ux_pushed_records_target_content",
                vec![PushedRecords::TargetId, PushedRecords::ContentId],
                true,
            ),
            // The reconciler's scan.
            (
                "ix_pushed_records_status_next_attempt",
                vec![PushedRecords::Status, PushedRecords::NextAttemptAt],
                false,
            ),
            // "Pushed where?" for one item (the list filter, FK cascades).
            (
                "ix_pushed_records_content",
                vec![PushedRecords::ContentId],
                false,
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(PushedRecords::Table).if_not_exists();
            for c in cols {
                idx.col(c);
            }
            if unique {
                idx.unique();
            }
            manager.create_index(idx.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            PushedRecords::Table.into_iden(),
            PushTargets::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
