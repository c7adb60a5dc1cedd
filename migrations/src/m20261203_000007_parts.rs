//! Whole posts: an item's ordered parts (the tweets of a self-thread, the
//! episodes of a season, the pages of a multi-part video…) and the
//! structured extras a platform gives (poll, link card, community note…),
//! stored as JSON on the item; each media file says which part it belongs
//! to. Existing items have no parts and no fields (NULL), which reads as
//! "a single-part item", as they were.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Contents {
    Table,
    Parts,
    Fields,
}

#[derive(DeriveIden)]
enum Media {
    Table,
    Part,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER.
        for col in [json_null(Contents::Parts), json_null(Contents::Fields)] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(Contents::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Media::Table)
                    .add_column(integer_null(Media::Part))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Media::Table)
                    .drop_column(Media::Part)
                    .to_owned(),
            )
            .await?;
        for col in [Contents::Parts, Contents::Fields] {
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
