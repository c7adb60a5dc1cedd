//! The library (`/`) in a real browser, at 360 px and 1280 px wide:
//! `vaultstream api` serves it on a seeded archive (real photos turned into
//! WebP blobs the way the worker does, a real MP4), and headless Chromium
//! (driven by `tests/library_browser.py` with selenium) scrolls to the
//! second page, filters by platform, opens an item, steps through its
//! gallery, seeks its video (a Range request answered 206), edits its
//! tags, submits a share text and follows the link to the new item, and
//! checks that an item whose title holds `<script>` shows it as text.
//!
//! Screenshots of every step go to `<target>/library-screenshots/`; with
//! `VAULTSTREAM_SCREENSHOTS=docs/screenshots` one per width is also
//! written there (the README shows them).
//!
//! Needs Debian's `chromium` and `chromium-driver` and Python's `selenium`
//! (`scripts/test` installs them). Without them this test fails: it never
//! skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use chrono::{TimeZone, Utc};
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use vaultstream_core::blob::{BlobKey, BlobStore};
use vaultstream_core::content::Channel;
use vaultstream_core::db::blobs::{self, Archived};
use vaultstream_core::db::contents::{self, NewSource};
use vaultstream_core::db::{items, media};
use vaultstream_core::parsed::{
    FetchError, MediaRef, MediaRole, ParsedAuthor, ParsedItem, ParsedPart,
};
use vaultstream_core::platform::{ContentKind, Identity, Platform};
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_worker::media::image::{ImageOptions, transcode};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PHOTOS: [&str; 8] = [
    "chelsea",
    "coffee",
    "astronaut",
    "rocket",
    "camera",
    "hubble",
    "retina",
    "ihc",
];
/// More than two pages of 24 cards.
const ITEMS: usize = 40;

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
        "the browser test needs {}: `scripts/test` installs them \
         (apt-get install chromium chromium-driver; pip install selenium)",
        missing.join(", ")
    );
}

fn photo(name: &str) -> Vec<u8> {
    let p = format!(
        "{}/../shared/fixtures/media/{name}_small.jpg",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

struct Seeder {
    db: DatabaseConnection,
    store: std::sync::Arc<dyn BlobStore>,
    images: ImageOptions,
    n: i64,
}

/// One item to seed.
struct Post {
    platform: Platform,
    kind: ContentKind,
    title: Option<String>,
    text: String,
    author: &'static str,
    tags: Vec<String>,
    photos: Vec<&'static str>,
    video: bool,
}

impl Seeder {
    /// Store bytes the way the worker does: the key is the SHA-256 of the
    /// stored bytes, registered in `blobs`, then the media row completed.
    async fn archive(&self, media_id: i64, bytes: Vec<u8>, ext: &str, dims: Option<(u32, u32)>) {
        let claim = media::claim(&self.db, media_id, Duration::from_secs(60))
            .await
            .unwrap()
            .expect("claimable file");
        let sha = hex::encode(Sha256::digest(&bytes));
        let key = BlobKey::new(&sha, ext).expect("blob key");
        let mime = key.content_type().to_owned();
        let size = bytes.len() as i64;
        self.store
            .put_bytes(&key, Bytes::from(bytes), &mime)
            .await
            .expect("put blob");
        let a = Archived {
            blob_key: key.as_str().to_owned(),
            sha256: sha,
            source_sha256: None,
            bytes: size,
            mime,
            width: dims.map(|d| d.0 as i32),
            height: dims.map(|d| d.1 as i32),
            duration_secs: (ext == "mp4").then_some(8.0),
        };
        blobs::record_blob(&self.db, &a, None).await.unwrap();
        assert!(media::complete(&self.db, &claim, &a).await.unwrap());
    }

    async fn post(&mut self, p: Post) -> i64 {
        self.n += 1;
        let n = self.n;
        let (platform_id, url) = match p.platform {
            Platform::Twitter => (format!("{}", 1_800_000_000 + n), String::new()),
            Platform::Weibo => (format!("{}", 5_000_000_000_000_000 + n), String::new()),
            Platform::Bilibili => (format!("dynamic:{}", 900_000 + n), String::new()),
            Platform::Xiaohongshu => (format!("{:024x}", 0x6500_0000 + n), String::new()),
            _ => (String::new(), format!("https://example.org/posts/{n}")),
        };
        let canonical_url = match p.platform {
            Platform::Twitter => format!("https://x.com/i/status/{platform_id}"),
            Platform::Weibo => format!("https://weibo.com/1234567890/{platform_id}"),
            Platform::Bilibili => format!("https://t.bilibili.com/{}", 900_000 + n),
            Platform::Xiaohongshu => format!("https://www.xiaohongshu.com/explore/{platform_id}"),
            _ => url.clone(),
        };
        let identity = Identity {
            platform: p.platform,
            platform_id: if platform_id.is_empty() {
                url
            } else {
                platform_id
            },
            canonical_url: canonical_url.clone(),
            kind: p.kind,
        };
        let source = NewSource {
            raw_text: format!("{} {canonical_url}", p.title.clone().unwrap_or_default()),
            submitted_url: canonical_url,
            resolved_url: None,
            channel: Channel::Api,
            tags: p.tags,
            note: (n % 3 == 0).then(|| "saved for the weekend".to_owned()),
            submitted_by: Some(["ana", "bo", "chen"][n as usize % 3].to_owned()),
            request_id: None,
        };
        let id = contents::submit(&self.db, &identity, source)
            .await
            .expect("submit")
            .content
            .id;
        let claim = items::claim(&self.db, id, Duration::from_secs(60))
            .await
            .unwrap()
            .expect("claimable");
        let file = |role, url: String| MediaRef {
            role,
            url,
            width: None,
            height: None,
            duration_secs: None,
            mime: None,
            headers: Default::default(),
            part: None,
        };
        let mut files: Vec<MediaRef> = p
            .photos
            .iter()
            .enumerate()
            .map(|(i, name)| {
                file(
                    MediaRole::Image,
                    format!("https://cdn.example.org/{n}/{i}-{name}.jpg"),
                )
            })
            .collect();
        if p.video {
            files.push(file(
                MediaRole::Video,
                format!("https://cdn.example.org/{n}/clip.mp4"),
            ));
        }
        // A thread: one part per line of its text, the photos dealt to the
        // parts in turn, the second part the one shared.
        let lines: Vec<&str> = if p.kind == ContentKind::Thread {
            p.text.lines().collect()
        } else {
            Vec::new()
        };
        for (i, f) in files.iter_mut().enumerate() {
            if !lines.is_empty() {
                f.part = Some((i % lines.len()) as u32);
            }
        }
        let parts = lines
            .iter()
            .enumerate()
            .map(|(i, l)| ParsedPart {
                id: Some(format!("{n}-{i}")),
                text: Some((*l).to_owned()),
                shared: i == 1,
                ..Default::default()
            })
            .collect();
        let parsed = ParsedItem {
            kind: (p.kind == ContentKind::Thread).then_some(ContentKind::Thread),
            parts,
            title: p.title,
            text: Some(p.text),
            author: Some(ParsedAuthor {
                name: Some(p.author.to_owned()),
                id: Some(p.author.to_lowercase().replace(' ', "_")),
                ..Default::default()
            }),
            // One post an hour, the newest last.
            published_at: Some(
                Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap() + chrono::Duration::hours(n),
            ),
            stats: [("likes".to_owned(), 10 * n), ("shares".to_owned(), n)].into(),
            media: files,
            ..Default::default()
        };
        assert!(
            items::complete(&self.db, &claim, &parsed, true)
                .await
                .unwrap()
        );
        for row in media::for_content(&self.db, id).await.unwrap() {
            if row.role == "video" {
                let clip = std::fs::read(
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/library/clip.mp4"),
                )
                .expect("tests/fixtures/library/clip.mp4");
                self.archive(row.id, clip, "mp4", Some((480, 270))).await;
            } else {
                let name = row
                    .original_url
                    .rsplit('-')
                    .next()
                    .unwrap()
                    .trim_end_matches(".jpg");
                let webp = transcode(&photo(name), &self.images).expect("transcode");
                self.archive(
                    row.id,
                    webp.bytes,
                    webp.ext,
                    Some((webp.width, webp.height)),
                )
                .await;
            }
        }
        vaultstream_core::db::search::index_items(&self.db, &[id])
            .await
            .unwrap();
        id
    }
}

/// A failed item (its fetch hit a login wall), for the failed badge.
async fn failed_item(db: &DatabaseConnection) -> i64 {
    let identity = Identity {
        platform: Platform::Zhihu,
        platform_id: "answer:2076341989".to_owned(),
        canonical_url: "https://www.zhihu.com/answer/2076341989".to_owned(),
        kind: ContentKind::Answer,
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
        .unwrap()
        .content
        .id;
    let claim = items::claim(db, id, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let err = FetchError::auth_required("login wall").with_detail("HTTP 403");
    assert!(
        items::fail_dead(db, &claim, &err, serde_json::json!({"content_id": id}))
            .await
            .unwrap()
    );
    id
}

/// The gallery item's original, as three refreshes found it: liked more
/// each time, edited once, then gone upstream (written as the refresh
/// worker writes them).
async fn gone_upstream(db: &DatabaseConnection, id: i64) {
    use sea_orm::{ActiveValue::NotSet, ActiveValue::Set, EntityTrait};
    use vaultstream_core::db::entities::{content, content_stat, content_version, upstream_event};
    use vaultstream_core::status::UpstreamState;
    let day = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 9, 0, 0).unwrap();
    for (d, likes, views) in [(20, 120, 900), (21, 180, 1500), (22, 205, 2100)] {
        content_stat::Entity::insert(content_stat::ActiveModel {
            id: NotSet,
            content_id: Set(id),
            captured_at: Set(day(d)),
            stats: Set(serde_json::json!({"likes": likes, "views": views})),
        })
        .exec(db)
        .await
        .unwrap();
    }
    for (v, d, diff) in [
        (1, 20, serde_json::json!([])),
        (
            2,
            21,
            serde_json::json!([{"field": "text", "change": "changed", "before": "a", "after": "b"}]),
        ),
    ] {
        content_version::Entity::insert(content_version::ActiveModel {
            id: NotSet,
            content_id: Set(id),
            version: Set(v),
            captured_at: Set(day(d)),
            snapshot: Set(serde_json::json!({"text": "…"})),
            diff: Set(Some(diff)),
        })
        .exec(db)
        .await
        .unwrap();
    }
    let evidence =
        serde_json::json!({"status": "permanent", "message": "HTTP 404: the post was deleted"});
    upstream_event::Entity::insert(upstream_event::ActiveModel {
        id: NotSet,
        content_id: Set(id),
        state: Set(UpstreamState::Deleted),
        previous: Set(UpstreamState::Live),
        at: Set(day(23)),
        evidence: Set(Some(evidence.clone())),
    })
    .exec(db)
    .await
    .unwrap();
    let mut row: content::ActiveModel = content::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .into();
    row.upstream_state = Set(UpstreamState::Deleted);
    row.upstream_state_since = Set(Some(day(22)));
    row.upstream_evidence = Set(Some(evidence));
    row.last_refresh_at = Set(Some(day(23)));
    sea_orm::ActiveModelTrait::update(row, db).await.unwrap();
}

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target dir")
        .join("library-screenshots")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browse_search_open_and_submit_in_chromium() {
    require_browser();
    let env = TestEnv::new(Stack::Embedded).await;
    let settings = env.settings();
    let db = vaultstream_core::db::connect_migrated(&settings)
        .await
        .expect("migrated database");
    let store = vaultstream_core::blob::open(&settings)
        .await
        .expect("blob store");
    let mut seed = Seeder {
        db: db.clone(),
        store,
        images: ImageOptions::from_settings(&settings.media),
        n: 0,
    };
    failed_item(&db).await;
    let platforms = [
        Platform::Weibo,
        Platform::Twitter,
        Platform::Bilibili,
        Platform::Xiaohongshu,
    ];
    let authors = ["Lin Yu", "Sam Park", "小鹿", "Mika"];
    let subjects = [
        ("A cat on the windowsill", "窗台上的猫，晒了一下午太阳。"),
        (
            "Morning coffee",
            "The first cup of the day, a flat white from the corner shop.",
        ),
        ("Launch day", "Liftoff at 06:12, clear skies over the pad."),
        (
            "Deep field",
            "Thousands of galaxies in one small patch of sky.",
        ),
        (
            "Old camera",
            "Found my grandfather's camera in the attic; it still works.",
        ),
    ];
    for i in 0..ITEMS {
        let (title, text) = subjects[i % subjects.len()];
        let photos = match i % 4 {
            0 => vec![PHOTOS[i % 8]],
            1 => vec![PHOTOS[i % 8], PHOTOS[(i + 1) % 8]],
            2 => vec![],
            _ => vec![PHOTOS[(i + 3) % 8]],
        };
        seed.post(Post {
            platform: platforms[i % platforms.len()],
            kind: ContentKind::Post,
            title: (i % 2 == 0).then(|| format!("{title} #{}", i + 1)),
            text: format!("{text} ({})", i + 1),
            author: authors[i % authors.len()],
            tags: if i % 5 == 0 {
                vec!["photos".to_owned()]
            } else {
                vec![]
            },
            photos,
            video: false,
        })
        .await;
    }
    let hostile = seed
        .post(Post {
            platform: Platform::Web,
            kind: ContentKind::Article,
            title: Some(
                "<script>alert('x')</script><b>Bold</b> & <img src=x onerror=alert(1)>".to_owned(),
            ),
            text: "<p>Markup in a page's text stays text.</p>".to_owned(),
            author: "<i>someone</i>",
            tags: vec![],
            photos: vec![],
            video: false,
        })
        .await;
    // The newest: a Weibo post with a gallery and a video.
    let gallery = seed
        .post(Post {
            platform: Platform::Weibo,
            kind: ContentKind::Post,
            title: None,
            text: "周末去了趟动物园和天文馆：猫、咖啡、火箭，还有一段视频。\nA weekend of cats, coffee and rockets, and a short clip.".to_owned(),
            author: "Lin Yu",
            tags: vec!["weekend".to_owned(), "photos".to_owned()],
            photos: vec!["chelsea", "coffee", "rocket", "astronaut"],
            video: true,
        })
        .await;
    gone_upstream(&db, gallery).await;

    let (server, addr) = vaultstream_testkit::proc::spawn_api(
        vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env),
    );
    let base = format!("http://{addr}");
    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();
    let docs = std::env::var("VAULTSTREAM_SCREENSHOTS").ok().map(|d| {
        let p = PathBuf::from(d);
        if p.is_absolute() {
            p
        } else {
            Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
        }
    });

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/library_browser.py");
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .arg(&base)
            .arg(gallery.to_string())
            .arg(hostile.to_string())
            .arg(&shots);
        if let Some(d) = docs {
            cmd.env("LIBRARY_DOCS_SCREENSHOTS", d);
        }
        cmd.output().expect("run python3 tests/library_browser.py")
    })
    .await
    .unwrap();
    drop(server);
    assert!(
        out.status.success(),
        "library_browser.py exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The submitted share is an item, and the tag edit reached the database.
    let view = contents::get(&db, gallery).await.unwrap().unwrap();
    assert!(view.tags.contains(&"zoo".to_owned()), "{:?}", view.tags);
    let found = contents::list(
        &db,
        &contents::ListFilter {
            platform: Some(Platform::Bilibili),
            q: Some("BV1GJ411x7h7".to_owned()),
            limit: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(found.items.len(), 1, "the submitted video is one item");
}

/// With auth on: the page asks for a key once, keeps it for the tab,
/// fetches archived pictures with it, and shows the operator link only to
/// an operator key; the share target submits at once with the tab's key
/// (tests/library_auth_browser.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_auth_on_the_library_asks_for_a_key_once() {
    use vaultstream_core::db::keys::{self, Role};
    require_browser();
    let mut env = TestEnv::new(Stack::Embedded).await;
    env.set("AUTH", "required");
    let settings = env.settings();
    let db = vaultstream_core::db::connect_migrated(&settings)
        .await
        .expect("migrated database");
    let store = vaultstream_core::blob::open(&settings)
        .await
        .expect("blob store");
    let mut seed = Seeder {
        db: db.clone(),
        store,
        images: ImageOptions::from_settings(&settings.media),
        n: 0,
    };
    let item = seed
        .post(Post {
            platform: Platform::Twitter,
            kind: ContentKind::Thread,
            title: None,
            text: "A cat on the windowsill, 1/2\n窗台上的猫，晒了一下午太阳。2/2".to_owned(),
            author: "Sam Park",
            tags: vec!["cats".to_owned()],
            photos: vec!["chelsea", "coffee"],
            video: false,
        })
        .await;
    let (_, submitter) = keys::create(&db, Role::Submitter, Some("browser"))
        .await
        .unwrap();
    let (_, operator) = keys::create(&db, Role::Operator, Some("browser op"))
        .await
        .unwrap();

    let (server, addr) = vaultstream_testkit::proc::spawn_api(
        vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env),
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/library_auth_browser.py");
    let base = format!("http://{addr}");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(&base)
            .arg(&submitter)
            .arg(&operator)
            .arg(item.to_string())
            .output()
            .expect("run python3 tests/library_auth_browser.py")
    })
    .await
    .unwrap();
    drop(server);
    assert!(
        out.status.success(),
        "library_auth_browser.py exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
