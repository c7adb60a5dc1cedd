//! Settings for one test deployment.

use vaultstream_core::Settings;
use vaultstream_core::settings::SettingsSources;

use crate::pg::TestDb;

pub fn redis_url() -> String {
    std::env::var("VAULTSTREAM_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

/// Which database and queue a test deployment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// SQLite file + embedded SQLite queue (the default deployment).
    Embedded,
    /// PostgreSQL + its embedded queue.
    Postgres,
    /// PostgreSQL + Redis queue (production shape).
    PostgresRedis,
    /// SQLite + Redis queue.
    SqliteRedis,
}

/// A deployment's data dir, database and queue namespace. Dropping it
/// drops the PostgreSQL database and the Redis keys of its namespace.
pub struct TestEnv {
    pub dir: tempfile::TempDir,
    pub pg: Option<TestDb>,
    pub namespace: String,
    pub vars: Vec<(String, String)>,
    pub stack: Stack,
}

impl TestEnv {
    pub async fn new(stack: Stack) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let namespace = format!("vstest-{}", uuid::Uuid::new_v4().simple());
        let pg = match stack {
            Stack::Postgres | Stack::PostgresRedis => Some(TestDb::create().await),
            _ => None,
        };
        let database_url = match &pg {
            Some(db) => db.url.clone(),
            None => format!("sqlite://{}/vaultstream.db?mode=rwc", dir.path().display()),
        };
        let mut vars = vec![
            ("DATA_DIR".to_owned(), dir.path().display().to_string()),
            ("DATABASE_URL".to_owned(), database_url),
            ("QUEUE_NAMESPACE".to_owned(), namespace.clone()),
            ("AUTO_MIGRATE".to_owned(), "true".to_owned()),
            ("POLL_INTERVAL_MS".to_owned(), "50".to_owned()),
            // Media files point at real CDNs: tests that archive media
            // turn this on and route the media hosts to a local server.
            ("ARCHIVE_MEDIA".to_owned(), "false".to_owned()),
        ];
        if matches!(stack, Stack::PostgresRedis | Stack::SqliteRedis) {
            vars.push(("REDIS_URL".to_owned(), redis_url()));
        }
        TestEnv {
            dir,
            pg,
            namespace,
            vars,
            stack,
        }
    }

    /// Add or replace a setting (name without the `VAULTSTREAM_` prefix).
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_owned(), value.into()));
        self
    }

    pub fn settings(&self) -> Settings {
        let mut src = SettingsSources::new();
        for (k, v) in &self.vars {
            src = src.with_flag(k, v.clone()).expect("known setting");
        }
        Settings::load(&src).expect("valid test settings")
    }

    /// The same settings as `VAULTSTREAM_*` environment variables.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .map(|(k, v)| (format!("VAULTSTREAM_{k}"), v.clone()))
            .collect()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if !matches!(self.stack, Stack::PostgresRedis | Stack::SqliteRedis) {
            return;
        }
        let pattern = format!("{}*", self.namespace);
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(redis_url()) else {
                return;
            };
            let Ok(mut conn) = client.get_connection() else {
                return;
            };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
        })
        .join();
    }
}
