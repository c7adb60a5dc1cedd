//! Full-text search on the database we already run, fed with our own
//! tokens (the `search` crate): no extra server.
//!
//! - `search_docs`: one row per item — `terms` (our terms joined by spaces;
//!   SQLite), `tsv` (a `tsvector` of the same terms; PostgreSQL), `norm`
//!   (the normalised text, for exact phrases) and when it was indexed.
//! - SQLite: `search_fts`, an FTS5 table with external content
//!   (`search_docs.terms`), kept in step by triggers; its `unicode61`
//!   tokenizer only splits our terms at the spaces we put (it keeps `#@_`
//!   inside tokens and leaves diacritics alone: we folded them already).
//!   Ranked with `bm25`.
//! - PostgreSQL: a GIN index on `tsv`, ranked with `ts_rank_cd`.
//!
//! Existing items are indexed by `vaultstream search reindex` (the worker
//! indexes every item it stores from now on, in the same transaction);
//! until then they are found by filters but not by words.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS search_docs (
        content_id INTEGER PRIMARY KEY REFERENCES contents(id) ON DELETE CASCADE,
        terms TEXT NOT NULL,
        norm TEXT NOT NULL,
        indexed_at TEXT NOT NULL)",
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
        terms, content='search_docs', content_rowid='content_id',
        tokenize = \"unicode61 remove_diacritics 0 tokenchars '#@_'\")",
    "CREATE TRIGGER IF NOT EXISTS search_docs_ai AFTER INSERT ON search_docs BEGIN
        INSERT INTO search_fts(rowid, terms) VALUES (new.content_id, new.terms);
     END",
    "CREATE TRIGGER IF NOT EXISTS search_docs_ad AFTER DELETE ON search_docs BEGIN
        INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.content_id, old.terms);
     END",
    "CREATE TRIGGER IF NOT EXISTS search_docs_au AFTER UPDATE ON search_docs BEGIN
        INSERT INTO search_fts(search_fts, rowid, terms) VALUES ('delete', old.content_id, old.terms);
        INSERT INTO search_fts(rowid, terms) VALUES (new.content_id, new.terms);
     END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS search_docs_au",
    "DROP TRIGGER IF EXISTS search_docs_ad",
    "DROP TRIGGER IF EXISTS search_docs_ai",
    "DROP TABLE IF EXISTS search_fts",
    "DROP TABLE IF EXISTS search_docs",
];

const PG_UP: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS search_docs (
        content_id BIGINT PRIMARY KEY REFERENCES contents(id) ON DELETE CASCADE,
        tsv TSVECTOR NOT NULL,
        norm TEXT NOT NULL,
        indexed_at TIMESTAMPTZ NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_search_docs_tsv ON search_docs USING GIN (tsv)",
];

const PG_DOWN: &[&str] = &["DROP TABLE IF EXISTS search_docs"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, SQLITE_UP, PG_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, SQLITE_DOWN, PG_DOWN).await
    }
}

async fn run(manager: &SchemaManager<'_>, sqlite: &[&str], pg: &[&str]) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let statements = match manager.get_database_backend() {
        DbBackend::Postgres => pg,
        _ => sqlite,
    };
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}
