//! `m20261204_000013_logins` on a database the previous release wrote, on
//! SQLite and PostgreSQL: two new tables, nothing that was there changes,
//! a login stored afterwards works, and the migration goes down and up.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use vaultstream_core::db::dead_letters::{DeadLetterFilter, list_dead_letters};
use vaultstream_core::db::logins::Vault;
use vaultstream_core::platform::Platform;
use vaultstream_core::settings::Secret;
use vaultstream_migrations::{Migrator, MigratorTrait};
use vaultstream_testkit::upgrade::{both_backends, down_to_before, migrate_to};

const NAME: &str = "m20261204_000013_logins";

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row");
    row.try_get_by_index::<i64>(0).expect("a count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_leave_items_and_dead_letters_as_they_were() {
    for (db, _pg, _dir) in both_backends().await {
        migrate_to(&db, NAME).await;
        let now = "'2026-12-01 10:00:00+00:00'";
        // An item that failed for lack of a login, and its dead letter,
        // written as the previous release wrote them.
        exec(
            &db,
            &format!(
                "INSERT INTO contents (id, platform, platform_id, canonical_url, kind, status, \
                 failure_count, attempts, created_at, updated_at) VALUES \
                 (1, 'bilibili', 'BV1xx411c7mD', 'https://www.bilibili.com/video/BV1xx411c7mD', \
                 'video', 'failed', 1, 1, {now}, {now})"
            ),
        )
        .await;
        exec(
            &db,
            &format!(
                "INSERT INTO dead_letters (id, content_id, job_kind, platform, payload, attempts, \
                 error_type, error_message, state, created_at) VALUES \
                 (1, 1, 'parse', 'bilibili', '{{\"content_id\":1}}', 1, 'auth_required', \
                 'Bilibili needs a login to show this (code -101)', 'open', {now})"
            ),
        )
        .await;

        Migrator::up(&db, None).await.expect("the rest");

        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM contents WHERE status = 'failed'").await,
            1
        );
        let letters = list_dead_letters(
            &db,
            &DeadLetterFilter {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].error_type, "auth_required");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM logins").await, 0);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM login_vault").await, 0);

        let vault = Vault::new(db.clone(), &Secret::new("a-key-of-sixteen-chars".into()));
        vault
            .set(Platform::Bilibili, "SESSDATA=s; bili_jct=j", None, None)
            .await
            .expect("a login stored after the upgrade");
        assert_eq!(
            vault
                .cookie(Platform::Bilibili)
                .await
                .unwrap()
                .unwrap()
                .expose(),
            "SESSDATA=s; bili_jct=j"
        );

        down_to_before(&db, NAME).await;
        assert_eq!(count(&db, "SELECT COUNT(*) FROM contents").await, 1);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM dead_letters").await, 1);
        Migrator::up(&db, None).await.expect("up again");
        assert_eq!(count(&db, "SELECT COUNT(*) FROM logins").await, 0);
    }
}
