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

/// History rows a refresh would have written: two versions, two stats
/// points, one upstream state change (and the item's state with it).
async fn add_history(env: &TestEnv, id: i64) {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
    use vaultstream_core::db::entities::{content, content_stat, content_version, upstream_event};
    use vaultstream_core::status::UpstreamState;
    let db = vaultstream_core::db::connect_migrated(&env.settings())
        .await
        .unwrap();
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00.123456789Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    for (v, diff) in [
        (1, None),
        (
            2,
            Some(
                serde_json::json!([{"field": "text", "change": "changed", "before": "a", "after": "b"}]),
            ),
        ),
    ] {
        content_version::ActiveModel {
            content_id: Set(id),
            version: Set(v),
            captured_at: Set(at + chrono::Duration::hours(v.into())),
            snapshot: Set(serde_json::json!({"title": format!("v{v}"), "text": "t"})),
            diff: Set(diff),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
    }
    for likes in [3, 5] {
        content_stat::ActiveModel {
            content_id: Set(id),
            captured_at: Set(at + chrono::Duration::minutes(likes)),
            stats: Set(serde_json::json!({"likes": likes})),
            ..Default::default()
        }
        .insert(&db)
        .await
        .unwrap();
    }
    upstream_event::ActiveModel {
        content_id: Set(id),
        state: Set(UpstreamState::Deleted),
        previous: Set(UpstreamState::Live),
        // Microseconds ending in zeros: chrono writes them shortened
        // (`.500`) unless the export writes all six digits.
        at: Set(
            chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00.500000789Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
        ),
        evidence: Set(Some(serde_json::json!({"status": 404}))),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    let mut item: content::ActiveModel = content::Entity::find_by_id(id)
        .one(&db)
        .await
        .unwrap()
        .unwrap()
        .into();
    item.upstream_state = Set(UpstreamState::Deleted);
    item.upstream_state_since = Set(Some(at));
    item.update(&db).await.unwrap();
}

fn import(env: &TestEnv, path: &Path, report: &Path) -> Output {
    let mut cmd: Command =
        vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), env);
    cmd.arg("import").arg(path).arg("--report").arg(report);
    cmd.output().expect("run vaultstream import")
}

/// An export's lines without the ids a deployment gives (rows get fresh
/// ids on import; everything else must be the same).
fn without_ids(dir: &Path) -> Vec<serde_json::Value> {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                o.remove("id");
                o.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut lines = lines(dir);
    lines.iter_mut().for_each(strip);
    lines
}

/// Every file under `blobs/`, by path, with its bytes.
fn blob_files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.join("blobs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// Unpack a tar into `dir` with the `tar` crate (a real reader).
fn untar(tar_path: &Path, dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    std::fs::create_dir_all(dir).unwrap();
    let mut archive = tar::Archive::new(std::fs::File::open(tar_path).unwrap());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        names.push(e.path().unwrap().display().to_string());
        e.unpack_in(dir).unwrap();
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_import_round_trip_sqlite_postgres_and_back() {
    // An archive on the embedded default: items with parts, sources with
    // notes, tags, archived files, history.
    let a = TestEnv::new(Stack::Embedded).await;
    let first = seed(&a, 1, Platform::Twitter, 3).await;
    for n in 2..=4 {
        seed(&a, n, Platform::Twitter, 1).await;
    }
    add_history(&a, first).await;
    let root = tempfile::tempdir().unwrap();

    // The same archive as a directory and as a tar: the same lines, files
    // and manifest counts; the tar ends with its manifest.
    let a_dir = root.path().join("a");
    ok(&export(&a, &[a_dir.to_str().unwrap()]));
    let a_tar = root.path().join("a.tar");
    ok(&export(&a, &[a_tar.to_str().unwrap()]));
    let unpacked = root.path().join("a-unpacked");
    let names = untar(&a_tar, &unpacked);
    assert_eq!(names.last().map(String::as_str), Some("manifest.json"));
    assert_eq!(
        std::fs::read(unpacked.join("items.jsonl")).unwrap(),
        std::fs::read(a_dir.join("items.jsonl")).unwrap()
    );
    assert_eq!(blob_files(&unpacked), blob_files(&a_dir));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(unpacked.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["items"], 4);
    assert_eq!(manifest["blobs"]["files"], 6);
    assert_eq!(
        manifest["files"]["items.jsonl"]["sha256"],
        hex::encode(Sha256::digest(
            std::fs::read(unpacked.join("items.jsonl")).unwrap()
        ))
    );
    // Every stored row of the item is in its line.
    let one = &lines(&a_dir)[0];
    assert_eq!(one["stored"]["versions"].as_array().map(Vec::len), Some(2));
    assert_eq!(one["stored"]["stats"][1]["stats"]["likes"], 5);
    assert_eq!(one["stored"]["upstream_events"][0]["state"], "deleted");
    assert_eq!(one["stored"]["media"].as_array().map(Vec::len), Some(3));
    assert_eq!(one["stored"]["blobs"].as_array().map(Vec::len), Some(3));
    assert_eq!(one["stored"]["tags"][0]["tag"], "t1");
    assert_eq!(
        one["stored"]["versions"][0]["captured_at"], "2026-11-30T11:00:00.123456Z",
        "times at microseconds, as every database keeps them"
    );
    assert_eq!(
        one["stored"]["upstream_events"][0]["at"], "2026-11-30T10:00:00.500000Z",
        "always six digits, so PostgreSQL's `.5` and SQLite's `.500000789` export alike"
    );

    // SQLite → PostgreSQL (from the tar; its files in S3, streamed both
    // ways), then PostgreSQL → SQLite (from a directory): each export is
    // the first one, ids aside.
    let bucket = vaultstream_testkit::s3::server().bucket();
    let mut b = TestEnv::new(Stack::Postgres).await;
    for (k, v) in &bucket.env {
        b.set(k, v.clone());
    }
    let stderr = ok(&import(&b, &a_tar, &root.path().join("b.csv")));
    assert!(
        stderr.contains("4 items: 4 new, 0 already archived"),
        "{stderr}"
    );
    let b_dir = root.path().join("b");
    ok(&export(&b, &[b_dir.to_str().unwrap()]));
    assert_eq!(without_ids(&b_dir), without_ids(&a_dir));
    assert_eq!(blob_files(&b_dir), blob_files(&a_dir));

    let c = TestEnv::new(Stack::Embedded).await;
    ok(&import(&c, &b_dir, &root.path().join("c.csv")));
    let c_dir = root.path().join("c");
    ok(&export(&c, &[c_dir.to_str().unwrap()]));
    assert_eq!(without_ids(&c_dir), without_ids(&a_dir));
    assert_eq!(blob_files(&c_dir), blob_files(&a_dir));
    // Restored items are searchable and show their history.
    let db = vaultstream_core::db::connect_migrated(&c.settings())
        .await
        .unwrap();
    let restored: i64 = lines(&c_dir)[0]["id"].as_i64().unwrap();
    let history = vaultstream_core::db::history::history(&db, restored)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(history.versions.len(), 2);
    assert_eq!(history.stats.len(), 2);
    assert_eq!(history.states.len(), 1);

    // Importing again skips every item by identity: nothing doubles.
    let stderr = ok(&import(&b, &a_dir, &root.path().join("b2.csv")));
    assert!(
        stderr.contains("4 items: 0 new, 4 already archived"),
        "{stderr}"
    );
    let again = root.path().join("b-again");
    ok(&export(&b, &[again.to_str().unwrap()]));
    assert_eq!(lines(&again).len(), 4);

    // A damaged blob (bytes that do not match its name) stops the import
    // before any item, naming the file, with the usage exit code.
    let damaged = root.path().join("damaged");
    untar(&a_tar, &damaged);
    let (path, _) = blob_files(&damaged).into_iter().next().unwrap();
    std::fs::write(damaged.join(&path), b"not the bytes").unwrap();
    let d = TestEnv::new(Stack::Embedded).await;
    let out = import(&d, &damaged, &root.path().join("d.csv"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&path) && stderr.contains("SHA-256"),
        "{stderr}"
    );
    let d_dir = root.path().join("d");
    ok(&export(&d, &[d_dir.to_str().unwrap()]));
    assert!(lines(&d_dir).is_empty(), "no item was restored");

    // A bad line names its line and restores nothing.
    let bad = root.path().join("bad");
    untar(&a_tar, &bad);
    let mut text = std::fs::read_to_string(bad.join("items.jsonl")).unwrap();
    text.push_str("{\"stored\": 1}\n");
    std::fs::write(bad.join("items.jsonl"), text).unwrap();
    let out = import(&d, &bad, &root.path().join("d2.csv"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("items.jsonl line 5"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_streams_the_same_tar() {
    let env = TestEnv::new(Stack::Embedded).await;
    for n in 1..=3 {
        seed(&env, n, Platform::Twitter, 1).await;
    }
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("cli");
    ok(&export(&env, &[dir.to_str().unwrap(), "--tag", "t1"]));

    let (_server, addr) = vaultstream_testkit::proc::spawn_api(
        vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env),
    );
    let client = reqwest::Client::new();
    let resp = client
        .get(format!("http://{addr}/api/v1/export?tag=t1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-tar");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"vaultstream-export-")
    );
    let tar_path = root.path().join("api.tar");
    std::fs::write(&tar_path, resp.bytes().await.unwrap()).unwrap();
    let unpacked = root.path().join("api");
    let names = untar(&tar_path, &unpacked);
    assert_eq!(names.last().map(String::as_str), Some("manifest.json"));
    assert_eq!(
        std::fs::read(unpacked.join("items.jsonl")).unwrap(),
        std::fs::read(dir.join("items.jsonl")).unwrap(),
        "the API's tar holds what the CLI writes"
    );
    assert_eq!(lines(&unpacked).len(), 2);
    assert_eq!(blob_files(&unpacked), blob_files(&dir));

    // Bad filters are 400 invalid_parameter, before any byte of a tar.
    for q in ["since=yesterday", "platform=myspace", "blobs=maybe"] {
        let resp = client
            .get(format!("http://{addr}/api/v1/export?{q}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{q}");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_parameter", "{q}: {body}");
    }
}
