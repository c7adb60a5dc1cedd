//! Finer statistics for the search index's `tsvector` (PostgreSQL).
//!
//! `ANALYZE` keeps the most common lexemes of `search_docs.tsv` with their
//! frequencies, ten per unit of the column's statistics target: 1,000 by
//! default. Search sizes its first window of ids from them (see
//! `core/src/db/search/windows.rs`), and a lexeme it did not keep counts
//! as frequent as the rarest it did. At 200,000 items the 1,000th lexeme
//! was in 1.6 % of the items, so a word in 0.9 % (1,800 items) looked
//! like 3,100 and the planner guessed 1,000. With the target at 1,000,
//! 10,000 lexemes are kept (sampled from 300,000 rows): a word `ANALYZE`
//! leaves out is rare enough to be read whole. SQLite: nothing to do
//! (FTS5 needs no statistics). No row changes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The statistics target of `search_docs.tsv`.
const TSV_STATISTICS: i32 = 1000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "ALTER TABLE search_docs ALTER COLUMN tsv SET STATISTICS {TSV_STATISTICS}"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE search_docs ALTER COLUMN tsv SET STATISTICS -1")
                .await?;
        }
        Ok(())
    }
}
