//! The batch intake through the real binary: `vaultstream import` submits
//! in batches (more than one here) with the bookmarks' original times and
//! queues no more than the queue's high-water mark; and a process that
//! dies in the middle of a batch leaves nothing of it stored.

use std::process::Stdio;
use std::time::Duration;

use vaultstream_core::db::contents;
use vaultstream_core::queue::JobQueue;
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::proc::{Proc, spawn_api, vaultstream};
use vaultstream_testkit::wait;

/// A Netscape bookmarks file of `n` tweets (each other one also bookmarked
/// under its twitter.com spelling, a duplicate) and one private address.
fn bookmarks(n: u64) -> String {
    let mut s = String::from(
        "<!DOCTYPE NETSCAPE-Bookmark-file-1>\n<TITLE>Bookmarks</TITLE>\n<H1>Bookmarks</H1>\n<DL><p>\n\
         <DT><H3 ADD_DATE=\"1600000000\">Imported</H3>\n<DL><p>\n",
    );
    for i in 0..n {
        let id = 1_600_000_000_000_000_000u64 + i;
        s.push_str(&format!(
            "<DT><A HREF=\"https://x.com/someone/status/{id}\" ADD_DATE=\"{}\">tweet {i}</A>\n",
            1_500_000_000 + i
        ));
        if i % 2 == 0 {
            s.push_str(&format!(
                "<DT><A HREF=\"https://twitter.com/someone/status/{id}?s=20\" ADD_DATE=\"1700000000\">again</A>\n"
            ));
        }
    }
    s.push_str("<DT><A HREF=\"http://10.0.0.1/\" ADD_DATE=\"1\">private</A>\n</DL><p>\n</DL><p>\n");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_goes_through_batches_with_original_times_and_a_bounded_queue() {
    let mut env = TestEnv::new(Stack::PostgresRedis).await;
    env.set("QUEUE_HIGH_WATER", "300");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bookmarks.html");
    // 1,200 tweets + 600 duplicates + 1 refused: four batches of 500.
    std::fs::write(&file, bookmarks(1200)).unwrap();
    let report = dir.path().join("report.csv");
    let out = vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env)
        .arg("import")
        .arg(&file)
        .arg("--report")
        .arg(&report)
        .output()
        .expect("run vaultstream import");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("1801 links: 1200 new, 600 already archived, 1 refused"),
        "{stderr}"
    );
    // The queue took what its high-water mark allows; the rest wait in the
    // database, due, for the reconciler.
    assert!(
        stderr.contains("900 new items wait in the database"),
        "{stderr}"
    );
    let queue = vaultstream_queue::ApalisQueue::open(&env.settings())
        .await
        .unwrap();
    let depth = queue.depth().await.unwrap().unwrap();
    assert_eq!(depth, 300, "parse jobs queued: the high-water mark");

    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();
    assert_eq!(contents::counts(&db).await.unwrap(), (1200, 1800));
    let rows: Vec<Vec<String>> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 1801);
    // Tweet 700: its own bookmark (the 1,051st link, line 1057) is new, its
    // twitter.com duplicate known; the source times are the bookmarks'.
    let row = rows.iter().find(|r| r[4] == "1600000000000000700").unwrap();
    assert_eq!(row[1], "new", "{row:?}");
    let id: i64 = row[2].parse().unwrap();
    let item = contents::get(&db, id).await.unwrap().unwrap();
    let sources = item.sources.unwrap();
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0].created_at.timestamp(), 1_500_000_700);
    assert_eq!(sources[1].created_at.timestamp(), 1_700_000_000);
    assert_eq!(item.tags, ["imported"]);
    let last = rows.last().unwrap();
    assert_eq!(
        (last[1].as_str(), last[5].as_str()),
        ("refused", "forbidden_target")
    );
}

/// The API process aborts (a failpoint) after writing half of a batch,
/// before its commit: none of the batch is stored; after a restart the same
/// batch is taken whole.
async fn crash_mid_batch(stack: Stack) {
    let env = TestEnv::new(stack).await;
    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();
    let body = serde_json::json!({"shares": (0..40u64)
        .map(|i| serde_json::json!({"url": format!("https://x.com/i/status/{}", 1_650_000_000_000_000_000u64 + i), "tags": ["t"]}))
        .collect::<Vec<_>>()});
    let client = reqwest::Client::new();

    let mut cmd = vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env);
    cmd.env("VAULTSTREAM_TEST_FAILPOINTS", "mid_batch_submit");
    let (mut api, addr) = spawn_api(cmd);
    let sent = client
        .post(format!("http://{addr}/api/v1/shares/batch"))
        .json(&body)
        .send()
        .await;
    assert!(sent.is_err(), "the process died before answering: {sent:?}");
    let status = wait::until(Duration::from_secs(30), "the API hit the failpoint", || {
        let exited = api.0.try_wait().unwrap();
        async move { exited.ok_or("running") }
    })
    .await;
    assert!(!status.success(), "aborted at the failpoint: {status:?}");
    assert_eq!(
        contents::counts(&db).await.unwrap(),
        (0, 0),
        "nothing of the batch is stored"
    );

    let mut cmd = vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env);
    cmd.stdin(Stdio::null());
    let (api, addr): (Proc, String) = spawn_api(cmd);
    let resp = client
        .post(format!("http://{addr}/api/v1/shares/batch"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let answer: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(answer["created"], 40, "{answer}");
    assert_eq!(contents::counts(&db).await.unwrap(), (40, 40));
    drop(api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_batch_stores_nothing_sqlite() {
    crash_mid_batch(Stack::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_batch_stores_nothing_postgres() {
    crash_mid_batch(Stack::PostgresRedis).await;
}
