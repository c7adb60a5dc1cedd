//! `m20261205_000014_search_statistics` on a database the previous release
//! wrote, on SQLite and PostgreSQL: items and their search documents stay
//! as they were and are still found; on PostgreSQL the `tsvector` column's
//! statistics target becomes 1,000 (and goes back on the way down).

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use vaultstream_core::db::search;
use vaultstream_migrations::{Migrator, MigratorTrait};
use vaultstream_testkit::upgrade::{both_backends, down_to_before, migrate_to};

const NAME: &str = "m20261205_000014_search_statistics";

async fn one(db: &DatabaseConnection, sql: &str) -> i64 {
    let backend = db.get_database_backend();
    db.query_one_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("a number")
}

/// The statistics target of `search_docs.tsv` (-1: the server's default).
async fn target(db: &DatabaseConnection) -> i64 {
    one(
        db,
        "SELECT CAST(COALESCE(attstattarget, -1) AS BIGINT) FROM pg_attribute \
         WHERE attrelid = to_regclass('search_docs') AND attname = 'tsv'",
    )
    .await
}

async fn found(db: &DatabaseConnection, q: &str) -> Vec<i64> {
    let q = search::parse(q).unwrap();
    search::search(db, &q, 10, 0)
        .await
        .unwrap()
        .hits
        .iter()
        .map(|h| h.item.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_leave_items_and_their_documents_as_they_were() {
    for (db, _pg, _dir) in both_backends().await {
        let pg = db.get_database_backend() == DbBackend::Postgres;
        migrate_to(&db, NAME).await;
        // An item and its search document, as the previous release wrote
        // them (the documents' tables are the same before and after).
        let now = "'2026-12-01 10:00:00+00:00'";
        db.execute_unprepared(&format!(
            "INSERT INTO contents (id, platform, platform_id, canonical_url, kind, status, \
             title, text, failure_count, attempts, created_at, updated_at) VALUES \
             (7, 'weibo', '5000000000000001', 'https://m.weibo.cn/detail/5000000000000001', \
             'post', 'pulled', '地铁', '今天地铁停运了很久', 0, 1, {now}, {now})"
        ))
        .await
        .unwrap();
        search::index_items(&db, &[7]).await.unwrap();
        if pg {
            assert_eq!(target(&db).await, -1);
        }

        Migrator::up(&db, None).await.expect("the rest");

        assert_eq!(one(&db, "SELECT COUNT(*) FROM contents").await, 1);
        assert_eq!(one(&db, "SELECT COUNT(*) FROM search_docs").await, 1);
        assert_eq!(found(&db, "停运").await, vec![7]);
        if pg {
            assert_eq!(target(&db).await, 1000);
            // ANALYZE keeps the document's lexemes, and search reads them.
            db.execute_unprepared("ANALYZE search_docs").await.unwrap();
            assert_eq!(found(&db, "停运").await, vec![7]);
        }

        down_to_before(&db, NAME).await;
        if pg {
            assert_eq!(target(&db).await, -1);
        }
        assert_eq!(found(&db, "地铁").await, vec![7]);
        Migrator::up(&db, None).await.expect("up again");
        if pg {
            assert_eq!(target(&db).await, 1000);
        }
    }
}
