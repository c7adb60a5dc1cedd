//! Push scheduling that survives a crash.
//!
//! `contents.pushes_scheduled_at` is set in the transaction that creates an
//! item's pushed records (once its media have settled). An item that is
//! pulled, settled and still unscheduled is one whose scheduling was lost
//! (a worker killed between its last media commit and the records): the
//! reconciler finds it through the partial index and schedules it.
//!
//! Existing pulled items whose media have all settled were scheduled by the
//! code that wrote them, so they are marked at their pull time; items with
//! media still on their way are left for the usual path.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Contents {
    Table,
    PushesScheduledAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Contents::Table)
                    .add_column(timestamp_with_time_zone_null(Contents::PushesScheduledAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE contents SET pushes_scheduled_at = COALESCE(pulled_at, updated_at) \
             WHERE status = 'pulled' AND NOT EXISTS (SELECT 1 FROM media m \
               WHERE m.content_id = contents.id AND m.status IN ('pending', 'processing'))",
        )
        .await?;
        // Both SQLite and PostgreSQL take a partial index in this form.
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS ix_contents_push_unscheduled ON contents (id) \
             WHERE pushes_scheduled_at IS NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS ix_contents_push_unscheduled")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Contents::Table)
                    .drop_column(Contents::PushesScheduledAt)
                    .to_owned(),
            )
            .await
    }
}
