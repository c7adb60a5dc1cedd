//! Migration tests: a fresh empty database of each backend, brought to the
//! schema just before the migration under test, and rolled back to it.

use sea_orm::{Database, DatabaseConnection};
use vaultstream_migrations::{Migrator, MigratorTrait};

use crate::pg::TestDb;

/// A fresh empty database of each backend: SQLite in a temporary
/// directory, then PostgreSQL. Each comes with what keeps it alive (the
/// PostgreSQL guard, the directory): hold them to the end.
pub async fn both_backends() -> Vec<(DatabaseConnection, Option<TestDb>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Database::connect(format!(
        "sqlite://{}/upgrade.db?mode=rwc",
        dir.path().display()
    ))
    .await
    .expect("sqlite");
    let pg = TestDb::create().await;
    let postgres = Database::connect(&pg.url).await.expect("postgres");
    vec![
        (sqlite, None, dir),
        (postgres, Some(pg), tempfile::tempdir().expect("temp dir")),
    ]
}

/// Where migration `name` stands in the list.
fn position(name: &str) -> (usize, usize) {
    let all = Migrator::migrations();
    let at = all
        .iter()
        .position(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no migration {name}"));
    (at, all.len())
}

/// Apply the migrations before `name`.
pub async fn migrate_to(db: &DatabaseConnection, name: &str) {
    let (at, _) = position(name);
    Migrator::up(db, Some(at as u32))
        .await
        .expect("older migrations");
}

/// Roll back `name` and every migration after it.
pub async fn down_to_before(db: &DatabaseConnection, name: &str) {
    let (at, len) = position(name);
    Migrator::down(db, Some((len - at) as u32))
        .await
        .expect("down");
}
