//! The end-to-end test world: the API on port 0 and a worker, sharing a
//! database and a queue, with every upstream host overridden onto a replay
//! server on 127.0.0.1 (`/h/<host>` prefixes, unmatched requests answer
//! 599). Used by `e2e_platforms`, `e2e_media`, `e2e_telegram` and the
//! root crate's `tests/bot.rs` (the bot's commands, which the worker crate
//! does not depend on).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseConnection, EntityTrait};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::{oneshot, watch};
use vaultstream_adapters::links::{LinkPolicy, Linker};
use vaultstream_api::AppState;
use vaultstream_core::db;
use vaultstream_core::db::entities::content;
use vaultstream_core::parsed::ParsedItem;
use vaultstream_queue::ApalisQueue;
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::replay::{Replay, fixture};
use vaultstream_testkit::wait;
use vaultstream_worker::{WorkerCtx, run_workers};

/// Every host any test here touches; all of them go to the replay server.
pub const HOSTS: &[&str] = &[
    "b23.tv",
    "api.bilibili.com",
    "api.fxtwitter.com",
    "cdn.syndication.twimg.com",
    "m.weibo.cn",
    "passport.weibo.cn",
    "visitor.passport.weibo.cn",
    "passport.weibo.com",
    "www.xiaohongshu.com",
    "xhslink.com",
    "www.zhihu.com",
    "zhuanlan.zhihu.com",
    "www.iesdouyin.com",
    "v.douyin.com",
    "example.com",
    "www.youtube.com",
    // Media hosts (the media tests turn archiving on).
    "pbs.twimg.com",
    "video.twimg.com",
    "img.example.net",
    "media.example.net",
    // The whole-post rows (`e2e_platforms::whole_posts`) archive theirs.
    "www.bilibili.com",
    "i0.hdslb.com",
    "pic1.zhimg.com",
    "pic2.zhimg.com",
    "p3-pc-sign.douyinpic.com",
    "v26-web.douyinvod.com",
    "sns-webpic-qc.xhscdn.com",
    "sns-video-bd.xhscdn.com",
    "wx1.sinaimg.cn",
    "wx2.sinaimg.cn",
    "wx3.sinaimg.cn",
    "wx4.sinaimg.cn",
    "livephoto.us.sinaimg.cn",
];

// -------------------------------------------------------------- fixtures --

pub fn fixture_json(path: &str) -> Value {
    serde_json::from_str(&fixture(path)).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

// ----------------------------------------------------------------- world --

/// One deployment: the API on port 0 and the worker, sharing a database and
/// a queue, with every upstream host overridden onto `replay`.
pub struct World {
    pub env: TestEnv,
    pub queue: ApalisQueue,
    pub replay: Replay,
    pub db: DatabaseConnection,
    pub base: String,
    pub client: reqwest::Client,
    pub stop_api: Option<oneshot::Sender<()>>,
    pub stop_worker: watch::Sender<bool>,
    pub worker: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl World {
    pub async fn start(stack: Stack, tweak: impl FnOnce(&mut TestEnv)) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn,vaultstream_worker=info,vaultstream_adapters=info")
            .with_test_writer()
            .try_init();
        let replay = Replay::start(HOSTS).await;
        // Weibo's adapter asks the passport for visitor cookies first
        // (VERBATIM recorded answer).
        replay.route(
            "visitor.passport.weibo.cn/visitor/genvisitor2",
            vaultstream_testkit::replay::Reply::with_type(
                200,
                "application/javascript",
                fixture("weibo/passport_genvisitor2_answer.jsonp"),
            ),
        );
        let mut env = TestEnv::new(stack).await;
        env.set("UPSTREAM_OVERRIDES", replay.overrides())
            .set("BACKOFF_BASE_MS", "50")
            .set("MAX_ATTEMPTS", "2")
            .set("RECONCILE_INTERVAL_MS", "200")
            .set("REQUEUE_AFTER_MS", "3000")
            .set("LEASE_MS", "5000")
            .set("WORKER_CONCURRENCY", "4");
        tweak(&mut env);
        let settings = env.settings();
        let conn = db::connect_migrated(&settings)
            .await
            .expect("connect and migrate");
        let queue = ApalisQueue::open(&settings).await.expect("queue");
        let queue_handle = queue.clone();

        // The worker, as `vaultstream worker` runs it.
        let ctx = Arc::new(WorkerCtx::from_settings(
            &settings,
            conn.clone(),
            Arc::new(queue.clone()),
            vaultstream_core::blob::open(&settings)
                .await
                .expect("blob store"),
        ));
        let (stop_worker, rx) = watch::channel(false);
        let (q, worker_settings) = (queue.clone(), settings.clone());
        let worker = tokio::spawn(async move {
            let mut rx = rx;
            run_workers(&worker_settings, ctx, q, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await
        });

        // The API, as `vaultstream serve` runs it.
        let state = AppState {
            db: conn.clone(),
            linker: Linker::new(LinkPolicy::from_settings(&settings)),
            queue: Arc::new(queue),
            blobs: vaultstream_core::blob::open(&settings)
                .await
                .expect("blob store"),
            settings: Arc::new(settings),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop_api, rx) = oneshot::channel::<()>();
        tokio::spawn(vaultstream_api::serve(listener, state, async move {
            let _ = rx.await;
        }));
        World {
            env,
            queue: queue_handle,
            replay,
            db: conn,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            stop_api: Some(stop_api),
            stop_worker,
            worker: Some(worker),
        }
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.env.dir.path().to_path_buf()
    }

    pub async fn embedded() -> Self {
        Self::start(Stack::Embedded, |_| {}).await
    }

    /// `POST /api/v1/shares {"url": text}` → (status, body).
    pub async fn share(&self, text: &str) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}/api/v1/shares", self.base))
            .json(&json!({ "url": text }))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Share and expect a new item; returns its id.
    pub async fn submit(&self, text: &str) -> i64 {
        let (status, body) = self.share(text).await;
        assert_eq!(status, 201, "share {text:?}: {body}");
        body["content_id"].as_i64().expect("content_id")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// `POST` a JSON body; the status and the JSON answer.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Poll `GET /api/v1/contents/{id}` until the item is `pulled` or
    /// `failed` (bounded).
    pub async fn settle(&self, id: i64) -> Value {
        // Normally well under a second. The bound leaves room for an open
        // problem: the embedded SQLite queue sometimes delivers a freshly
        // pushed message only ~30 s later (about apalis-sqlite's default
        // heartbeat interval).
        let within = Duration::from_secs(60);
        wait::until(within, format!("item {id} settled"), || async {
            let (status, body) = self.get(&format!("/api/v1/contents/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if matches!(body["status"].as_str(), Some("pulled" | "failed")) {
                return Ok(body);
            }
            Err(format!(
                "{body}\nupstream hits: {:?}",
                self.replay.targets()
            ))
        })
        .await
    }

    /// Submit and wait for a `pulled` item; returns the API view and the
    /// stored `ParsedItem`.
    pub async fn pull(&self, text: &str) -> (Value, ParsedItem) {
        let id = self.submit(text).await;
        let view = self.settle(id).await;
        assert_eq!(
            view["status"],
            "pulled",
            "{view}\nupstream hits: {:?}",
            self.replay.targets()
        );
        (view, self.parsed(id).await)
    }

    pub async fn row(&self, id: i64) -> content::Model {
        content::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .expect("query")
            .expect("item exists")
    }

    /// The `ParsedItem` the worker stored (`contents.raw_metadata`).
    pub async fn parsed(&self, id: i64) -> ParsedItem {
        let raw = self.row(id).await.raw_metadata.expect("raw_metadata");
        serde_json::from_value(raw).expect("raw_metadata is a ParsedItem")
    }

    /// The open dead letter of one item, from `GET /api/v1/dead-letters`.
    pub async fn dead_letter(&self, content_id: i64) -> Value {
        let (status, body) = self.get("/api/v1/dead-letters?state=open").await;
        assert_eq!(status, 200, "{body}");
        let mine: Vec<&Value> = body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|d| d["content_id"].as_i64() == Some(content_id))
            .collect();
        assert_eq!(mine.len(), 1, "one dead letter for {content_id}: {body}");
        mine[0].clone()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop_api.take() {
            let _ = tx.send(());
        }
        let _ = self.stop_worker.send(true);
        if let Some(w) = self.worker.take() {
            let _ = tokio::time::timeout(Duration::from_secs(20), w).await;
        }
    }
}

// -------------------------------------------------------------- telegram --

/// Telegram users of the bot tests: allowed to save, an operator, neither.
pub const ALLOWED: i64 = 1001;
pub const OPERATOR: i64 = 1002;
pub const STRANGER: i64 = 666;

pub fn with_telegram(
    tg: &vaultstream_testkit::telegram::FakeTelegram,
) -> impl FnOnce(&mut TestEnv) + '_ {
    move |env: &mut TestEnv| {
        env.set("ARCHIVE_MEDIA", "true")
            .set("TELEGRAM_BOT_TOKEN", tg.token.clone())
            .set("TELEGRAM_API_URL", tg.base.clone())
            .set("TELEGRAM_ALLOWED_USERS", ALLOWED.to_string())
            .set("TELEGRAM_OPERATORS", OPERATOR.to_string())
            .set("TELEGRAM_DEFAULT_TARGET", "@vault_default")
            .set("RECONCILE_INTERVAL_MS", "200")
            .set("REQUEUE_AFTER_MS", "1000");
    }
}

pub fn tweet_routes(w: &World) {
    w.replay
        .route(
            "api.fxtwitter.com/status/1580661436132757506",
            vaultstream_testkit::replay::Reply::json(fixture(
                "twitter/fxtwitter_status_1580661436132757506.json",
            )),
        )
        .route(
            "api.fxtwitter.com/status/1548602399862013953",
            vaultstream_testkit::replay::Reply::json(fixture(
                "twitter/fxtwitter_status_1548602399862013953.json",
            )),
        )
        .route(
            "pbs.twimg.com/",
            vaultstream_testkit::replay::Reply::bytes("image/jpeg", photo("chelsea_small.jpg")),
        )
        .route(
            "video.twimg.com/",
            vaultstream_testkit::replay::Reply::bytes("video/mp4", fake_mp4(512 * 1024, 5)),
        );
}

// ----------------------------------------------------------- media bytes --

/// A photo from the shared media fixtures (found above the crate, so this
/// module serves the root crate's tests too).
pub fn photo(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("shared/fixtures/media"))
        .find(|d| d.is_dir())
        .expect("shared/fixtures/media above the crate");
    let p = dir.join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn sha_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// An MP4-shaped file: `ftyp` box, then an `mdat` box of pseudo-random bytes.
pub fn fake_mp4(len: usize, seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&[0, 0, 0, 0x18]);
    v.extend_from_slice(b"ftypisom");
    v.extend_from_slice(&[0, 0, 2, 0]);
    v.extend_from_slice(b"isomiso2");
    let body = len.saturating_sub(v.len() + 8) as u32 + 8;
    v.extend_from_slice(&body.to_be_bytes());
    v.extend_from_slice(b"mdat");
    let mut x = seed | 1;
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}
