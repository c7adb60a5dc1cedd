//! The `vaultstream` binary as the tests run it, and items stored the way
//! the API stores them.
//!
//! The binary's path comes from the caller (`env!("CARGO_BIN_EXE_vaultstream")`
//! is only known to the root package's tests).

use std::path::Path;
use std::process::{Child, Command};

use sea_orm::DatabaseConnection;
use vaultstream_core::content::Channel;
use vaultstream_core::db::contents::{self, NewSource};
use vaultstream_core::platform::{ContentKind, Identity, Platform};
use vaultstream_core::queue::{JobQueue, ParseJob};

use crate::env::TestEnv;

/// A child process, killed (SIGKILL) when dropped, so a failing test
/// leaves nothing running.
pub struct Proc(pub Child);

impl Proc {
    /// Peak resident memory so far (VmHWM), in KiB.
    pub fn peak_kb(&self) -> u64 {
        peak_kb(self.0.id())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// VmHWM of a live process, in KiB (0 when unreadable).
pub fn peak_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `bin` with this deployment's settings and none of the caller's
/// `VAULTSTREAM_*` variables.
pub fn vaultstream(bin: impl AsRef<Path>, env: &TestEnv) -> Command {
    let mut cmd = Command::new(bin.as_ref());
    for (k, _) in std::env::vars() {
        if k.starts_with("VAULTSTREAM_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.env_vars());
    cmd
}

/// Store an item as the API would (one submission over the API channel)
/// and return its content id.
pub async fn store(db: &DatabaseConnection, identity: Identity) -> i64 {
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
    contents::submit(db, &identity, source)
        .await
        .expect("submit")
        .content
        .id
}

/// Store tweet `id` (`https://x.com/i/status/<id>`).
pub async fn store_tweet(db: &DatabaseConnection, id: &str) -> i64 {
    store(
        db,
        Identity {
            platform: Platform::Twitter,
            platform_id: id.to_owned(),
            canonical_url: format!("https://x.com/i/status/{id}"),
            kind: ContentKind::Post,
        },
    )
    .await
}

/// Store a web page by its URL.
pub async fn store_page(db: &DatabaseConnection, url: &str) -> i64 {
    store(
        db,
        Identity {
            platform: Platform::Web,
            platform_id: url.to_owned(),
            canonical_url: url.to_owned(),
            kind: ContentKind::Page,
        },
    )
    .await
}

/// Store each tweet and queue its parse job, as the API does for a new
/// share; returns the content ids in order.
pub async fn store_and_queue_tweets(
    db: &DatabaseConnection,
    queue: &dyn JobQueue,
    ids: impl IntoIterator<Item = String>,
) -> Vec<i64> {
    let mut content_ids = Vec::new();
    for id in ids {
        let content_id = store_tweet(db, &id).await;
        queue
            .enqueue_parse(
                ParseJob {
                    content_id,
                    request_id: None,
                },
                None,
            )
            .await
            .expect("enqueue");
        content_ids.push(content_id);
    }
    content_ids
}

/// Run `cmd` (a [`vaultstream`] command, settings and extra variables
/// already set) as `vaultstream --bind 127.0.0.1:0 api` and wait up to a
/// minute until it logs the address it listens on (`host:port`). The
/// server's `ERROR` lines are echoed to the test's stderr.
pub fn spawn_api(mut cmd: Command) -> (Proc, String) {
    use std::io::{BufRead, BufReader};
    let mut server = Proc(
        cmd.env("VAULTSTREAM_LOG_LEVEL", "info")
            .args(["--bind", "127.0.0.1:0", "api"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn vaultstream api"),
    );
    let stderr = server.0.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let _ = tx.send(rest.split('/').next().unwrap_or_default().to_owned());
            }
            if line.contains("ERROR") {
                eprintln!("server: {line}");
            }
        }
    });
    let addr = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the server reports its address");
    (server, addr)
}
