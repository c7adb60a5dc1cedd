//! Property-based fuzzing of the whole HTTP API from its own OpenAPI
//! document: schemathesis (PyPI, installed by `.ci/run`) generates requests
//! for every operation — bodies, parameters, edge cases — and the check is
//! that nothing answers 5xx. Runs against the real binary on loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vaultstream_testkit::env::{Stack, TestEnv};

struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn schemathesis_finds_no_server_errors() {
    let have = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        have,
        "schemathesis is missing: `.ci/run` installs it (pip install schemathesis)"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let env = rt.block_on(TestEnv::new(Stack::Embedded));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vaultstream"));
    for (k, _) in std::env::vars() {
        if k.starts_with("VAULTSTREAM_") {
            cmd.env_remove(k);
        }
    }
    let mut server = Reaper(
        cmd.envs(env.env_vars())
            .env("VAULTSTREAM_LOG_LEVEL", "info")
            .env("VAULTSTREAM_RATE_LIMIT_BURST", "0")
            .args(["--bind", "127.0.0.1:0", "api"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vaultstream api"),
    );
    let stderr = server.0.stderr.take().unwrap();
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
        .recv_timeout(Duration::from_secs(60))
        .expect("the server reports its address");
    let out = Command::new("schemathesis")
        .args([
            "run",
            &format!("http://{addr}/api/openapi.json"),
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--seed",
            "20261124",
            "--request-timeout",
            "10",
        ])
        .env("NO_COLOR", "1")
        // It writes a cache of what it found; keep it out of the clone.
        .current_dir(env.dir.path())
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found server errors:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("passed"), "{stdout}");
    drop(env);
}
