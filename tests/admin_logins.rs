//! The operator page's Logins tab (`/admin#logins`) in a real browser:
//! `vaultstream api` serves it, Bilibili is a fake of it
//! (`vaultstream_testkit::bilibili`), and headless Chromium (driven by
//! `tests/admin_logins_browser.py`) sees an expired login on the summary
//! and in the tab, starts a QR login, and sees it reported and listed as
//! valid once the fake's app confirms it. The database then holds the new
//! login.
//!
//! Needs Debian's `chromium` and `chromium-driver` and Python's `selenium`
//! (`.ci/run` installs them); without them this test fails, it never skips.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vaultstream_core::Platform;
use vaultstream_core::db::logins::{self, LoginState, Vault};
use vaultstream_testkit::bilibili::FakeBilibili;
use vaultstream_testkit::env::{Stack, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qr_login_from_the_admin_page_in_chromium() {
    for path in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            Path::new(path).exists(),
            "the browser test needs {path} (`.ci/run` installs it)"
        );
    }
    let fake = FakeBilibili::start(Duration::from_secs(120)).await;
    let mut env = TestEnv::new(Stack::Embedded).await;
    env.set("UPSTREAM_OVERRIDES", fake.overrides())
        .set("SECRET_KEY", "browser-test-key-0123456789");
    let settings = env.settings();
    let db = vaultstream_core::db::connect_migrated(&settings)
        .await
        .expect("migrated database");
    let vault = Vault::from_settings(&settings, db.clone()).expect("a key");
    vault
        .set(
            Platform::Bilibili,
            "SESSDATA=browser-sess-1; bili_jct=j",
            Some("alice"),
            None,
        )
        .await
        .unwrap();
    logins::record_check(
        &db,
        Platform::Bilibili,
        LoginState::Expired,
        Some("code -101"),
        None,
    )
    .await
    .unwrap();

    let (_server, addr) = vaultstream_testkit::proc::spawn_api(
        vaultstream_testkit::proc::vaultstream(env!("CARGO_BIN_EXE_vaultstream"), &env),
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/admin_logins_browser.py");
    let base = format!("http://{addr}");
    let browser = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .arg(&base)
            .output()
            .expect("run python3 tests/admin_logins_browser.py")
    });
    // The person with the phone: scan and confirm the code the page shows.
    let key = vaultstream_testkit::wait::until(Duration::from_secs(60), "a QR code", || async {
        fake.qr_keys().pop().ok_or("no code yet")
    })
    .await;
    fake.scan(&key);
    tokio::time::sleep(Duration::from_millis(500)).await;
    fake.confirm(&key);
    let out = browser.await.unwrap();
    assert!(
        out.status.success(),
        "admin_logins_browser.py exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let cookie = vault
        .cookie(Platform::Bilibili)
        .await
        .unwrap()
        .expect("stored");
    assert!(
        cookie.expose().starts_with("SESSDATA=qr"),
        "the QR login replaced the old one"
    );
    let row = logins::get(&db, Platform::Bilibili).await.unwrap().unwrap();
    assert_eq!(row.state(), Some(LoginState::Valid));
}
