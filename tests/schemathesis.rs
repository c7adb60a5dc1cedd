//! Property-based fuzzing of the whole HTTP API from its own OpenAPI
//! document: schemathesis (PyPI, installed by `.ci/run`) generates requests
//! for every operation — bodies, parameters, edge cases — and the check is
//! that nothing answers 5xx. Runs against the real binary on loopback.

use std::process::Command;

use vaultstream_testkit::env::{Stack, TestEnv};

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
    let mut cmd = vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env);
    cmd.env("VAULTSTREAM_RATE_LIMIT_BURST", "0");
    let (_server, addr) = vaultstream_testkit::proc::spawn_api(cmd);
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
