//! Test support: the real app on port 0 with its own database.
//!
//! SQLite: a fresh file in a temp dir. PostgreSQL: a fresh database on the
//! local server (`VAULTSTREAM_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`), dropped when the test
//! ends. A missing PostgreSQL fails the test: it is never skipped.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use sea_orm::{ConnectionTrait, Database};
use tokio::net::TcpListener;
use vaultstream_api::AppState;
use vaultstream_core::Settings;
use vaultstream_core::db;
use vaultstream_core::settings::SettingsSources;

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
    _dir: tempfile::TempDir,
    pg_db: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

pub fn admin_pg_url() -> String {
    std::env::var("VAULTSTREAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn pg_url_for(db_name: &str) -> String {
    let mut url = url::Url::parse(&admin_pg_url()).expect("VAULTSTREAM_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{db_name}"));
    url.to_string()
}

impl TestApp {
    /// The app's data dir (local blobs live under it).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.path().to_path_buf()
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
        let dir = tempfile::tempdir().expect("temp dir");
        let mut pg_db = None;
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}/vaultstream.db?mode=rwc", dir.path().display()),
            Backend::Postgres => {
                let name = format!("vs_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(admin_pg_url())
                    .await
                    .expect("PostgreSQL must be running for the Postgres tests (127.0.0.1:5432)");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                pg_db = Some(name.clone());
                pg_url_for(&name)
            }
        };
        let mut src = SettingsSources::new()
            .with_flag("DATA_DIR", dir.path().display().to_string())
            .unwrap()
            .with_flag("DATABASE_URL", database_url)
            .unwrap()
            .with_flag("DATABASE_MAX_CONNECTIONS", "16")
            .unwrap();
        for (k, v) in extra {
            src = src.with_flag(k, v.clone()).unwrap();
        }
        let settings = Settings::load(&src).expect("test settings");
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
            _dir: dir,
            pg_db,
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
        if let Some(name) = self.pg_db.take() {
            // Drop is sync; run the cleanup on a thread with its own runtime
            // and wait for it, so no test database outlives its test.
            let handle = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    if let Ok(admin) = Database::connect(admin_pg_url()).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .await;
                        admin.close().await.ok();
                    }
                });
            });
            let _ = handle.join();
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
