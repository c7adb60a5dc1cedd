//! Schema migrations (sea-orm-migration): the only place the schema changes.
//!
//! Layout: one module per migration, named `mYYYYMMDD_HHMMSS_what.rs`; the
//! file name is the migration's name in the `seaql_migrations` table, so a
//! migration that has shipped is never renamed or edited — add a new one.
//!
//! - `m20261124_000001_create_contents`: items, their submissions
//!   (sources) and their tags.
//! - `m20261124_000002_job_state`: job state on the item, and dead letters.
//! - `m20261124_000003_media`: media rows, blobs and blob sources.
//! - `m20261124_000004_push`: push targets and pushed records.
//! - `m20261124_000005_api_keys`: API keys.
//! - `m20261203_000006_push_scheduling`: when an item's pushes were scheduled.
//! - `m20261203_000007_parts`: a whole post's parts and fields.
//! - `m20261203_000008_search`: the full-text index.
//! - `m20261203_000009_refresh`: upstream state, the refresh queue, versions, stats series and upstream events.
//! - `m20261203_000010_deletion_notices`: push targets that want a notice when an original is deleted, and the notice records.
//! - `m20261203_000011_feeds`: feeds and their tokens.
//! - `m20261204_000012_webhooks`: webhooks as push targets, and the HTTP status of a pushed record.
//! - `m20261204_000013_logins`: the login vault (encrypted per-platform
//!   credentials, their health) and its key check.
//! - `m20261205_000014_search_statistics`: finer `ANALYZE` statistics for
//!   the search index's `tsvector` (PostgreSQL).

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_contents;
mod m20261124_000002_job_state;
mod m20261124_000003_media;
mod m20261124_000004_push;
mod m20261124_000005_api_keys;
mod m20261203_000006_push_scheduling;
mod m20261203_000007_parts;
mod m20261203_000008_search;
mod m20261203_000009_refresh;
mod m20261203_000010_deletion_notices;
mod m20261203_000011_feeds;
mod m20261204_000012_webhooks;
mod m20261204_000013_logins;
mod m20261205_000014_search_statistics;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_contents::Migration),
            Box::new(m20261124_000002_job_state::Migration),
            Box::new(m20261124_000003_media::Migration),
            Box::new(m20261124_000004_push::Migration),
            Box::new(m20261124_000005_api_keys::Migration),
            Box::new(m20261203_000006_push_scheduling::Migration),
            Box::new(m20261203_000007_parts::Migration),
            Box::new(m20261203_000008_search::Migration),
            Box::new(m20261203_000009_refresh::Migration),
            Box::new(m20261203_000010_deletion_notices::Migration),
            Box::new(m20261203_000011_feeds::Migration),
            Box::new(m20261204_000012_webhooks::Migration),
            Box::new(m20261204_000013_logins::Migration),
            Box::new(m20261205_000014_search_statistics::Migration),
        ]
    }
}
