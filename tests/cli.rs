//! The `vaultstream` binary as a user runs it: exit codes, settings errors,
//! `submit`, `migrate`, and `api` serving on a fresh data dir.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaultstream"));
    // Keep the developer's own settings out of the tests.
    for (k, _) in std::env::vars() {
        if k.starts_with("VAULTSTREAM_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("VAULTSTREAM_LOG_LEVEL", "warn");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run vaultstream")
}

/// A spawned server that is killed when the test ends, pass or fail, so a
/// failed assertion never leaves a process (and its open pipes) behind.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn in_dir(dir: &Path) -> Command {
    let mut cmd = bin();
    cmd.arg("--data-dir").arg(dir);
    cmd
}

#[test]
fn help_and_usage_errors() {
    let out = run(bin().arg("--help"));
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in [
        "all",
        "api",
        "worker",
        "bot",
        "migrate",
        "submit",
        "dlq",
        "keys",
        "doctor",
        "completions",
    ] {
        assert!(help.contains(cmd), "--help lists {cmd}");
    }
    assert_eq!(run(bin().arg("frobnicate")).status.code(), Some(2));
    assert_eq!(
        run(bin().args(["submit"])).status.code(),
        Some(2),
        "submit needs a link"
    );
    let out = run(bin().args(["completions", "bash"]));
    assert!(out.status.success() && text(&out.stdout).contains("vaultstream"));
}

#[test]
fn bad_settings_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        ("VAULTSTREAM_BIND", "nowhere"),
        ("VAULTSTREAM_MAX_ATTEMPTS", "many"),
        ("VAULTSTREAM_DATABASE_URL", "mysql://db/x"),
        ("VAULTSTREAM_LOG_FORMAT", "yaml"),
    ];
    for (k, v) in cases {
        let out = run(in_dir(dir.path()).env(k, v).arg("api"));
        assert_eq!(out.status.code(), Some(2), "{k}={v}");
        assert!(text(&out.stderr).contains(k), "{k}: {}", text(&out.stderr));
    }
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "bind = \"127.0.0.1:1\"\nmax_atempts = 3\n").unwrap();
    let out = run(in_dir(dir.path()).arg("--config").arg(&cfg).arg("api"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("VAULTSTREAM_MAX_ATEMPTS"),
        "{}",
        text(&out.stderr)
    );
    let out = run(in_dir(dir.path()).args(["--set", "no_such_key=1", "api"]));
    assert_eq!(out.status.code(), Some(2));
    // Secrets never reach the terminal, even in errors.
    let out = run(in_dir(dir.path())
        .env("VAULTSTREAM_DATABASE_URL", "mysql://app:hunter2@db/x")
        .arg("api"));
    assert!(!text(&out.stderr).contains("hunter2"));
}

#[test]
fn submit_gives_one_item_per_content() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(in_dir(dir.path()).args([
        "submit",
        "https://x.com/jack/status/20?s=20",
        "--tag",
        "first",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first = text(&out.stdout);
    let cols: Vec<&str> = first.trim().split('\t').collect();
    assert_eq!(cols[1..4], ["twitter", "20", "created"], "{first}");

    let out = run(in_dir(dir.path()).args([
        "submit",
        "--json",
        "look https://mobile.twitter.com/jack/status/20/photo/1 !",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["content_id"].as_i64().unwrap().to_string(),
        cols[0]
    );
    assert_eq!(lines[0]["created"], false);
    assert_eq!(lines[1]["platform"], "youtube");
    assert_eq!(lines[1]["created"], true);

    // Refused input: exit 2, the code on stderr, good ones still stored.
    let out =
        run(in_dir(dir.path()).args(["submit", "http://127.0.0.1/", "https://x.com/a/status/99"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("forbidden_target"));
    assert!(text(&out.stdout).contains("\t99\tcreated"));

    // stdin
    let mut child = in_dir(dir.path())
        .args(["submit", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all("【标题】 https://www.bilibili.com/video/BV1GJ411x7h7 复制链接".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(text(&out.stdout).contains("bilibili\tBV1GJ411x7h7\tcreated"));
}

#[test]
fn migrate_status_and_later_commands_say_what_they_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(in_dir(dir.path()).args(["migrate", "status"]));
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("pending"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        run(in_dir(dir.path()).args(["migrate", "up"]))
            .status
            .success()
    );
    let out = run(in_dir(dir.path()).args(["migrate", "status"]));
    assert!(text(&out.stdout).contains("applied"));
    assert!(!text(&out.stdout).contains("pending"));

    // Key management works from a shell: no keys on a fresh install.
    let out = run(in_dir(dir.path()).args(["keys", "list"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1, "header only");
    // The bot needs a token: a configuration error naming the key.
    let out = run(in_dir(dir.path()).args(["bot"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("VAULTSTREAM_TELEGRAM_BOT_TOKEN"));
    // The dead-letter queue works from a shell: empty on a fresh install.
    let out = run(in_dir(dir.path()).args(["dlq", "list"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1, "header only");
}

/// The README run command on a fresh data dir: it migrates, serves, takes a
/// share, and stops cleanly on SIGTERM.
#[test]
fn api_serves_on_a_fresh_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh");
    let mut child = Reaper(
        in_dir(&data)
            .args(["--bind", "127.0.0.1:0", "all"])
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
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split('/').next().unwrap_or_default().to_owned();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server reports its address");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let health: serde_json::Value = client
            .get(format!("http://{addr}/api/v1/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["checks"]["database"]["backend"], "sqlite");
        let resp = client
            .post(format!("http://{addr}/api/v1/shares"))
            .json(&serde_json::json!({"url": "https://www.zhihu.com/question/1/answer/2"}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(status, 201, "{body}");
    });
    assert!(
        data.join("vaultstream.db").exists(),
        "SQLite file under the data dir"
    );
    let started = Instant::now();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.0.id().to_string())
        .status();
    let status = child.0.wait().unwrap();
    assert!(status.success(), "graceful stop: {status:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

/// PostgreSQL: no automatic migration (a deploy step); `migrate up`, then it works.
#[test]
fn postgres_migrates_as_a_deploy_step() {
    let admin = std::env::var("VAULTSTREAM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!("vs_cli_{}", uuid::Uuid::new_v4().simple());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = Database::connect(&admin)
            .await
            .expect("PostgreSQL must be running");
        c.execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    });
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{name}"));
    let dir = tempfile::tempdir().unwrap();
    let pg = |args: &[&str]| {
        run(in_dir(dir.path())
            .arg("--database-url")
            .arg(url.as_str())
            .args(args))
    };

    let out = pg(&["submit", "https://x.com/a/status/5"]);
    let before = (out.status.code(), text(&out.stderr));
    let up = pg(&["migrate", "up"]);
    let after = pg(&["submit", "https://x.com/a/status/5"]);
    let again = pg(&["submit", "https://twitter.com/b/status/5"]);

    rt.block_on(async {
        let c = Database::connect(&admin).await.unwrap();
        c.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .unwrap();
    });
    assert_eq!(before.0, Some(1));
    assert!(before.1.contains("migrate up"), "{}", before.1);
    assert!(up.status.success(), "{}", text(&up.stderr));
    assert!(
        text(&after.stdout).contains("twitter\t5\tcreated"),
        "{}",
        text(&after.stderr)
    );
    assert!(text(&again.stdout).contains("twitter\t5\tknown"));
}

/// `doctor` warns when the bot's polling client would time out before
/// Telegram answers an idle long poll, and is quiet with the defaults.
#[test]
fn doctor_warns_about_inconsistent_telegram_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let doctor = |extra: &[(&str, &str)]| {
        let mut cmd = in_dir(dir.path());
        cmd.env("VAULTSTREAM_TELEGRAM_BOT_TOKEN", "1:x")
            // Nothing listens there: the reachability check fails fast.
            .env("VAULTSTREAM_TELEGRAM_API_URL", "http://127.0.0.1:9");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        text(&run(cmd.arg("doctor")).stdout)
    };
    let quiet = doctor(&[]);
    assert!(!quiet.contains("WARN"), "{quiet}");
    let out = doctor(&[
        ("VAULTSTREAM_TELEGRAM_POLL_TIMEOUT_SECS", "25"),
        ("VAULTSTREAM_TELEGRAM_POLL_CLIENT_TIMEOUT_SECS", "17"),
    ]);
    let warn = out
        .lines()
        .find(|l| l.contains("WARN"))
        .unwrap_or_else(|| panic!("no warning:\n{out}"));
    assert!(
        warn.contains("TELEGRAM_POLL_CLIENT_TIMEOUT_SECS (17)")
            && warn.contains("TELEGRAM_POLL_TIMEOUT_SECS (25)"),
        "{warn}"
    );
    let out = doctor(&[("VAULTSTREAM_TELEGRAM_SEND_TIMEOUT_SECS", "3")]);
    assert!(
        out.lines()
            .any(|l| l.contains("WARN") && l.contains("TELEGRAM_SEND_TIMEOUT_SECS (3)")),
        "{out}"
    );
}

/// `vaultstream search` from a shell: filters find submitted items at once,
/// words after `search reindex` (notes and tags are indexed); bad syntax is
/// exit 2 with `invalid_query` and where.
#[test]
fn search_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(in_dir(dir.path()).args([
        "submit",
        "https://www.bilibili.com/video/BV1GJ411x7h7",
        "--tag",
        "music",
        "--note",
        "remember the 千本樱 cover",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(in_dir(dir.path()).args(["submit", "https://x.com/jack/status/20"]));
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = run(in_dir(dir.path()).args(["search", "platform:bilibili"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("1\tbilibili\t"),
        "{}",
        text(&out.stdout)
    );

    let out = run(in_dir(dir.path()).args(["search", "reindex"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("rebuilt: 2 items"),
        "{}",
        text(&out.stderr)
    );

    let out = run(in_dir(dir.path()).args(["search", "--json", "千本樱"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hits: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["item"]["id"], 1);
    assert!(
        hits[0]["highlights"]["notes"]
            .as_str()
            .unwrap()
            .contains("<mark>千本樱</mark>"),
        "{hits:?}"
    );

    let out = run(in_dir(dir.path()).args(["search", "\"unclosed"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid_query") && text(&out.stderr).contains("column 1"),
        "{}",
        text(&out.stderr)
    );
}
