//! Test support: the real app on port 0 with its own database, from
//! `vaultstream_testkit::env::TestEnv` (SQLite: a fresh file in a temp dir;
//! PostgreSQL: a fresh database on the local server, dropped when the test
//! ends — a missing PostgreSQL fails the test: it is never skipped).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use vaultstream_api::AppState;
use vaultstream_core::db;
use vaultstream_testkit::env::{Stack, TestEnv};

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub db: sea_orm::DatabaseConnection,
    /// The data dir and the database; dropped after the server is told to
    /// stop (fields drop in order, after `Drop::drop`).
    env: TestEnv,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestApp {
    /// The app's data dir (local blobs live under it).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.env.dir.path().to_path_buf()
    }

    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, &[]).await
    }

    /// Start the app with extra settings (env-style names without prefix).
    pub async fn spawn_with(backend: Backend, extra: &[(&str, String)]) -> Self {
        // Server logs go to the test's captured output: shown when it fails.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn,vaultstream_api=info")
            .with_test_writer()
            .try_init();
        let mut env = TestEnv::new(match backend {
            Backend::Sqlite => Stack::Embedded,
            Backend::Postgres => Stack::Postgres,
        })
        .await;
        // The API's own defaults: media archived, a pool for parallel requests.
        env.set("ARCHIVE_MEDIA", "true")
            .set("DATABASE_MAX_CONNECTIONS", "16");
        for (k, v) in extra {
            env.set(k, v.clone());
        }
        let settings = env.settings();
        let conn = db::connect_migrated(&settings)
            .await
            .expect("connect and migrate");
        let linker = vaultstream_adapters::links::Linker::new(
            vaultstream_adapters::links::LinkPolicy::from_settings(&settings),
        );
        let queue = vaultstream_queue::ApalisQueue::open(&settings)
            .await
            .expect("open the embedded queue");
        let state = AppState {
            db: conn.clone(),
            linker,
            queue: Arc::new(queue),
            blobs: vaultstream_core::blob::open(&settings)
                .await
                .expect("blob store"),
            settings: Arc::new(settings),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(vaultstream_api::serve(listener, state, async move {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            db: conn,
            env,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POST /api/v1/shares with a JSON body; returns (status, body).
    pub async fn share(&self, body: serde_json::Value) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .post(self.url("/api/v1/shares"))
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let json = resp.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let json = resp.json().await.unwrap_or(serde_json::Value::Null);
        (status, json)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Run an async test body against both backends.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await;
                }
            )*
        }
    };
}
