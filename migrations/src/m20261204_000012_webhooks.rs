//! Webhooks as push targets.
//!
//! - `push_targets` gains `kind` (`telegram`, the default and every
//!   existing target; or `webhook`), `url` (the webhook's address),
//!   `format` (`standard`, `discord` or `slack`: the JSON the receiver
//!   takes) and `secret` (the Standard Webhooks signing secret,
//!   `whsec_…`). `chat_id` stays the unique destination key: a Telegram
//!   chat id, or `webhook:` and the SHA-256 of the URL, so one URL is one
//!   target and an item reaches it at most once, as for a chat.
//! - `pushed_records` gains `http_status`: the receiver's answer to the
//!   last attempt (webhooks only).
//!
//! Existing targets and records are carried forward unchanged
//! (`telegram`, no URL, no status).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PushTargets {
    Table,
    Kind,
    Url,
    Format,
    Secret,
}

#[derive(DeriveIden)]
enum PushedRecords {
    Table,
    HttpStatus,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        let columns = [
            string_len(PushTargets::Kind, 16)
                .default("telegram")
                .to_owned(),
            text_null(PushTargets::Url),
            string_len_null(PushTargets::Format, 16),
            text_null(PushTargets::Secret),
        ];
        for mut col in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(PushTargets::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(PushedRecords::Table)
                    .add_column(integer_null(PushedRecords::HttpStatus))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Webhook targets cannot be Telegram chats: they go (their records
        // with them, by the foreign key's cascade).
        let db = manager.get_connection();
        db.execute_unprepared(
            "DELETE FROM pushed_records WHERE target_id IN \
             (SELECT id FROM push_targets WHERE kind <> 'telegram')",
        )
        .await?;
        db.execute_unprepared("DELETE FROM push_targets WHERE kind <> 'telegram'")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PushedRecords::Table)
                    .drop_column(PushedRecords::HttpStatus)
                    .to_owned(),
            )
            .await?;
        for col in [
            PushTargets::Secret,
            PushTargets::Format,
            PushTargets::Url,
            PushTargets::Kind,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PushTargets::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
