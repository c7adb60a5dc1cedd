//! The operator page (`/admin`) in a real browser: `vaultstream api` serves
//! it, headless Chromium (driven by `tests/admin_browser.py` with selenium)
//! retries a dead letter from it, and the database shows the effect.
//!
//! Needs Debian's `chromium` and `chromium-driver` and Python's `selenium`;
//! `.ci/run` installs them. Without them this test fails: it never skips.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sea_orm::EntityTrait;
use vaultstream_core::content::{Channel, Status};
use vaultstream_core::db::contents::{self, NewSource};
use vaultstream_core::db::entities::{content, dead_letter};
use vaultstream_core::db::items;
use vaultstream_core::parsed::FetchError;
use vaultstream_core::platform::{ContentKind, Identity, Platform};
use vaultstream_core::status::DeadLetterState;
use vaultstream_testkit::env::{Stack, TestEnv};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn require_browser() {
    let mut missing = Vec::new();
    for path in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(path).exists() {
            missing.push(path.to_owned());
        }
    }
    let selenium = Command::new("python3")
        .args(["-c", "import selenium"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !selenium {
        missing.push("python3 module selenium".to_owned());
    }
    assert!(
        missing.is_empty(),
        "the browser test needs {}: `.ci/run` installs them \
         (apt-get install chromium chromium-driver; pip install selenium)",
        missing.join(", ")
    );
}

/// A failed item with one open dead letter, the way a worker leaves it.
async fn seed_dead_letter(db: &sea_orm::DatabaseConnection) -> i64 {
    let identity = Identity {
        platform: Platform::Twitter,
        platform_id: "1234567890".to_owned(),
        canonical_url: "https://x.com/i/status/1234567890".to_owned(),
        kind: ContentKind::Post,
    };
    let source = NewSource {
        raw_text: format!("look <b>{}</b>", identity.canonical_url),
        submitted_url: identity.canonical_url.clone(),
        resolved_url: None,
        channel: Channel::Api,
        tags: vec!["browser".to_owned()],
        note: Some("<script>alert(1)</script>".to_owned()),
        submitted_by: None,
        request_id: None,
    };
    let id = contents::submit(db, &identity, source)
        .await
        .expect("submit")
        .content
        .id;
    let claim = items::claim(db, id, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("claimable");
    let err = FetchError::permanent("gone").with_detail("HTTP 404");
    assert!(
        items::fail_dead(db, &claim, &err, serde_json::json!({"content_id": id}))
            .await
            .unwrap()
    );
    id
}

/// A pulled, indexed item whose text has markup in it, for the search box.
async fn seed_searchable(db: &sea_orm::DatabaseConnection) -> i64 {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let identity = Identity {
        platform: Platform::Weibo,
        platform_id: "4900000000000001".to_owned(),
        canonical_url: "https://weibo.com/1234567890/4900000000000001".to_owned(),
        kind: ContentKind::Post,
    };
    let source = NewSource {
        raw_text: identity.canonical_url.clone(),
        submitted_url: identity.canonical_url.clone(),
        resolved_url: None,
        channel: Channel::Api,
        tags: vec![],
        note: None,
        submitted_by: None,
        request_id: None,
    };
    let id = contents::submit(db, &identity, source)
        .await
        .expect("submit")
        .content
        .id;
    let row = content::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut am: content::ActiveModel = row.into();
    am.status = sea_orm::ActiveValue::Set(Status::Pulled);
    am.title = Set(Some("早高峰".to_owned()));
    am.text = Set(Some(
        "今天早上地铁信号<b>故障</b>停运了很久 <img src=x onerror=alert(1)>".to_owned(),
    ));
    // Gone upstream since 2026-11-22, with two stats points.
    let day =
        |d: u32| chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, d, 9, 0, 0).unwrap();
    am.upstream_state = Set(vaultstream_core::status::UpstreamState::Deleted);
    am.upstream_state_since = Set(Some(day(22)));
    am.pulled_at = Set(Some(day(20)));
    am.update(db).await.unwrap();
    for (d, likes) in [(20, 10), (21, 25)] {
        vaultstream_core::db::entities::content_stat::Entity::insert(
            vaultstream_core::db::entities::content_stat::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                content_id: Set(id),
                captured_at: Set(day(d)),
                stats: Set(serde_json::json!({"likes": likes})),
            },
        )
        .exec(db)
        .await
        .unwrap();
    }
    vaultstream_core::db::search::index_items(db, &[id])
        .await
        .unwrap();
    id
}

/// A Discord webhook target whose push of `item` failed with a 500.
async fn seed_failed_webhook(db: &sea_orm::DatabaseConnection, item: i64) {
    use vaultstream_core::db::push;
    let target = push::create_target(
        db,
        push::NewTarget {
            name: Some("team chat".into()),
            chat_id: String::new(),
            platforms: vec![],
            tags: vec![],
            enabled: true,
            notify_deleted: false,
            webhook: Some(push::NewWebhook {
                url: "https://discord.com/api/webhooks/123/SeCrEtToKeN".into(),
                format: vaultstream_core::status::WebhookFormat::Discord,
                secret: None,
            }),
        },
    )
    .await
    .expect("webhook target");
    let record = push::schedule_one(db, target.id, item)
        .await
        .unwrap()
        .expect("a new record");
    push::claim(db, record).await.unwrap().expect("claimed");
    push::note_http_status(db, record, 500).await.unwrap();
    push::mark_failed(
        db,
        record,
        "the webhook answered 500 Internal Server Error",
        None,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_a_dead_letter_from_the_admin_page_in_chromium() {
    require_browser();
    let env = TestEnv::new(Stack::Embedded).await;
    let settings = env.settings();
    let db = vaultstream_core::db::connect_migrated(&settings)
        .await
        .expect("migrated database");
    let content_id = seed_dead_letter(&db).await;
    let searchable = seed_searchable(&db).await;
    seed_failed_webhook(&db, searchable).await;

    let (_server, addr) = vaultstream_testkit::proc::spawn_api(
        vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env),
    );
    let base = format!("http://{addr}");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/admin_browser.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(&base)
            .arg(content_id.to_string())
            .arg(searchable.to_string())
            .output()
            .expect("run python3 tests/admin_browser.py")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "admin_browser.py exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let item = content::Entity::find_by_id(content_id)
        .one(&db)
        .await
        .unwrap()
        .expect("the item");
    assert_eq!(item.status, Status::Unprocessed);
    let letters = dead_letter::Entity::find().all(&db).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].content_id, content_id);
    assert_eq!(letters[0].state, DeadLetterState::Retried);
    assert!(letters[0].retried_at.is_some());
}
