//! `vaultstream export DIR` against a real archive: every item with its
//! sources, tags, parts and media keys as JSON lines, every archived file
//! under its content address (its name is its SHA-256), a manifest whose
//! counts and checksum match, filters, a refused non-empty directory, and
//! `--resume` after an interrupted export.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use vaultstream_core::blob::BlobKey;
use vaultstream_core::content::Channel;
use vaultstream_core::db::blobs::{self, Archived};
use vaultstream_core::db::contents::{self, NewSource};
use vaultstream_core::db::{items, media};
use vaultstream_core::parsed::{MediaRef, MediaRole, ParsedItem, ParsedPart};
use vaultstream_core::platform::{ContentKind, Identity, Platform};
use vaultstream_testkit::env::{Stack, TestEnv};

/// A pulled item with `photos` archived files (distinct bytes each) and,
/// for the first one, two parts.
async fn seed(env: &TestEnv, n: i64, platform: Platform, photos: usize) -> i64 {
    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();
    let store = vaultstream_core::blob::open(&env.settings()).await.unwrap();
    let identity = Identity {
        platform,
        platform_id: format!("{}", 1_900_000_000 + n),
        canonical_url: format!("https://x.com/i/status/{}", 1_900_000_000 + n),
        kind: ContentKind::Post,
    };
    let source = NewSource {
        raw_text: format!("look {}", identity.canonical_url),
        submitted_url: identity.canonical_url.clone(),
        resolved_url: None,
        channel: Channel::Api,
        tags: vec![format!("t{}", n % 2)],
        note: Some(format!("note <{n}>")),
        submitted_by: Some("ana".into()),
        request_id: None,
    };
    let id = contents::submit(&db, &identity, source)
        .await
        .unwrap()
        .content
        .id;
    let claim = items::claim(&db, id, Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let parsed = ParsedItem {
        title: Some(format!("标题 {n}")),
        text: Some(format!("text of {n}\nwith a second line")),
        media: (0..photos)
            .map(|i| MediaRef {
                role: MediaRole::Image,
                url: format!("https://cdn.example.org/{n}/{i}.jpg"),
                width: None,
                height: None,
                duration_secs: None,
                mime: None,
                headers: Default::default(),
                part: (n == 1).then_some(i as u32 % 2),
            })
            .collect(),
        parts: if n == 1 {
            vec![
                ParsedPart {
                    text: Some("first".into()),
                    shared: true,
                    ..Default::default()
                },
                ParsedPart {
                    text: Some("second".into()),
                    ..Default::default()
                },
            ]
        } else {
            Vec::new()
        },
        raw: serde_json::json!({"upstream": n}),
        ..Default::default()
    };
    assert!(items::complete(&db, &claim, &parsed, true).await.unwrap());
    for (i, row) in media::for_content(&db, id)
        .await
        .unwrap()
        .into_iter()
        .enumerate()
    {
        let claim = media::claim(&db, row.id, Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        let bytes = format!("RIFF-fake-webp-{n}-{i}").into_bytes();
        let sha = hex::encode(Sha256::digest(&bytes));
        let key = BlobKey::new(&sha, "webp").unwrap();
        store
            .put_bytes(&key, Bytes::from(bytes.clone()), "image/webp")
            .await
            .unwrap();
        let a = Archived {
            blob_key: key.as_str().to_owned(),
            sha256: sha,
            source_sha256: None,
            bytes: bytes.len() as i64,
            mime: "image/webp".into(),
            width: Some(10),
            height: Some(10),
            duration_secs: None,
        };
        blobs::record_blob(&db, &a, None).await.unwrap();
        assert!(media::complete(&db, &claim, &a).await.unwrap());
    }
    id
}

fn export(env: &TestEnv, args: &[&str]) -> Output {
    let mut cmd: Command =
        vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), env);
    cmd.arg("export").args(args);
    cmd.output().expect("run vaultstream export")
}

fn lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("items.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_writes_items_blobs_and_a_manifest() {
    let env = TestEnv::new(Stack::Embedded).await;
    let first = seed(&env, 1, Platform::Twitter, 3).await;
    for n in 2..=5 {
        seed(&env, n, Platform::Twitter, 1).await;
    }
    let out_root = tempfile::tempdir().unwrap();
    let dir = out_root.path().join("all");
    let out = export(&env, &[dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let items = lines(&dir);
    assert_eq!(items.len(), 5);
    let ids: Vec<i64> = items.iter().map(|v| v["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "id order: {ids:?}");
    let one = &items[0];
    assert_eq!(one["id"].as_i64(), Some(first));
    assert_eq!(one["title"], "标题 1");
    assert_eq!(one["sources"][0]["note"], "note <1>");
    assert_eq!(one["tags"], serde_json::json!(["t1"]));
    assert_eq!(one["parts"].as_array().map(Vec::len), Some(2), "{one}");
    assert_eq!(one["raw_metadata"]["raw"]["upstream"], 1);
    assert_eq!(one["media"].as_array().map(Vec::len), Some(3));

    // Every media file is there, named by its own SHA-256.
    let mut files = 0;
    for item in &items {
        for m in item["media"].as_array().unwrap() {
            let key = m["blob_key"].as_str().expect("archived");
            let bytes = std::fs::read(dir.join(key)).expect("the blob file");
            assert_eq!(hex::encode(Sha256::digest(&bytes)), m["sha256"]);
            assert!(key.contains(m["sha256"].as_str().unwrap()));
            files += 1;
        }
    }
    assert_eq!(files, 7);

    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "vaultstream-export");
    assert_eq!(manifest["items"], 5);
    assert_eq!(manifest["blobs"]["files"], 7);
    let jsonl = std::fs::read(dir.join("items.jsonl")).unwrap();
    assert_eq!(
        manifest["files"]["items.jsonl"]["sha256"],
        hex::encode(Sha256::digest(&jsonl))
    );

    // A non-empty directory is refused (exit 1) unless resuming.
    let again = export(&env, &[dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    // Filters: a tag.
    let tagged = out_root.path().join("t1");
    let out = export(&env, &[tagged.to_str().unwrap(), "--tag", "#T1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t1: Vec<i64> = lines(&tagged)
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect();
    assert_eq!(t1.len(), 3, "items 1, 3 and 5 carry t1: {t1:?}");
    // Bad filter values are usage errors.
    let bad = export(
        &env,
        &[
            out_root.path().join("x").to_str().unwrap(),
            "--since",
            "yesterday",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));

    // Resume: an export cut after two items and half a line goes on from
    // the last complete line and ends identical to a full one.
    let cut = out_root.path().join("cut");
    std::fs::create_dir_all(&cut).unwrap();
    let full = std::fs::read_to_string(dir.join("items.jsonl")).unwrap();
    let mut partial: String = full.lines().take(2).map(|l| format!("{l}\n")).collect();
    partial.push_str(&full.lines().nth(2).unwrap()[..20]);
    std::fs::write(cut.join("items.jsonl"), partial).unwrap();
    let out = export(&env, &[cut.to_str().unwrap(), "--resume"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resumed: Vec<i64> = lines(&cut)
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect();
    assert_eq!(resumed, ids);
}
