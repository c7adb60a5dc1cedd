//! `vaultstream logins` as an operator runs it, against a fake of
//! Bilibili (`vaultstream_testkit::bilibili`): storing needs
//! `VAULTSTREAM_SECRET_KEY`, a stored login is checked, the database files
//! and every output (debug logs included, `doctor` too) hold no cookie, an
//! expired login shows in `doctor`, and a process started with a different
//! key is refused, naming the key.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use vaultstream_testkit::bilibili::FakeBilibili;

const KEY: &str = "shell-test-key-0123456789";
const COOKIE: &str = "SESSDATA=shell-sess-5150%2C1790000000; bili_jct=jct-shell-77; DedeUserID=9";
const SECRETS: &[&str] = &["shell-sess-5150", "jct-shell-77"];

fn bin(dir: &Path, overrides: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaultstream"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VAULTSTREAM_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("VAULTSTREAM_LOG_LEVEL", "debug")
        .env("VAULTSTREAM_UPSTREAM_OVERRIDES", overrides)
        .arg("--data-dir")
        .arg(dir);
    cmd
}

fn run(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vaultstream");
    // A command may refuse before reading its input.
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    child.wait_with_output().expect("output")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn clean(o: &Output) -> String {
    let t = text(o);
    for s in SECRETS {
        assert!(!t.contains(s), "`{s}` was printed:\n{t}");
    }
    t
}

#[test]
fn logins_from_the_shell() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(FakeBilibili::start(Duration::from_secs(180)));
    fake.add_session("shell-sess-5150%2C1790000000", "alice");
    let dir = tempfile::tempdir().unwrap();
    let ov = fake.overrides();
    let with_key = |key: &str| {
        let mut c = bin(dir.path(), &ov);
        c.env("VAULTSTREAM_SECRET_KEY", key);
        c
    };

    // Without a key nothing is stored: a usage error naming the setting.
    let out = run(
        bin(dir.path(), &ov).args(["logins", "set", "bilibili"]),
        COOKIE,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(clean(&out).contains("VAULTSTREAM_SECRET_KEY"));

    let out = run(with_key(KEY).args(["logins", "set", "bilibili"]), COOKIE);
    let t = clean(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("stored the bilibili login") && t.contains("valid as alice"),
        "{t}"
    );
    assert!(t.contains("DEBUG"), "debug logs were on: {t}");

    // The database files hold ciphertext only.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let lossy = String::from_utf8_lossy(&bytes);
            for s in SECRETS {
                assert!(!lossy.contains(s), "{} holds `{s}`", path.display());
            }
        }
    }

    let out = run(with_key(KEY).args(["logins", "list"]), "");
    let t = clean(&out);
    assert!(out.status.success(), "{t}");
    let line = t
        .lines()
        .find(|l| l.starts_with("bilibili"))
        .expect("a bilibili line");
    assert!(
        line.contains("vault") && line.contains("alice") && line.contains("valid"),
        "{line}"
    );
    let out = run(with_key(KEY).args(["logins", "list", "--json"]), "");
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with('{'))
        .map(str::to_owned)
        .expect("a JSON line");
    let row: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(row["state"], "valid");
    assert_eq!(row["read_only"], false);

    // The session ends: the check says so, and `doctor` warns.
    fake.expire_session("shell-sess-5150%2C1790000000");
    let out = run(with_key(KEY).args(["logins", "check", "bilibili"]), "");
    let t = clean(&out);
    assert!(t.contains("bilibili: expired"), "{t}");
    let out = run(with_key(KEY).args(["doctor"]), "");
    let t = clean(&out);
    assert!(t.contains("bilibili login is expired"), "{t}");
    assert!(
        t.contains("VAULTSTREAM_SECRET_KEY opens the login vault"),
        "{t}"
    );

    // A different key: the service refuses to start, naming the setting.
    let out = run(
        with_key("some-other-key-abcdefghij").args(["--bind", "127.0.0.1:0", "api"]),
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = clean(&out);
    assert!(t.contains("VAULTSTREAM_SECRET_KEY does not match"), "{t}");
    let out = run(
        with_key("some-other-key-abcdefghij").args(["logins", "set", "bilibili"]),
        COOKIE,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = run(with_key("short").args(["logins", "list"]), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("VAULTSTREAM_SECRET_KEY"),
        "{}",
        text(&out)
    );

    // Stored logins without the key: `doctor` says they are unused.
    let out = run(bin(dir.path(), &ov).args(["doctor"]), "");
    let t = clean(&out);
    assert!(t.contains("1 stored login(s) unused"), "{t}");

    let out = run(with_key(KEY).args(["logins", "remove", "bilibili"]), "");
    assert!(out.status.success(), "{}", text(&out));
    let out = run(with_key(KEY).args(["logins", "list"]), "");
    assert!(text(&out).contains("no logins"), "{}", text(&out));
    drop(rt);
}
