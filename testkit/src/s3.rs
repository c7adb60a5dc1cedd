//! A real S3 server (Garage, started by `shared/tools/s3-server`) on
//! loopback, one per test process, and a fresh bucket per test.
//!
//! [`server`] starts Garage on first use, in a temp dir, and leaves a small
//! watchdog behind that stops Garage and removes the dir once the test
//! process is gone (statics are never dropped). When Garage cannot be
//! started, [`server`] panics: S3 tests never skip.
//!
//! ```ignore
//! let bucket = vaultstream_testkit::s3::server().bucket();
//! let store = S3Store::open(&bucket.settings()).await?;
//! ```
//!
//! Garage's default key (made by `s3-server start`) may create buckets;
//! [`S3Server::bucket`] creates each test bucket with S3 CreateBucket
//! through that key, which then owns it (read, write, owner).
//!
//! [`S3Server::outage`] (or [`S3Server::stop`] then [`S3Server::restart`])
//! takes the server down and brings it back with the same config and data:
//! it is the whole process's server, so a test that stops it belongs in a
//! test binary of its own.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ::s3::creds::Credentials;
use ::s3::{Bucket, BucketConfiguration, Region};
use vaultstream_core::Settings;
use vaultstream_core::settings::{S3Settings, SettingsSources};

/// Overrides where the `s3-server` script is found.
pub const SCRIPT_ENV: &str = "VAULTSTREAM_S3_SERVER_SCRIPT";

/// The Garage server of this test process.
#[derive(Debug)]
pub struct S3Server {
    /// Garage's config, data, log (`garage.log`) and `env`.
    pub dir: PathBuf,
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// The bucket `s3-server start` made; tests should use [`S3Server::bucket`].
    pub default_bucket: String,
    /// Garage's pid now, also in `DIR/garage.pid` (which the watchdog
    /// reads); 0 while it is stopped. Changes when it is restarted.
    pid: AtomicU32,
    /// Garage's admin API (`/health`), from `garage.toml`.
    admin: String,
}

/// The server, started on first use. Panics with the reason when Garage
/// cannot be started.
pub fn server() -> &'static S3Server {
    static SERVER: OnceLock<Result<S3Server, String>> = OnceLock::new();
    match SERVER.get_or_init(S3Server::start) {
        Ok(s) => s,
        Err(e) => panic!(
            "the S3 test server (Garage) could not be started: {e}\n\
             S3 tests never skip. Install Garage with `shared/tools/s3-server install` \
             (or set {SCRIPT_ENV} to the script)."
        ),
    }
}

impl S3Server {
    fn start() -> Result<Self, String> {
        let script = find_script()?;
        let dir =
            std::env::temp_dir().join(format!("vaultstream-s3-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(&dir)
            .env("PATH", path_with_tools())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", script.display()))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&dir);
            return Err(format!(
                "`{} start` failed ({}):\n{}{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            ));
        }
        let garage_pid = std::fs::read_to_string(dir.join("garage.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
            .ok_or_else(|| format!("no garage.pid in {}", dir.display()))?;
        // Before anything else can fail: Garage must not outlive us.
        spawn_watchdog(garage_pid, &dir)?;

        let vars: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let var = |name: &str| {
            vars.get(&format!("VAULTSTREAM_{name}"))
                .cloned()
                .ok_or_else(|| format!("`s3-server start` printed no VAULTSTREAM_{name}"))
        };
        let admin = admin_addr(&dir)?;
        let server = S3Server {
            endpoint: var("S3_ENDPOINT")?,
            region: var("S3_REGION")?,
            access_key: var("S3_ACCESS_KEY")?,
            secret_key: var("S3_SECRET_KEY")?,
            default_bucket: var("S3_BUCKET")?,
            dir,
            pid: AtomicU32::new(garage_pid),
            admin: format!("http://{admin}"),
        };
        // The default key may create buckets already; make sure of it.
        let out = server.garage(&["key", "allow", "--create-bucket", &server.access_key]);
        if !out.status.success() {
            return Err(format!(
                "garage key allow --create-bucket failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(server)
    }

    /// Garage's pid now (0 while an outage has it stopped).
    pub fn garage_pid(&self) -> u32 {
        self.pid.load(Ordering::SeqCst)
    }

    /// Stop Garage for `for_`, then start it again with the same config
    /// and data (buckets, keys and objects survive); returns once it is
    /// healthy. Panics when it cannot be stopped or started.
    pub async fn outage(&self, for_: Duration) {
        self.stop().await;
        tokio::time::sleep(for_).await;
        self.restart().await;
    }

    /// Stop Garage: SIGTERM, SIGKILL if it is still there after 5 s;
    /// returns once the process is gone. Then its pid file is removed, so
    /// the watchdog kills nothing (no recycled pid) if the test process
    /// ends before a restart.
    pub async fn stop(&self) {
        let pid = self.pid.swap(0, Ordering::SeqCst);
        assert!(pid != 0, "Garage is already stopped");
        signal(pid, "TERM");
        if !wait_gone(pid, Duration::from_secs(5)).await {
            signal(pid, "KILL");
            assert!(
                wait_gone(pid, Duration::from_secs(5)).await,
                "Garage (pid {pid}) survived SIGKILL"
            );
        }
        let _ = std::fs::remove_file(self.dir.join("garage.pid"));
    }

    /// Start Garage again after [`S3Server::stop`]: `garage -c
    /// DIR/garage.toml server` on the same meta and data dirs (the layout
    /// and the default bucket and key were made at first start and are
    /// kept there, so neither `--single-node` nor `--default-bucket` is
    /// given again). Returns once its admin `/health` answers 200.
    pub async fn restart(&self) {
        assert_eq!(self.garage_pid(), 0, "Garage is running; stop it first");
        // Detached (`nohup … &` in a shell that exits at once), as
        // `s3-server start` runs it: not our child, so never our zombie.
        // The pid file is written before the shell returns, so the
        // watchdog always knows the running Garage.
        const START: &str = r#"
            nohup garage -c "$1/garage.toml" server >> "$1/garage.log" 2>&1 < /dev/null &
            echo $! > "$1/garage.pid"
            echo $!
        "#;
        let out = Command::new("bash")
            .arg("-c")
            .arg(START)
            .arg("vaultstream-s3-restart")
            .arg(&self.dir)
            .env("PATH", path_with_tools())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("restarting Garage: {e}"));
        let pid = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u32>()
            .unwrap_or_else(|_| {
                panic!(
                    "restarting Garage printed no pid ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        self.pid.store(pid, Ordering::SeqCst);
        let client = reqwest::Client::new();
        let health = format!("{}/health", self.admin);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = client
                .get(&health)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            assert!(
                !gone(pid),
                "restarted Garage (pid {pid}) exited; see {}/garage.log",
                self.dir.display()
            );
            assert!(
                Instant::now() < deadline,
                "restarted Garage (pid {pid}) not healthy after 30 s; see {}/garage.log",
                self.dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Run the garage CLI against this server (`garage -c DIR/garage.toml ARGS`).
    pub fn garage(&self, args: &[&str]) -> Output {
        Command::new("garage")
            .arg("-c")
            .arg(self.dir.join("garage.toml"))
            .args(args)
            .env("PATH", path_with_tools())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running garage: {e}"))
    }

    /// A fresh, empty bucket, deleted with its objects when dropped.
    pub fn bucket(&self) -> TestBucket {
        let bucket = self.unborn_bucket();
        let name = bucket.name.clone();
        let (region, creds) = (self.s3_region(), self.credentials());
        block_on(async move {
            Bucket::create_with_path_style(&name, region, creds, BucketConfiguration::public())
                .await
        })
        .unwrap_or_else(|e| panic!("creating test bucket {}: {e}", bucket.name));
        bucket
    }

    /// Settings for a bucket name nobody has created yet (for testing
    /// bucket creation). Dropping it deletes the bucket if it exists by then.
    pub fn unborn_bucket(&self) -> TestBucket {
        let name = format!("vst-{}", &uuid::Uuid::new_v4().simple().to_string()[..20]);
        let env = [
            ("S3_ENDPOINT", self.endpoint.as_str()),
            ("S3_REGION", self.region.as_str()),
            ("S3_BUCKET", name.as_str()),
            ("S3_ACCESS_KEY", self.access_key.as_str()),
            ("S3_SECRET_KEY", self.secret_key.as_str()),
            ("S3_CREATE_BUCKET", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        TestBucket {
            name,
            env,
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
        }
    }

    fn s3_region(&self) -> Region {
        Region::Custom {
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
        }
    }

    fn credentials(&self) -> Credentials {
        Credentials::new(
            Some(&self.access_key),
            Some(&self.secret_key),
            None,
            None,
            None,
        )
        .expect("static credentials")
    }
}

/// One test's bucket. `env` holds its settings without the `VAULTSTREAM_`
/// prefix (`S3_ENDPOINT`, `S3_REGION`, `S3_BUCKET`, `S3_ACCESS_KEY`,
/// `S3_SECRET_KEY`, `S3_CREATE_BUCKET=false`).
#[derive(Debug)]
pub struct TestBucket {
    pub name: String,
    pub env: Vec<(String, String)>,
    endpoint: String,
    region: String,
    access_key: String,
    secret_key: String,
}

impl TestBucket {
    /// Add or replace a setting (name without the `VAULTSTREAM_` prefix),
    /// e.g. `S3_PUBLIC_BASE_URL` or `S3_CREATE_BUCKET`.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.into()));
        self
    }

    /// The settings as `VAULTSTREAM_*` environment variables (for
    /// `SettingsSources::with_env` or a child process).
    pub fn env_vars(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (format!("VAULTSTREAM_{k}"), v.clone()))
            .collect()
    }

    /// The S3 settings, parsed the way the product parses them.
    pub fn settings(&self) -> S3Settings {
        let settings = Settings::load(&SettingsSources::new().with_env(self.env_vars()))
            .expect("valid S3 test settings");
        settings.s3.expect("S3_ENDPOINT is set")
    }

    /// Object keys in the bucket (all of them).
    pub fn keys(&self) -> Vec<String> {
        let bucket = self.handle();
        block_on(async move { bucket.list(String::new(), None).await })
            .unwrap_or_else(|e| panic!("listing {}: {e}", self.name))
            .into_iter()
            .flat_map(|page| page.contents)
            .map(|o| o.key)
            .collect()
    }

    /// One object's bytes (panics when it cannot be read).
    pub fn get(&self, key: &str) -> Vec<u8> {
        let bucket = self.handle();
        let path = key.to_owned();
        block_on(async move { bucket.get_object(path).await })
            .unwrap_or_else(|e| panic!("reading {key} from {}: {e}", self.name))
            .to_vec()
    }

    fn handle(&self) -> Box<Bucket> {
        let region = Region::Custom {
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
        };
        let creds = Credentials::new(
            Some(&self.access_key),
            Some(&self.secret_key),
            None,
            None,
            None,
        )
        .expect("static credentials");
        Bucket::new(&self.name, region, creds)
            .expect("bucket handle")
            .with_path_style()
    }
}

impl Drop for TestBucket {
    fn drop(&mut self) {
        // Best effort, never panicking: there may be no runtime here, or
        // one we must not block.
        let bucket = self.handle();
        let _ = block_on(async move {
            let pages = bucket.list(String::new(), None).await?;
            for key in pages.into_iter().flat_map(|p| p.contents).map(|o| o.key) {
                let _ = bucket.delete_object(&key).await;
            }
            if let Ok(uploads) = bucket.list_multiparts_uploads(None, None).await {
                for page in uploads {
                    for u in page.uploads {
                        let _ = bucket.abort_upload(&u.key, &u.id).await;
                    }
                }
            }
            bucket.delete().await.map(|_| ())
        });
    }
}

/// Run `fut` to completion on a thread of its own with its own runtime:
/// works inside and outside a tokio runtime.
fn block_on<F>(fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime")
                .block_on(fut)
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// `[admin] api_bind_addr` of `DIR/garage.toml`.
fn admin_addr(dir: &Path) -> Result<String, String> {
    let toml = std::fs::read_to_string(dir.join("garage.toml"))
        .map_err(|e| format!("{}/garage.toml: {e}", dir.display()))?;
    let mut in_admin = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_admin = line == "[admin]";
        } else if in_admin
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == "api_bind_addr"
        {
            return Ok(v.trim().trim_matches('"').to_owned());
        }
    }
    Err(format!(
        "no [admin] api_bind_addr in {}/garage.toml",
        dir.display()
    ))
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// The process has exited: no `/proc/PID`, or only its zombie (Garage is
/// not our child, and whoever adopted it may be slow to reap it).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // `pid (comm) S …`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| matches!(state, "Z" | "X")),
    }
}

async fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while !gone(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// `$VAULTSTREAM_TOOLS/bin` (default `~/.cache/vaultstream-tools/bin`)
/// in front of `PATH`.
fn path_with_tools() -> String {
    let tools = std::env::var("VAULTSTREAM_TOOLS").unwrap_or_else(|_| {
        format!(
            "{}/.cache/vaultstream-tools",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    match std::env::var("PATH") {
        Ok(p) if !p.is_empty() => format!("{tools}/bin:{p}"),
        _ => format!("{tools}/bin:/usr/local/bin:/usr/bin:/bin"),
    }
}

/// `$VAULTSTREAM_S3_SERVER_SCRIPT`, else `tools/s3-server` or
/// `shared/tools/s3-server` in this crate's directory or any above it.
fn find_script() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var(SCRIPT_ENV) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{SCRIPT_ENV}={} is not a file", p.display()))
        };
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .flat_map(|d| [d.join("tools/s3-server"), d.join("shared/tools/s3-server")])
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no tools/s3-server or shared/tools/s3-server above {}",
                here.display()
            )
        })
}

/// A detached shell that waits for this process to end, then stops Garage
/// and removes its dir. In its own process group, so a Ctrl-C that kills
/// the tests does not kill it before it has cleaned up. It stops the pid
/// in `DIR/garage.pid` at that moment, which follows restarts
/// ([`S3Server::restart`]); no pid file: Garage is already stopped.
fn spawn_watchdog(garage_pid: u32, dir: &Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    const SCRIPT: &str = r#"
        while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
        pid=$(cat "$2/garage.pid" 2>/dev/null)
        if [ -n "$pid" ]; then
            kill "$pid" 2>/dev/null
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.2
            done
            kill -9 "$pid" 2>/dev/null
        fi
        rm -rf "$2"
    "#;
    Command::new("bash")
        .arg("-c")
        .arg(SCRIPT)
        .arg("vaultstream-s3-watchdog")
        .arg(std::process::id().to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| {
            let _ = Command::new("kill").arg(garage_pid.to_string()).status();
            format!("starting the Garage watchdog: {e}")
        })
}
