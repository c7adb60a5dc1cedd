//! `vaultstream refresh` as operators run it: the real binary names the
//! items it queued (pulled ones matching the selection, nothing else) and
//! refuses a selection it cannot read with exit 2.

use std::process::{Command, Output};
use std::time::Duration;

use vaultstream_core::db::{contents, items};
use vaultstream_core::parsed::ParsedItem;
use vaultstream_core::platform::{ContentKind, Identity, Platform};
use vaultstream_testkit::env::{Stack, TestEnv};

async fn item(env: &TestEnv, platform: Platform, id: &str, pulled: bool) -> i64 {
    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();
    let identity = Identity {
        platform,
        platform_id: id.to_owned(),
        canonical_url: format!("https://example.com/{id}"),
        kind: ContentKind::Post,
    };
    let content_id = vaultstream_testkit::proc::store(&db, identity).await;
    if pulled {
        let claim = items::claim(&db, content_id, Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        let parsed = ParsedItem {
            text: Some(format!("item {id}")),
            ..Default::default()
        };
        assert!(items::complete(&db, &claim, &parsed, false).await.unwrap());
    }
    assert!(contents::get(&db, content_id).await.unwrap().is_some());
    content_id
}

fn refresh(env: &TestEnv, args: &[&str]) -> Output {
    let mut cmd: Command =
        vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), env);
    cmd.arg("refresh").args(args);
    cmd.output().expect("run vaultstream refresh")
}

fn ids(out: &Output) -> Vec<i64> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().parse().expect("an id per line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_queues_the_pulled_items_it_names() {
    let env = TestEnv::new(Stack::Embedded).await;
    let tweet = item(&env, Platform::Twitter, "20", true).await;
    let video = item(&env, Platform::Bilibili, "BV1GJ411x7h7", true).await;
    let waiting = item(&env, Platform::Twitter, "21", false).await;

    let out = refresh(&env, &["--platform", "twitter"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        ids(&out),
        vec![tweet],
        "only the pulled tweet, not item {waiting}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 item(s) queued"));

    let out = refresh(
        &env,
        &["--id", &video.to_string(), "--id", &waiting.to_string()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ids(&out), vec![video]);

    for bad in [
        vec![],
        vec!["--older-than", "7"],
        vec!["--platform", "myspace"],
    ] {
        let out = refresh(&env, &bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(ids(&out).is_empty());
    }
}
