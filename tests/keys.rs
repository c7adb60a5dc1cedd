//! `vaultstream keys create|list|revoke` as a user runs them, and a created
//! key working against a running `vaultstream api` that requires keys.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaultstream"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VAULTSTREAM_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("VAULTSTREAM_LOG_LEVEL", "warn");
    cmd
}

fn in_dir(dir: &Path) -> Command {
    let mut cmd = bin();
    cmd.arg("--data-dir").arg(dir);
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run vaultstream")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A spawned server, killed when the test ends, pass or fail.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn create_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    // A bad role is a usage error.
    let out = run(in_dir(dir.path()).args(["keys", "create", "--role", "admin"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(in_dir(dir.path()).args(["keys", "create"]));
    assert_eq!(out.status.code(), Some(2), "--role is required");

    let out =
        run(in_dir(dir.path()).args(["keys", "create", "--role", "submitter", "--name", "phone"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = text(&out.stdout).trim().to_owned();
    assert!(key.starts_with("vs_") && key.len() == 43, "{key}");
    assert!(text(&out.stderr).contains("not shown again"));

    let out = run(in_dir(dir.path()).args(["keys", "create", "--role", "operator", "--json"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let op: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(op["role"], "operator");
    let op_key = op["key"].as_str().unwrap().to_owned();
    assert!(op_key.starts_with(op["prefix"].as_str().unwrap()));

    let out = run(in_dir(dir.path()).args(["keys", "list"]));
    assert!(out.status.success());
    let list = text(&out.stdout);
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(list.contains("phone") && list.contains("submitter") && list.contains("operator"));
    assert!(list.contains(&key[..11]), "the prefix is shown: {list}");
    assert!(!list.contains(&key), "the key itself never is");
    assert!(!list.contains(&op_key));

    // Revoke by prefix, then by id; unknown names fail with 1.
    let out = run(in_dir(dir.path()).args(["keys", "revoke", &key[..11]]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("revoked"));
    let id = op["id"].as_i64().unwrap().to_string();
    let out = run(in_dir(dir.path()).args(["keys", "revoke", &id]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(in_dir(dir.path()).args(["keys", "revoke", "vs_nothing"]));
    assert_eq!(out.status.code(), Some(1));

    let out = run(in_dir(dir.path()).args(["keys", "list", "--json"]));
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| !r["revoked_at"].is_null()));
}

#[test]
fn a_created_key_works_against_the_running_api() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Reaper(
        in_dir(dir.path())
            .args(["--bind", &format!("127.0.0.1:{port}"), "api"])
            .env("VAULTSTREAM_AUTH", "required")
            .env("VAULTSTREAM_LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // With no keys the server starts, and says how to make one.
    let mut warned = false;
    let mut listening = false;
    while !(warned && listening) {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("server logs its start");
        warned |= line.contains("vaultstream keys create");
        listening |= line.contains("listening on http://");
    }
    let base = format!("http://127.0.0.1:{port}");
    let out = run(in_dir(dir.path()).args(["keys", "create", "--role", "submitter"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = text(&out.stdout).trim().to_owned();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let anon = client
            .get(format!("{base}/api/v1/contents"))
            .send()
            .await
            .unwrap();
        assert_eq!(anon.status().as_u16(), 401);
        let resp = client
            .post(format!("{base}/api/v1/shares"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"url": "https://www.zhihu.com/question/1/answer/2"}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(status, 201, "{body}");
        let resp = client
            .get(format!("{base}/api/v1/dead-letters"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 403, "submitters do not operate");
    });
    let out = run(in_dir(dir.path()).args(["keys", "revoke", &key[..11]]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .get(format!("{base}/api/v1/contents"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            401,
            "revoked keys stop working at once"
        );
    });
}

/// Two API processes on one Redis share one bucket per client: together
/// they allow the configured burst, not twice it. When Redis stops
/// answering, each falls back to its own bucket (never a 5xx) and says so
/// in its metrics; when Redis is back the buckets are shared again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_shared_across_api_processes() {
    use vaultstream_testkit::env::{Stack, TestEnv};
    use vaultstream_testkit::proc::{spawn_api, vaultstream};
    use vaultstream_testkit::tcp::Forwarder;

    let redis = Forwarder::start("127.0.0.1:6379").await;
    let mut env = TestEnv::new(Stack::SqliteRedis).await;
    env.set("REDIS_URL", format!("redis://{}/0", redis.addr))
        .set("AUTH", "off")
        .set("RATE_LIMIT_BURST", "10")
        .set("RATE_LIMIT_PER_SEC", "1");
    let bin = env!("CARGO_BIN_EXE_vaultstream");
    let (_a, addr_a) = spawn_api(vaultstream(bin, &env));
    let (_b, addr_b) = spawn_api(vaultstream(bin, &env));
    let client = reqwest::Client::new();
    let status = |addr: String| {
        let client = client.clone();
        async move {
            client
                .get(format!("http://{addr}/api/v1/contents"))
                .send()
                .await
                .expect("the API answers")
                .status()
                .as_u16()
        }
    };

    let metrics_of = |addr: &str| {
        let (client, url) = (client.clone(), format!("http://{addr}/metrics"));
        async move {
            let resp = client.get(url).send().await.expect("metrics");
            resp.text().await.expect("metrics body")
        }
    };

    let mut ok = 0;
    for i in 0..20 {
        let addr = if i % 2 == 0 { &addr_a } else { &addr_b };
        match status(addr.clone()).await {
            200 => ok += 1,
            429 => {}
            other => panic!("request {i}: {other}"),
        }
    }
    // 10 at once plus what one second refills; per-process buckets would
    // have let all 20 through.
    assert!(
        (10..=12).contains(&ok),
        "{ok} of 20 allowed across two processes"
    );

    // Redis goes away: both processes keep answering from their own buckets.
    redis.cut();
    let mut statuses = Vec::new();
    for i in 0..12 {
        let addr = if i % 2 == 0 { &addr_a } else { &addr_b };
        statuses.push(status(addr.clone()).await);
    }
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&200),
        "the local buckets decide: {statuses:?}"
    );
    let metrics = metrics_of(&addr_a).await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("vaultstream_rate_limit_checks_total{store=\"fallback\"}")),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "vaultstream_rate_limit_shared 0"),
        "{metrics}"
    );

    // Back: after the cool-down the shared buckets decide again.
    redis.restore();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = status(addr_a.clone()).await;
        let metrics = metrics_of(&addr_a).await;
        if metrics
            .lines()
            .any(|l| l == "vaultstream_rate_limit_shared 1")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the shared buckets never came back:\n{metrics}"
        );
    }
}
