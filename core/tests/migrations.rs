//! Every migration carries existing data forward: a database is brought to
//! the schema before the migration, rows are written the way the previous
//! release wrote them (plain SQL, the old columns only), then the rest of
//! the migrations run and the rows are checked. On SQLite and PostgreSQL.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement};
use vaultstream_migrations::{Migrator, MigratorTrait};
use vaultstream_testkit::upgrade::{both_backends, down_to_before, migrate_to};

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn query_strings(db: &DatabaseConnection, sql: &str) -> Vec<Option<String>> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| {
            // Timestamps read back as text on both backends.
            row.try_get_by_index::<Option<String>>(0)
                .or_else(|_| {
                    row.try_get_by_index::<Option<chrono::DateTime<chrono::Utc>>>(0)
                        .map(|t| t.map(|t| t.to_rfc3339()))
                })
                .expect("a text or timestamp column")
        })
        .collect()
}

/// `m20261203_000006_push_scheduling`: items pulled before it whose media
/// had settled are marked scheduled at their pull time (so the reconciler
/// never pushes them again); items with media still pending, and items not
/// pulled, stay unscheduled; nothing else changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_scheduling_marks_settled_items() {
    for (db, _pg, _dir) in both_backends().await {
        migrate_to(&db, "m20261203_000006_push_scheduling").await;
        let ts = match db.get_database_backend() {
            DbBackend::Postgres => "'2026-11-20T10:00:00Z'",
            _ => "'2026-11-20 10:00:00+00:00'",
        };
        for (id, status, pulled) in [
            (1, "pulled", ts),
            (2, "pulled", ts),
            (3, "unprocessed", "NULL"),
        ] {
            exec(
                &db,
                &format!(
                    "INSERT INTO contents (id, platform, platform_id, canonical_url, kind, status, \
                     failure_count, pulled_at, attempts, created_at, updated_at) VALUES \
                     ({id}, 'twitter', '{id}', 'https://x.com/i/status/{id}', 'post', '{status}', \
                     0, {pulled}, 0, {ts}, {ts})"
                ),
            )
            .await;
        }
        exec(
            &db,
            &format!(
                "INSERT INTO content_tags (content_id, tag, created_at) VALUES (1, 'keep', {ts})"
            ),
        )
        .await;
        for (id, content, status) in [(1, 1, "archived"), (2, 2, "archived"), (3, 2, "pending")] {
            exec(
                &db,
                &format!(
                    "INSERT INTO media (id, content_id, position, role, quoted, original_url, url_hash, \
                     status, attempts, failure_count, created_at, updated_at) VALUES \
                     ({id}, {content}, {id}, 'image', false, 'https://pbs.twimg.com/{id}.jpg', 'h{id}', \
                     '{status}', 0, 0, {ts}, {ts})"
                ),
            )
            .await;
        }

        Migrator::up(&db, None).await.expect("the rest");

        let scheduled = query_strings(
            &db,
            "SELECT CAST(pushes_scheduled_at AS TEXT) FROM contents ORDER BY id",
        )
        .await;
        assert!(
            scheduled[0]
                .as_deref()
                .is_some_and(|t| t.starts_with("2026-11-20")),
            "{scheduled:?}"
        );
        assert_eq!(
            scheduled[1], None,
            "media pending: the usual path schedules it"
        );
        assert_eq!(scheduled[2], None, "not pulled");
        // Everything else came through.
        let tags = query_strings(&db, "SELECT tag FROM content_tags").await;
        assert_eq!(tags, vec![Some("keep".to_owned())]);
        let media = query_strings(&db, "SELECT status FROM media ORDER BY id").await;
        assert_eq!(media.len(), 3);
        // And the schema goes back down and up again.
        Migrator::down(&db, Some(1)).await.expect("down");
        Migrator::up(&db, None).await.expect("up again");
    }
}

/// `m20261203_000007_parts` and `m20261203_000008_search`: items written
/// before them keep everything; they have no parts (NULL: one part) and are
/// not in the search index until `search reindex`, after which words find
/// them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_and_search_carry_items_forward() {
    for (db, _pg, _dir) in both_backends().await {
        migrate_to(&db, "m20261203_000007_parts").await;
        let ts = match db.get_database_backend() {
            DbBackend::Postgres => "'2026-11-20T10:00:00Z'",
            _ => "'2026-11-20 10:00:00+00:00'",
        };
        exec(
            &db,
            &format!(
                "INSERT INTO contents (id, platform, platform_id, canonical_url, kind, status, \
                 title, text, failure_count, pulled_at, attempts, created_at, updated_at) VALUES \
                 (1, 'weibo', '1', 'https://m.weibo.cn/detail/1', 'post', 'pulled', \
                 '地铁故障', '今天地铁停运', 0, {ts}, 0, {ts}, {ts})"
            ),
        )
        .await;
        exec(
            &db,
            &format!(
                "INSERT INTO media (id, content_id, position, role, quoted, original_url, url_hash, \
                 status, attempts, failure_count, created_at, updated_at) VALUES \
                 (1, 1, 0, 'image', false, 'https://wx1.sinaimg.cn/1.jpg', 'h1', 'archived', 0, 0, {ts}, {ts})"
            ),
        )
        .await;

        Migrator::up(&db, None).await.expect("the rest");

        let parts = query_strings(&db, "SELECT CAST(parts AS TEXT) FROM contents").await;
        assert_eq!(parts, vec![None]);
        let part = query_strings(&db, "SELECT CAST(part AS TEXT) FROM media").await;
        assert_eq!(part, vec![None]);
        let title = query_strings(&db, "SELECT title FROM contents").await;
        assert_eq!(title, vec![Some("地铁故障".to_owned())]);
        use vaultstream_core::db::search;
        let words = search::parse("地铁").unwrap();
        assert!(
            search::search(&db, &words, 10, 0)
                .await
                .unwrap()
                .hits
                .is_empty()
        );
        let filter = search::parse("platform:weibo").unwrap();
        assert_eq!(
            search::search(&db, &filter, 10, 0)
                .await
                .unwrap()
                .hits
                .len(),
            1
        );
        assert_eq!(search::reindex(&db, 100, |_, _| {}).await.unwrap(), 1);
        assert_eq!(
            search::search(&db, &words, 10, 0).await.unwrap().hits.len(),
            1
        );
        Migrator::down(&db, Some(2)).await.expect("down");
        Migrator::up(&db, None).await.expect("up again");
    }
}

/// Four processes' worth of pools started together on one fresh database
/// (an API and workers on a fresh install) all come up migrated: none fails
/// because another is migrating at the same moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_starting_together_all_migrate() {
    use vaultstream_testkit::env::{Stack, TestEnv};
    for stack in [Stack::Embedded, Stack::Postgres] {
        let env = TestEnv::new(stack).await;
        let settings = env.settings();
        let starts = (0..4).map(|_| {
            let settings = settings.clone();
            tokio::spawn(async move { vaultstream_core::db::connect_migrated(&settings).await })
        });
        for started in futures::future::join_all(starts).await {
            let db = started
                .expect("no panic")
                .unwrap_or_else(|e| panic!("{stack:?}: a concurrent start failed: {e}"));
            assert!(
                vaultstream_core::db::pending_migrations(&db)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
    }
}

/// `m20261203_000009_refresh`: items written before it are `live`, every
/// pulled one gets a refresh row `unscheduled` (the worker puts it on the
/// policy counted from its first archive: one archived long ago is past
/// every step and stays idle, a recent one is due at its next step);
/// items not pulled get none; versions and stats start empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_carries_items_forward() {
    use vaultstream_core::db::entities::{content, refresh};
    use vaultstream_core::status::{RefreshStatus, UpstreamState};
    for (db, _pg, _dir) in both_backends().await {
        migrate_to(&db, "m20261203_000009_refresh").await;
        let pg = db.get_database_backend() == DbBackend::Postgres;
        let recent = chrono::Utc::now() - chrono::Duration::hours(2);
        let fmt = |t: chrono::DateTime<chrono::Utc>| {
            if pg {
                format!("'{}'", t.to_rfc3339())
            } else {
                format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%:z"))
            }
        };
        let old = fmt(chrono::Utc::now() - chrono::Duration::days(90));
        let recent_s = fmt(recent);
        for (id, status, pulled) in [
            (1, "pulled", old.as_str()),
            (2, "pulled", recent_s.as_str()),
            (3, "failed", "NULL"),
        ] {
            exec(
                &db,
                &format!(
                    "INSERT INTO contents (id, platform, platform_id, canonical_url, kind, status, \
                     title, failure_count, pulled_at, attempts, created_at, updated_at) VALUES \
                     ({id}, 'twitter', '{id}', 'https://x.com/i/status/{id}', 'post', '{status}', \
                     't{id}', 0, {pulled}, 0, {old}, {old})"
                ),
            )
            .await;
        }

        Migrator::up(&db, None).await.expect("the rest");

        let states = query_strings(&db, "SELECT upstream_state FROM contents ORDER BY id").await;
        assert_eq!(states, vec![Some("live".to_owned()); 3]);
        let rows = query_strings(&db, "SELECT status FROM refreshes ORDER BY id").await;
        assert_eq!(
            rows,
            vec![Some("unscheduled".to_owned()); 2],
            "pulled items only"
        );
        let versions =
            query_strings(&db, "SELECT CAST(version AS TEXT) FROM content_versions").await;
        assert!(versions.is_empty());

        let conn = &db;
        let h = std::time::Duration::from_secs(3600);
        let policy = [h, 24 * h, 7 * 24 * h, 30 * 24 * h];
        let n = vaultstream_core::db::refresh::schedule_new(conn, &policy, 100)
            .await
            .unwrap();
        assert_eq!(n, 2);
        let old_row = refresh::Entity::find_by_id(1)
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            old_row.status,
            RefreshStatus::Idle,
            "past every step: never"
        );
        let new_row = refresh::Entity::find_by_id(2)
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(new_row.status, RefreshStatus::Waiting);
        let due = new_row.next_attempt_at.expect("due");
        let want = recent + chrono::Duration::days(1);
        assert!((due - want).num_seconds().abs() <= 1, "{due} vs {want}");
        let item = content::Entity::find_by_id(2)
            .one(conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(item.upstream_state, UpstreamState::Live);
        assert_eq!(item.title.as_deref(), Some("t2"));

        Migrator::down(&db, Some(1)).await.expect("down");
        Migrator::up(&db, None).await.expect("up again");
    }
}

/// `m20261203_000010_deletion_notices`: push targets and pushed records
/// written before it are carried forward (no notices wanted; every record
/// delivers its `item`), "never twice" still holds per (target, item), and
/// a deletion notice can join an item's record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_notices_carry_targets_and_records_forward() {
    use vaultstream_core::db::entities::{push_target, pushed_record};
    use vaultstream_core::status::{PushEvent, RecordStatus};
    for (db, _pg, _dir) in both_backends().await {
        migrate_to(&db, "m20261203_000010_deletion_notices").await;
        let now = "'2026-12-01 10:00:00+00:00'";
        exec(
            &db,
            &format!(
                "INSERT INTO contents (id, platform, platform_id, canonical_url, kind, status, \
                 failure_count, attempts, created_at, updated_at) VALUES \
                 (1, 'twitter', '1', 'https://x.com/i/status/1', 'post', 'pulled', 0, 0, {now}, {now})"
            ),
        )
        .await;
        exec(
            &db,
            &format!(
                "INSERT INTO push_targets (id, name, chat_id, platforms, tags, enabled, created_at, updated_at) \
                 VALUES (1, 'main', '@vault', '[]', '[]', {t}, {now}, {now})",
                t = if db.get_database_backend() == DbBackend::Postgres { "true" } else { "1" }
            ),
        )
        .await;
        exec(
            &db,
            &format!(
                "INSERT INTO pushed_records (id, target_id, content_id, status, attempts, message_ids, \
                 created_at, sent_at, updated_at) VALUES (1, 1, 1, 'sent', 1, '[7]', {now}, {now}, {now})"
            ),
        )
        .await;

        Migrator::up(&db, None).await.expect("the rest");

        let target = push_target::Entity::find_by_id(1)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert!(!target.notify_deleted, "nobody asked for notices before");
        assert_eq!(target.chat_id, "@vault");
        let record = pushed_record::Entity::find_by_id(1)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.event, PushEvent::Item);
        assert_eq!(record.status, RecordStatus::Sent);
        assert_eq!(record.message_ids, Some(serde_json::json!([7])));
        // Never twice per (target, item, event)…
        let again = db
            .execute_unprepared(&format!(
                "INSERT INTO pushed_records (target_id, content_id, event, status, attempts, created_at, updated_at) \
                 VALUES (1, 1, 'item', 'pending', 0, {now}, {now})"
            ))
            .await;
        assert!(again.is_err(), "a second item record for the pair");
        // …but the notice joins the item's record, once.
        db.execute_unprepared("UPDATE push_targets SET notify_deleted = (1 = 1)")
            .await
            .unwrap();
        let ids = vaultstream_core::db::push::schedule_deletion_notices(&db, 1, chrono::Utc::now())
            .await
            .unwrap();
        assert_eq!(ids.len(), 1);
        let twice =
            vaultstream_core::db::push::schedule_deletion_notices(&db, 1, chrono::Utc::now())
                .await
                .unwrap();
        assert!(twice.is_empty(), "one notice per target and item");
        assert_eq!(
            vaultstream_core::db::push::item_message_ids(&db, 1, 1)
                .await
                .unwrap(),
            vec![7]
        );

        // Down to before this migration (and any after it).
        let all = Migrator::migrations();
        let at = all
            .iter()
            .position(|m| m.name() == "m20261203_000010_deletion_notices")
            .unwrap();
        Migrator::down(&db, Some((all.len() - at) as u32))
            .await
            .expect("down");
        let events = query_strings(&db, "SELECT CAST(id AS TEXT) FROM pushed_records").await;
        assert_eq!(
            events,
            vec![Some("1".to_owned())],
            "down drops the notices only"
        );
        Migrator::up(&db, None).await.expect("up again");
    }
}

/// `m20261203_000011_feeds`: a new table; the items and API keys written
/// before it are untouched, feeds made afterwards select them, and the
/// migration goes down and up again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_leave_items_and_keys_as_they_were() {
    use vaultstream_core::db::{feeds, keys};
    for (db, _pg, _dir) in both_backends().await {
        migrate_to(&db, "m20261203_000011_feeds").await;
        let now = "'2026-12-01 10:00:00+00:00'";
        for (id, status, tag) in [
            (1, "pulled", "cats"),
            (2, "pulled", "dogs"),
            (3, "failed", "cats"),
        ] {
            exec(
                &db,
                &format!(
                    "INSERT INTO contents (id, platform, platform_id, canonical_url, kind, status, \
                     title, failure_count, attempts, created_at, updated_at) VALUES \
                     ({id}, 'twitter', '{id}', 'https://x.com/i/status/{id}', 'post', '{status}', \
                     't{id}', 0, 0, {now}, {now})"
                ),
            )
            .await;
            exec(
                &db,
                &format!(
                    "INSERT INTO content_tags (content_id, tag, created_at) VALUES ({id}, '{tag}', {now})"
                ),
            )
            .await;
        }
        let (_, key) = keys::create(&db, keys::Role::Operator, Some("before"))
            .await
            .unwrap();

        Migrator::up(&db, None).await.expect("the rest");

        let titles = query_strings(&db, "SELECT title FROM contents ORDER BY id").await;
        assert_eq!(
            titles,
            vec![Some("t1".into()), Some("t2".into()), Some("t3".into())]
        );
        assert!(keys::verify(&db, &key).await.unwrap().is_some());
        let (feed, token) = feeds::create(
            &db,
            Some("cats"),
            feeds::FeedFilter {
                tag: Some("cats".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let found = feeds::verify(&db, &token)
            .await
            .unwrap()
            .expect("live feed");
        assert_eq!(found.id, feed.id);
        let page = feeds::page(&db, &found, 10, None).await.unwrap();
        let ids: Vec<i64> = page.items.iter().map(|i| i.id).collect();
        assert_eq!(ids, vec![1], "pulled items with the tag only");

        down_to_before(&db, "m20261203_000011_feeds").await;
        let left = query_strings(&db, "SELECT title FROM contents ORDER BY id").await;
        assert_eq!(left.len(), 3);
        Migrator::up(&db, None).await.expect("up again");
    }
}

/// `m20261204_000012_webhooks`: existing targets become `telegram` targets
/// with their chat, filters and records unchanged; webhook targets can be
/// stored beside them, and going down removes only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_keep_telegram_targets_and_records() {
    use vaultstream_core::db::entities::{push_target, pushed_record};
    use vaultstream_core::db::push;
    use vaultstream_core::status::{RecordStatus, TargetKind, WebhookFormat};
    for (db, _pg, _dir) in both_backends().await {
        migrate_to(&db, "m20261204_000012_webhooks").await;
        let now = "'2026-12-01 10:00:00+00:00'";
        let t = if db.get_database_backend() == DbBackend::Postgres {
            "true"
        } else {
            "1"
        };
        exec(
            &db,
            &format!(
                "INSERT INTO contents (id, platform, platform_id, canonical_url, kind, status, \
                 failure_count, attempts, created_at, updated_at) VALUES \
                 (1, 'twitter', '1', 'https://x.com/i/status/1', 'post', 'pulled', 0, 0, {now}, {now})"
            ),
        )
        .await;
        exec(
            &db,
            &format!(
                "INSERT INTO push_targets (id, name, chat_id, platforms, tags, enabled, notify_deleted, \
                 created_at, updated_at) VALUES (1, 'main', '@vault', '[\"twitter\"]', '[\"music\"]', {t}, {t}, {now}, {now})"
            ),
        )
        .await;
        exec(
            &db,
            &format!(
                "INSERT INTO pushed_records (id, target_id, content_id, event, status, attempts, message_ids, \
                 created_at, sent_at, updated_at) VALUES (1, 1, 1, 'item', 'sent', 1, '[7]', {now}, {now}, {now})"
            ),
        )
        .await;

        Migrator::up(&db, None).await.expect("the rest");

        let target = push_target::Entity::find_by_id(1)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(target.kind, TargetKind::Telegram);
        assert_eq!(
            (
                target.url.as_deref(),
                target.format,
                target.secret.as_deref()
            ),
            (None, None, None)
        );
        assert_eq!(target.chat_id, "@vault");
        assert!(target.notify_deleted && target.enabled);
        assert_eq!(push::target_platforms(&target), vec!["twitter".to_owned()]);
        assert_eq!(push::target_tags(&target), vec!["music".to_owned()]);
        let record = pushed_record::Entity::find_by_id(1)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.status, RecordStatus::Sent);
        assert_eq!(record.message_ids, Some(serde_json::json!([7])));
        assert_eq!(record.http_status, None);

        if db.get_database_backend() == DbBackend::Postgres {
            // The rows above took their ids by hand.
            exec(&db, "SELECT setval('push_targets_id_seq', 10)").await;
            exec(&db, "SELECT setval('pushed_records_id_seq', 10)").await;
        }
        let hook = push::create_target(
            &db,
            push::NewTarget {
                name: None,
                chat_id: String::new(),
                platforms: Vec::new(),
                tags: Vec::new(),
                enabled: true,
                notify_deleted: false,
                webhook: Some(push::NewWebhook {
                    url: "https://hooks.example.com/in".into(),
                    format: WebhookFormat::Standard,
                    secret: None,
                }),
            },
        )
        .await
        .unwrap();
        assert_eq!(hook.kind, TargetKind::Webhook);
        assert!(hook.chat_id.starts_with("webhook:"));
        assert!(format!("{hook:?}").contains("[redacted]"));
        assert!(!format!("{hook:?}").contains(hook.secret.as_deref().unwrap()));
        let ids = push::schedule(&db, 1).await.unwrap();
        assert_eq!(
            ids.len(),
            1,
            "the webhook takes everything; the chat wants #music only"
        );

        down_to_before(&db, "m20261204_000012_webhooks").await;
        let chats = query_strings(&db, "SELECT chat_id FROM push_targets ORDER BY id").await;
        assert_eq!(chats, vec![Some("@vault".to_owned())]);
        let records = query_strings(&db, "SELECT CAST(id AS TEXT) FROM pushed_records").await;
        assert_eq!(records, vec![Some("1".to_owned())]);
        Migrator::up(&db, None).await.expect("up again");
    }
}
