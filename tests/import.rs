//! `vaultstream import FILE` on small files in each real format (see
//! tests/fixtures/import/README.md): bookmarks with folders, tags and notes,
//! Pocket's CSV, a plain list; links dedup by identity, private addresses
//! are refused and reported, a malformed file names its line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vaultstream_core::db::contents;
use vaultstream_testkit::env::{Stack, TestEnv};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/import")
        .join(name)
}

fn import(env: &TestEnv, file: &Path, report: &Path) -> Output {
    let mut cmd: Command =
        vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), env);
    cmd.arg("import")
        .arg(file)
        .arg("--report")
        .arg(report)
        .arg("--tag")
        .arg("imported");
    cmd.output().expect("run vaultstream import")
}

fn report_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_pocket_and_lists_become_shares() {
    let env = TestEnv::new(Stack::Embedded).await;
    let out_dir = tempfile::tempdir().unwrap();

    // Bookmarks: 4 links, the tweet twice (twitter.com and x.com forms).
    let report = out_dir.path().join("bookmarks.csv");
    let out = import(&env, &sample("bookmarks.html"), &report);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("4 links: 2 new, 1 already archived, 1 refused"),
        "{stderr}"
    );
    let rows = report_rows(&report);
    let outcomes: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(outcomes, ["new", "new", "refused", "known"]);
    assert_eq!(rows[2][5], "forbidden_target", "{:?}", rows[2]);
    // The report names the line of the file each link came from.
    assert_eq!(rows[0][0], "11");

    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();
    let tweet_id: i64 = rows[1][2].parse().unwrap();
    let tweet = contents::get(&db, tweet_id).await.unwrap().unwrap();
    assert_eq!(tweet.platform_id, "20");
    let mut tags = tweet.tags.clone();
    tags.sort();
    // Folders and TAGS become tags ("first tweet" → first-tweet), with
    // --tag; the note after the link is kept on its source.
    for t in [
        "bookmarks-bar",
        "read-later",
        "history",
        "first-tweet",
        "imported",
    ] {
        assert!(tags.contains(&t.to_owned()), "{t} in {tags:?}");
    }
    let sources = tweet.sources.unwrap();
    assert_eq!(sources.len(), 2, "both bookmarks are sources of one item");
    assert_eq!(
        sources[0].note.as_deref(),
        Some("The first tweet & its replies")
    );

    // Pocket: the video and the tweet are known now, the page is new.
    let report = out_dir.path().join("pocket.csv");
    let out = import(&env, &sample("pocket.csv"), &report);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("3 links: 1 new, 2 already archived, 0 refused"),
        "{stderr}"
    );
    let video_id: i64 = report_rows(&report)[0][2].parse().unwrap();
    let video = contents::get(&db, video_id).await.unwrap().unwrap();
    assert!(video.tags.contains(&"教程".to_owned()), "{:?}", video.tags);

    // A list: share texts work; a line without a link is refused, reported.
    let report = out_dir.path().join("links.csv");
    let out = import(&env, &sample("links.txt"), &report);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("3 links: 0 new, 2 already archived, 1 refused"),
        "{stderr}"
    );
    let rows = report_rows(&report);
    assert_eq!(rows[2][0], "5");
    assert_eq!(rows[2][5], "no_link_found");

    // A malformed CSV names its line and imports nothing.
    let out = import(
        &env,
        &sample("pocket_bad.csv"),
        &out_dir.path().join("bad.csv"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn karakeep_linkwarden_and_omnivore_exports_become_shares() {
    let env = TestEnv::new(Stack::Embedded).await;
    let out_dir = tempfile::tempdir().unwrap();
    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();

    // Karakeep: a link, a text with a link in it, an asset (no link).
    let report = out_dir.path().join("karakeep.csv");
    let out = import(&env, &sample("karakeep.json"), &report);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("(Karakeep JSON)"), "{stderr}");
    assert!(
        stderr.contains("3 links: 2 new, 0 already archived, 1 refused"),
        "{stderr}"
    );
    let rows = report_rows(&report);
    // The asset has no link: refused as empty, reported.
    assert_eq!(rows[2][5], "empty_input", "{:?}", rows[2]);
    let video_id: i64 = rows[0][2].parse().unwrap();
    let video = contents::get(&db, video_id).await.unwrap().unwrap();
    for t in ["music", "vocaloid", "watch-later", "imported"] {
        assert!(
            video.tags.contains(&t.to_owned()),
            "{t} in {:?}",
            video.tags
        );
    }
    assert_eq!(
        video.sources.unwrap()[0].note.as_deref(),
        Some("The one with the piano intro")
    );
    let tweet_id: i64 = rows[1][2].parse().unwrap();
    let tweet = contents::get(&db, tweet_id).await.unwrap().unwrap();
    assert_eq!(tweet.platform_id, "20");

    // Linkwarden: the page is new, the tweet known; the collection and
    // its parent become tags, the description the note.
    let report = out_dir.path().join("linkwarden.csv");
    let out = import(&env, &sample("linkwarden.json"), &report);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("2 links: 1 new, 1 already archived, 0 refused"),
        "{stderr}"
    );
    let rows = report_rows(&report);
    let page_id: i64 = rows[0][2].parse().unwrap();
    let page = contents::get(&db, page_id).await.unwrap().unwrap();
    for t in ["reading", "long-read"] {
        assert!(page.tags.contains(&t.to_owned()), "{t} in {:?}", page.tags);
    }
    assert_eq!(
        page.sources.unwrap()[0].note.as_deref(),
        Some("Read the second half again")
    );
    let tweet = contents::get(&db, tweet_id).await.unwrap().unwrap();
    for t in ["reading", "tweets"] {
        assert!(
            tweet.tags.contains(&t.to_owned()),
            "{t} in {:?}",
            tweet.tags
        );
    }

    // Omnivore: both known now; labels become tags.
    let report = out_dir.path().join("omnivore.csv");
    let out = import(&env, &sample("omnivore.json"), &report);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("2 links: 0 new, 2 already archived, 0 refused"),
        "{stderr}"
    );
    let page = contents::get(&db, page_id).await.unwrap().unwrap();
    for t in ["newsletter", "to-share"] {
        assert!(page.tags.contains(&t.to_owned()), "{t} in {:?}", page.tags);
    }

    // A bad value names its JSON path; bad JSON its line; nothing imported.
    let out = import(
        &env,
        &sample("karakeep_bad.json"),
        &out_dir.path().join("bad.csv"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("$.bookmarks[1].content.url: expected a string"),
        "{stderr}"
    );
    let broken = out_dir.path().join("broken.json");
    std::fs::write(&broken, "{\"bookmarks\": [\n  {\"createdAt\": 1,\n").unwrap();
    let out = import(&env, &broken, &out_dir.path().join("broken.csv"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
}
