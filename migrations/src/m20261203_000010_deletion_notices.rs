//! Telling channels that an original is gone.
//!
//! - `push_targets` gains `notify_deleted` (default false): the target
//!   wants a notice when an item it received is declared deleted upstream.
//! - `pushed_records` gains `event` (`item`, the default and every
//!   existing record; or `deleted_upstream`, the notice): what the record
//!   delivers. "Never twice" becomes one record per (target, item, event):
//!   the unique index `ux_pushed_records_target_content` is replaced by
//!   `ux_pushed_records_target_content_event`, so an item still reaches a
//!   chat at most once and its deletion notice at most once.
//!
//! Existing targets and records are carried forward unchanged (`false`,
//! `item`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PushTargets {
    Table,
    NotifyDeleted,
}

#[derive(DeriveIden)]
enum PushedRecords {
    Table,
    TargetId,
    ContentId,
    Event,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PushTargets::Table)
                    .add_column(boolean(PushTargets::NotifyDeleted).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PushedRecords::Table)
                    .add_column(string_len(PushedRecords::Event, 24).default("item"))
                    .to_owned(),
            )
            .await?;
        // The new unique index first, so there is no moment without one.
        manager
            .create_index(
                Index::create()
                    .name("ux_pushed_records_target_content_event")
                    .table(PushedRecords::Table)
                    .col(PushedRecords::TargetId)
                    .col(PushedRecords::ContentId)
                    .col(PushedRecords::Event)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ux_pushed_records_target_content")
                    .table(PushedRecords::Table)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Notices go; the items' records keep their (target, item) index.
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM pushed_records WHERE event <> 'item'")
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_pushed_records_target_content")
                    .table(PushedRecords::Table)
                    .col(PushedRecords::TargetId)
                    .col(PushedRecords::ContentId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ux_pushed_records_target_content_event")
                    .table(PushedRecords::Table)
                    .to_owned(),
            )
            .await?;
        for (table, col) in [
            (
                PushedRecords::Table.into_iden(),
                PushedRecords::Event.into_iden(),
            ),
            (
                PushTargets::Table.into_iden(),
                PushTargets::NotifyDeleted.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
