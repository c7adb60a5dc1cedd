//! The login vault on SQLite and PostgreSQL: what is stored is ciphertext
//! only, a wrong key is refused naming the setting, and check results
//! count failures and queue each notice once.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use vaultstream_core::db::logins::{self, LoginState, Vault, VaultError};
use vaultstream_core::platform::Platform;
use vaultstream_core::settings::Secret;
use vaultstream_migrations::{Migrator, MigratorTrait};
use vaultstream_testkit::pg::TestDb;
use vaultstream_testkit::upgrade::both_backends;

const KEY: &str = "test-key-0123456789-abcdef";
const OTHER_KEY: &str = "another-key-9876543210-zyx";
const COOKIE: &str =
    "SESSDATA=plain-sessdata-4f1c%2C1790000000; bili_jct=csrf-token-77aa; DedeUserID=42";
/// Pieces of the cookie (and the key) that must never be in a row.
const NEEDLES: &[&str] = &[
    "plain-sessdata-4f1c",
    "csrf-token-77aa",
    "SESSDATA",
    "bili_jct",
    KEY,
];

/// A migrated database of each backend.
async fn databases() -> Vec<(DatabaseConnection, Option<TestDb>, tempfile::TempDir)> {
    let out = both_backends().await;
    for (db, _, _) in &out {
        Migrator::up(db, None).await.expect("migrate");
    }
    out
}

/// Every text column of every row of both tables, as stored.
async fn dump(db: &DatabaseConnection) -> String {
    let backend = db.get_database_backend();
    let mut out = String::new();
    for sql in [
        "SELECT platform, source, account, secret, last_check_state, last_check_detail, notice FROM logins",
        "SELECT key_check, key_check, key_check, key_check, key_check, key_check, key_check FROM login_vault",
    ] {
        for row in db
            .query_all_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .expect(sql)
        {
            for i in 0..7 {
                if let Ok(Some(v)) = row.try_get_by_index::<Option<String>>(i) {
                    out.push_str(&v);
                    out.push('\n');
                }
            }
        }
    }
    out
}

async fn secret_of(db: &DatabaseConnection, platform: &str) -> String {
    logins::list(db)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.platform == platform)
        .and_then(|r| r.secret)
        .expect("a stored secret")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_rows_hold_ciphertext_only() {
    for (db, _pg, _dir) in databases().await {
        let vault = Vault::new(db.clone(), &Secret::new(KEY.to_owned()));
        let row = vault
            .set(Platform::Bilibili, COOKIE, Some("alice"), None)
            .await
            .expect("stored");
        assert_eq!(row.source, "vault");
        let stored = dump(&db).await;
        assert!(
            stored.contains("alice"),
            "the dump reads the rows: {stored}"
        );
        for needle in NEEDLES {
            assert!(
                !stored.contains(needle),
                "`{needle}` is in the stored rows:\n{stored}"
            );
        }
        assert_eq!(
            vault
                .cookie(Platform::Bilibili)
                .await
                .unwrap()
                .unwrap()
                .expose(),
            COOKIE
        );
        // A fresh nonce per write: the same cookie stored twice differs.
        let first = secret_of(&db, "bilibili").await;
        vault
            .set(Platform::Bilibili, COOKIE, None, None)
            .await
            .unwrap();
        assert_ne!(first, secret_of(&db, "bilibili").await);

        // Printing the vault or what it returns shows nothing.
        let printed = format!("{vault:?} {:?}", vault.cookies().await.unwrap());
        assert!(!printed.contains("plain-sessdata"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");

        // A row moved onto another platform does not decrypt (the platform
        // is the associated data).
        let backend = db.get_database_backend();
        db.execute_raw(Statement::from_string(
            backend,
            "UPDATE logins SET platform = 'weibo' WHERE platform = 'bilibili'".to_owned(),
        ))
        .await
        .unwrap();
        let moved = vault.cookie(Platform::Weibo).await;
        assert!(matches!(moved, Err(VaultError::Damaged(_))), "{moved:?}");
        // A damaged row is left out of the cookies in use, not fatal.
        assert!(vault.cookies().await.unwrap().is_empty());

        // Bad cookies are refused before anything is written.
        for bad in ["", "   ", "a=b\nc=d"] {
            let e = vault.set(Platform::Zhihu, bad, None, None).await;
            assert!(matches!(e, Err(VaultError::BadCookie)), "{bad:?}: {e:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_naming_the_setting() {
    for (db, _pg, _dir) in databases().await {
        let right = Vault::new(db.clone(), &Secret::new(KEY.to_owned()));
        let wrong = Vault::new(db.clone(), &Secret::new(OTHER_KEY.to_owned()));
        // While nothing is stored, a new key simply takes over.
        right.verify().await.expect("first key recorded");
        wrong
            .verify()
            .await
            .expect("an empty vault takes a new key");
        right.verify().await.expect("and back");

        right
            .set(Platform::Bilibili, COOKIE, None, None)
            .await
            .unwrap();
        let e = wrong.verify().await.expect_err("a different key");
        assert!(matches!(e, VaultError::WrongKey), "{e:?}");
        assert!(e.to_string().contains("VAULTSTREAM_SECRET_KEY"), "{e}");
        assert!(matches!(
            wrong.set(Platform::Weibo, "SUB=x", None, None).await,
            Err(VaultError::WrongKey)
        ));
        assert!(matches!(
            wrong.cookie(Platform::Bilibili).await,
            Err(VaultError::Damaged(_))
        ));
        assert_eq!(
            right
                .cookie(Platform::Bilibili)
                .await
                .unwrap()
                .unwrap()
                .expose(),
            COOKIE
        );
        // The way out the message names: forget every login and the key.
        assert_eq!(logins::forget_all(&db).await.unwrap(), 1);
        wrong.verify().await.expect("a new vault");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_count_failures_and_queue_each_notice_once() {
    for (db, _pg, _dir) in databases().await {
        let p = Platform::Bilibili;
        let r = logins::record_check(&db, p, LoginState::Valid, Some("logged in"), Some("alice"))
            .await
            .unwrap();
        assert!(r.became_valid && r.notice.is_none(), "{r:?}");
        let row = logins::get(&db, p)
            .await
            .unwrap()
            .expect("a row for an env login");
        assert_eq!((row.source.as_str(), row.stored()), ("env", false));
        assert_eq!(row.account.as_deref(), Some("alice"));

        let r = logins::record_check(&db, p, LoginState::Expired, Some("code -101"), None)
            .await
            .unwrap();
        let notice = r.notice.expect("expiry is told");
        assert!(
            notice.contains("expired") && notice.contains("code -101"),
            "{notice}"
        );
        assert_eq!(r.failures_in_row, 1);
        let r = logins::record_check(&db, p, LoginState::Expired, None, None)
            .await
            .unwrap();
        assert_eq!(r.notice, None, "told once, not at every check");
        let r = logins::record_check(&db, p, LoginState::RiskControl, Some("code -352"), None)
            .await
            .unwrap();
        assert_eq!(r.failures_in_row, 3);
        assert!(
            r.notice
                .expect("third failure")
                .contains("3 times in a row")
        );
        let r = logins::record_check(&db, p, LoginState::Unreachable, None, None)
            .await
            .unwrap();
        assert_eq!((r.failures_in_row, r.notice), (4, None));

        let r = logins::record_check(&db, p, LoginState::Valid, None, None)
            .await
            .unwrap();
        assert!(r.became_valid);
        assert_eq!(r.failures_in_row, 0);
        let r = logins::record_check(&db, p, LoginState::Valid, None, None)
            .await
            .unwrap();
        assert!(!r.became_valid);

        let taken = logins::take_notices(&db).await.unwrap();
        assert_eq!(taken.len(), 1, "{taken:?}");
        assert_eq!(taken[0].0, "bilibili");
        assert_eq!(taken[0].1.lines().count(), 2, "{taken:?}");
        assert!(logins::take_notices(&db).await.unwrap().is_empty());

        // Storing a login resets its health: the next valid check is new.
        let vault = Vault::new(db.clone(), &Secret::new(KEY.to_owned()));
        vault.set(p, COOKIE, None, None).await.unwrap();
        let row = logins::get(&db, p).await.unwrap().unwrap();
        assert_eq!((row.source.as_str(), row.state()), ("vault", None));
    }
}
