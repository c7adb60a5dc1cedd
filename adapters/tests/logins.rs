//! Platform logins against a fake of Bilibili built from its documented
//! request and answer shapes (`vaultstream_testkit::bilibili`, which names
//! its sources): the health check's classification, the QR login (happy
//! path, timeout, refusal), cookies a platform refreshes written back to
//! the vault, and no cookie value in the debug-level logs of any of it.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use vaultstream_adapters::fetch::{FetchConfig, FetchRequest, Fetcher};
use vaultstream_adapters::logins::qr::{self, QrPoll};
use vaultstream_adapters::logins::{LoginError, Logins};
use vaultstream_core::db::logins::{self, LoginState, Vault, VaultError};
use vaultstream_core::{ContentKind, Identity, Platform, Settings, db};
use vaultstream_queue::ApalisQueue;
use vaultstream_testkit::bilibili::FakeBilibili;
use vaultstream_testkit::env::{Stack, TestEnv};
use vaultstream_testkit::replay::fixture;

const KEY: &str = "adapter-test-key-0123456789";

// ---------------------------------------------------------------- logs --

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary at debug level (all crates).
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static BUF: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    })
    .clone()
}

fn assert_not_logged(secrets: &[&str]) {
    let text = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert!(text.contains("DEBUG"), "debug logging is on");
    for s in secrets {
        assert!(!text.contains(s), "`{s}` reached the logs");
    }
}

// --------------------------------------------------------------- setup --

struct Setup {
    _env: TestEnv,
    fake: FakeBilibili,
    settings: Settings,
    db: sea_orm::DatabaseConnection,
    queue: ApalisQueue,
    logins: Logins,
}

async fn setup(qr_lifetime: Duration, tweak: impl FnOnce(&mut TestEnv, &FakeBilibili)) -> Setup {
    logs();
    let fake = FakeBilibili::start(qr_lifetime).await;
    let mut env = TestEnv::new(Stack::Embedded).await;
    env.set("UPSTREAM_OVERRIDES", fake.overrides())
        .set("SECRET_KEY", KEY);
    tweak(&mut env, &fake);
    let settings = env.settings();
    let db = db::connect_migrated(&settings).await.expect("database");
    let queue = ApalisQueue::open(&settings).await.expect("queue");
    let logins = Logins::from_settings(&settings, db.clone());
    Setup {
        _env: env,
        fake,
        settings,
        db,
        queue,
        logins,
    }
}

// --------------------------------------------------------------- tests --

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_classify_what_the_platform_answers() {
    let s = setup(Duration::from_secs(180), |_, _| {}).await;
    s.fake.add_session("sess-alpha-111", "alice");
    let (row, check) = s
        .logins
        .set(
            Platform::Bilibili,
            "SESSDATA=sess-alpha-111; bili_jct=jct-alpha",
            None,
            None,
            &s.queue,
        )
        .await
        .expect("stored");
    assert_eq!(row.platform, "bilibili");
    let check = check.expect("bilibili has a check");
    assert_eq!(check.outcome.state, LoginState::Valid);
    assert_eq!(check.outcome.account.as_deref(), Some("alice"));
    // The nav request carried exactly the stored cookie.
    let (target, cookie) = s.fake.hits().pop().expect("a request");
    assert_eq!(target, "api.bilibili.com/x/web-interface/nav");
    assert_eq!(cookie, "SESSDATA=sess-alpha-111; bili_jct=jct-alpha");

    s.fake.expire_session("sess-alpha-111");
    let r = s.logins.check(Platform::Bilibili, &s.queue).await.unwrap();
    assert_eq!(r.outcome.state, LoginState::Expired);
    assert!(r.outcome.detail.contains("-101"), "{}", r.outcome.detail);
    assert!(r.recorded.notice.is_some(), "an expiry is told");

    s.fake.set_risk(true);
    let r = s.logins.check(Platform::Bilibili, &s.queue).await.unwrap();
    assert_eq!(r.outcome.state, LoginState::RiskControl);
    assert_eq!(r.recorded.failures_in_row, 2);

    let e = s
        .logins
        .check(Platform::Twitter, &s.queue)
        .await
        .unwrap_err();
    assert!(matches!(e, LoginError::NoCheck(Platform::Twitter)), "{e:?}");
    let e = s.logins.check(Platform::Zhihu, &s.queue).await.unwrap_err();
    assert!(matches!(e, LoginError::NoLogin(Platform::Zhihu)), "{e:?}");
    assert!(e.to_string().contains("VAULTSTREAM_COOKIES_ZHIHU"), "{e}");

    let entries = s.logins.entries().await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].state, Some(LoginState::RiskControl));
    assert!(!format!("{entries:?}").contains("sess-alpha"));
    assert_not_logged(&["sess-alpha-111", "jct-alpha"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_platform_and_environment_cookies() {
    // Nothing listens on this port: connection refused, as a dead host.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let s = setup(Duration::from_secs(180), |env, _| {
        env.set(
            "UPSTREAM_OVERRIDES",
            format!("api.bilibili.com=http://127.0.0.1:{port}/h/api.bilibili.com"),
        )
        .set("COOKIES_BILIBILI", "SESSDATA=env-sess-999");
    })
    .await;
    let entries = s.logins.entries().await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!((entries[0].source, entries[0].read_only), ("env", true));
    for n in 1..=3 {
        let r = s.logins.check(Platform::Bilibili, &s.queue).await.unwrap();
        assert_eq!(r.outcome.state, LoginState::Unreachable);
        assert_eq!(r.recorded.failures_in_row, n);
        assert_eq!(
            r.recorded.notice.is_some(),
            n == 3,
            "told at the third failure"
        );
    }
    // The environment login's health has a row, without a stored value.
    let row = logins::get(&s.db, Platform::Bilibili)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.source.as_str(), row.stored()), ("env", false));
    assert_not_logged(&["env-sess-999"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_stores_the_confirmed_login() {
    let s = setup(Duration::from_secs(30), |_, _| {}).await;
    let fake = s.fake.clone();
    let (state, check) = s
        .logins
        .qr_login(
            Platform::Bilibili,
            &s.queue,
            Duration::from_secs(20),
            Duration::from_millis(100),
            move |start| {
                assert!(
                    start.url.starts_with("https://account.bilibili.com/"),
                    "{}",
                    start.url
                );
                assert!(!format!("{start:?}").contains(start.key.expose().as_str()));
                let key = start.key.expose().clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    fake.scan(&key);
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    fake.confirm(&key);
                });
            },
        )
        .await
        .expect("the QR login");
    assert!(matches!(state, QrPoll::Done { .. }), "{state:?}");
    let check = check.expect("checked once stored");
    assert_eq!(check.outcome.state, LoginState::Valid);
    assert_eq!(check.outcome.account.as_deref(), Some("qr_user"));

    let polls: Vec<String> = s
        .fake
        .hits()
        .into_iter()
        .map(|(t, _)| t)
        .filter(|t| t.contains("qrcode/poll"))
        .collect();
    assert!(
        polls.len() >= 3,
        "waited through not scanned and scanned: {polls:?}"
    );

    let vault = Vault::from_settings(&s.settings, s.db.clone()).unwrap();
    let stored = vault
        .cookie(Platform::Bilibili)
        .await
        .unwrap()
        .expect("stored");
    let cookie = stored.expose();
    assert!(cookie.starts_with("SESSDATA=qr"), "{cookie}");
    assert!(cookie.contains("bili_jct=0123456789abcdef") && cookie.contains("DedeUserID=7"));
    let row = logins::get(&s.db, Platform::Bilibili)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.expires_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2027-06-02T10:00:00+00:00")
    );

    // The code as it is shown.
    let url = "https://account.bilibili.com/h5/account-h5/auth/scan-web?qrcode_key=abc";
    assert!(qr::png(url).starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(qr::svg(url).contains("<svg"));
    assert!(qr::terminal(url).lines().count() > 10);
    let session = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("SESSDATA=")
        .to_owned();
    let keys = s.fake.qr_keys();
    let mut secrets = vec![session.as_str(), "0123456789abcdef"];
    secrets.extend(keys.iter().map(String::as_str));
    assert_not_logged(&secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_times_out_and_stores_nothing() {
    // The code expires on the platform's side (86038)...
    let s = setup(Duration::from_millis(800), |_, _| {}).await;
    let started = std::time::Instant::now();
    let (state, check) = s
        .logins
        .qr_login(
            Platform::Bilibili,
            &s.queue,
            Duration::from_secs(20),
            Duration::from_millis(200),
            |_| {},
        )
        .await
        .unwrap();
    assert!(matches!(state, QrPoll::Expired), "{state:?}");
    assert!(check.is_none());
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "waited for the code's lifetime"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // ... or our own limit passes first while the code is still fresh.
    let s2 = setup(Duration::from_secs(180), |_, _| {}).await;
    let started = std::time::Instant::now();
    let (state, _) = s2
        .logins
        .qr_login(
            Platform::Bilibili,
            &s2.queue,
            Duration::from_millis(700),
            Duration::from_millis(200),
            |_| {},
        )
        .await
        .unwrap();
    assert!(matches!(state, QrPoll::Expired), "{state:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    for x in [&s, &s2] {
        assert!(
            logins::list(&x.db).await.unwrap().is_empty(),
            "nothing stored"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_login_refused_by_the_platform_or_without_a_key() {
    let s = setup(Duration::from_secs(180), |_, _| {}).await;
    s.fake.refuse_qr(true);
    let e = s.logins.qr_start(Platform::Bilibili).await.unwrap_err();
    assert!(
        matches!(&e, LoginError::Upstream(m) if m.contains("-352")),
        "{e:?}"
    );
    let e = s.logins.qr_start(Platform::Weibo).await.unwrap_err();
    assert!(matches!(e, LoginError::NoQr(Platform::Weibo)), "{e:?}");
    assert!(logins::list(&s.db).await.unwrap().is_empty());

    // Without a key nothing could be stored: refused before any request.
    let s = setup(Duration::from_secs(180), |env, _| {
        env.set("SECRET_KEY", "");
    })
    .await;
    let e = s.logins.qr_start(Platform::Bilibili).await.unwrap_err();
    assert!(matches!(e, LoginError::Vault(VaultError::NoKey)), "{e:?}");
    assert!(e.to_string().contains("VAULTSTREAM_SECRET_KEY"), "{e}");
    assert!(s.fake.hits().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshed_cookies_are_written_back() {
    let s = setup(Duration::from_secs(180), |_, _| {}).await;
    s.fake.add_session("sess-old-1", "alice");
    s.fake.video(
        "BV117411r7R1",
        true,
        fixture("bilibili/view_BV117411r7R1.json"),
    );
    s.fake.rotate_session("sess-old-1", "sess-new-2");
    let vault = Vault::from_settings(&s.settings, s.db.clone()).unwrap();
    vault
        .set(
            Platform::Bilibili,
            "SESSDATA=sess-old-1; bili_jct=jct-keep",
            None,
            None,
        )
        .await
        .unwrap();

    let fetcher =
        Fetcher::new(FetchConfig::from_settings(&s.settings).with_vault(Some(vault.clone())));
    // The play URL is not faked: the fetch may fail after the view answer;
    // what matters here is that answer's Set-Cookie.
    let _ = fetcher
        .fetch(&FetchRequest::new(Identity {
            platform: Platform::Bilibili,
            platform_id: "BV117411r7R1".into(),
            canonical_url: "https://www.bilibili.com/video/BV117411r7R1".into(),
            kind: ContentKind::Video,
        }))
        .await;
    let sent = s
        .fake
        .hits()
        .into_iter()
        .find(|(t, _)| t.starts_with("api.bilibili.com/x/web-interface/view"))
        .expect("the view request");
    assert_eq!(
        sent.1, "SESSDATA=sess-old-1; bili_jct=jct-keep",
        "the stored login was sent"
    );

    let now = vault.cookie(Platform::Bilibili).await.unwrap().unwrap();
    assert_eq!(
        now.expose(),
        "SESSDATA=sess-new-2; bili_jct=jct-keep",
        "the refreshed cookie, nothing the login did not hold"
    );
    let row = logins::get(&s.db, Platform::Bilibili)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.expires_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2027-06-02T10:00:00+00:00")
    );
    let r = s.logins.check(Platform::Bilibili, &s.queue).await.unwrap();
    assert_eq!(r.outcome.state, LoginState::Valid, "the new session works");
    assert_not_logged(&["sess-old-1", "sess-new-2", "jct-keep"]);
}
