//! `doctor`: check the settings and each dependency, say what is wrong and
//! how to fix it. Exit 0 when every check passes, 1 otherwise.

use std::process::ExitCode;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;
use vaultstream_core::Settings;
use vaultstream_core::db;
use vaultstream_core::settings::{Origin, SettingsSources};

use super::EXIT_RUNTIME;

struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
    fix: Option<String>,
}

/// A setting that works but will misbehave; doctor still exits 0.
struct Warning {
    name: &'static str,
    detail: String,
}

fn warnings(settings: &Settings) -> Vec<Warning> {
    let mut out = Vec::new();
    if settings.telegram.bot_token.is_some() {
        out.extend(
            settings
                .telegram
                .timeout_warnings()
                .into_iter()
                .map(|detail| Warning {
                    name: "telegram",
                    detail,
                }),
        );
    }
    out
}

pub async fn run(settings: &Settings, sources: &SettingsSources) -> ExitCode {
    println!("Settings (secrets hidden):");
    for (key, value, origin) in sources.describe() {
        if origin != Origin::Default || !value.is_empty() {
            println!("  {key:<42} {value:<40} ({origin})");
        }
    }
    for key in &sources.unknown_env {
        println!("  {key:<42} (unknown: not read; typo?)");
    }
    println!();

    let mut checks = vec![
        check_database(settings).await,
        check_data_dir(settings),
        check_redis(settings).await,
        check_s3(settings).await,
        check_telegram(settings).await,
        check_ytdlp(settings).await,
    ];
    let (login_check, login_warnings) = check_logins(settings).await;
    checks.extend(login_check);
    println!("{:<10} {:<6} detail", "check", "state");
    let mut failed = false;
    for c in &checks {
        println!(
            "{:<10} {:<6} {}",
            c.name,
            if c.ok { "ok" } else { "FAIL" },
            c.detail
        );
        if let Some(fix) = &c.fix {
            println!("{:<10} {:<6} fix: {fix}", "", "");
        }
        failed |= !c.ok;
    }
    for w in warnings(settings).into_iter().chain(login_warnings) {
        println!("{:<10} {:<6} {}", w.name, "WARN", w.detail);
    }
    if failed {
        ExitCode::from(EXIT_RUNTIME)
    } else {
        ExitCode::SUCCESS
    }
}

async fn check_database(settings: &Settings) -> Check {
    let name = "database";
    let conn = match db::connect(settings).await {
        Ok(c) => c,
        Err(e) => {
            return Check {
                name,
                ok: false,
                detail: e.to_string(),
                fix: Some("check VAULTSTREAM_DATABASE_URL and that the server runs".into()),
            };
        }
    };
    match db::pending_migrations(&conn).await {
        Ok(p) if p.is_empty() => Check {
            name,
            ok: true,
            detail: format!("{} reachable, schema up to date", db::backend_name(&conn)),
            fix: None,
        },
        Ok(p) => Check {
            name,
            ok: settings.migrate_on_start(),
            detail: format!("{} pending migration(s)", p.len()),
            fix: Some(if settings.migrate_on_start() {
                "they are applied when the service starts".into()
            } else {
                "run `vaultstream migrate up`".into()
            }),
        },
        Err(e) => Check {
            name,
            ok: false,
            detail: format!("cannot read migration state: {e}"),
            fix: Some("run `vaultstream migrate status`".into()),
        },
    }
}

fn check_data_dir(settings: &Settings) -> Check {
    let dir = &settings.data_dir;
    let probe = dir.join(".doctor-probe");
    let result = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b"ok"))
        .and_then(|()| std::fs::remove_file(&probe));
    match result {
        Ok(()) => Check {
            name: "data_dir",
            ok: true,
            detail: format!("{} is writable", dir.display()),
            fix: None,
        },
        Err(e) => Check {
            name: "data_dir",
            ok: false,
            detail: format!("{} is not writable: {e}", dir.display()),
            fix: Some("set VAULTSTREAM_DATA_DIR to a writable directory".into()),
        },
    }
}

async fn tcp(url: &Url) -> Result<TcpStream, String> {
    let host = url.host_str().ok_or("no host")?.to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    match tokio::time::timeout(
        Duration::from_secs(3),
        TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("{host}:{port}: {e}")),
        Err(_) => Err(format!("{host}:{port}: timed out")),
    }
}

async fn check_redis(settings: &Settings) -> Check {
    let Some(url) = &settings.redis_url else {
        return Check {
            name: "redis",
            ok: true,
            detail: "not set: the embedded queue is used".into(),
            fix: None,
        };
    };
    let parsed = Url::parse(url.expose()).map_err(|e| e.to_string());
    let result = async {
        let mut s = tcp(&parsed?).await?;
        s.write_all(b"PING\r\n").await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
            .await
            .map_err(|_| "no answer to PING".to_string())?
            .map_err(|e| e.to_string())?;
        let answer = String::from_utf8_lossy(&buf[..n]).to_string();
        if answer.starts_with("+PONG") || answer.contains("NOAUTH") {
            Ok(())
        } else {
            Err(format!("unexpected answer {answer:?}"))
        }
    }
    .await;
    match result {
        Ok(()) => Check {
            name: "redis",
            ok: true,
            detail: "reachable: the Redis queue is used".into(),
            fix: None,
        },
        Err(e) => Check {
            name: "redis",
            ok: false,
            detail: e,
            fix: Some("check VAULTSTREAM_REDIS_URL, or unset it for the embedded queue".into()),
        },
    }
}

async fn check_s3(settings: &Settings) -> Check {
    let Some(s3) = &settings.s3 else {
        return Check {
            name: "s3",
            ok: true,
            detail: format!(
                "not set: blobs go to local disk under {}",
                settings.data_dir.display()
            ),
            fix: None,
        };
    };
    if let Err(e) = tcp(&s3.endpoint).await {
        return Check {
            name: "s3",
            ok: false,
            detail: e,
            fix: Some("check VAULTSTREAM_S3_ENDPOINT and that the server runs".into()),
        };
    }
    // Signed requests: credentials, region and bucket all have to be right.
    let opened = tokio::time::timeout(
        std::time::Duration::from_secs(15),
        vaultstream_core::blob::s3::S3Store::open(s3),
    )
    .await;
    let checked = match opened {
        Ok(Ok(store)) => {
            use vaultstream_core::blob::BlobStore;
            store.check().await.map_err(|e| e.to_string())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer within 15 s".to_owned()),
    };
    match checked {
        Ok(()) => Check {
            name: "s3",
            ok: true,
            detail: format!("{} bucket {} readable", s3.endpoint, s3.bucket),
            fix: None,
        },
        Err(e) => Check {
            name: "s3",
            ok: false,
            detail: e,
            fix: Some(
                "check VAULTSTREAM_S3_REGION, _BUCKET, _ACCESS_KEY and _SECRET_KEY \
                 (or VAULTSTREAM_S3_CREATE_BUCKET=true to create the bucket)"
                    .into(),
            ),
        },
    }
}

async fn check_telegram(settings: &Settings) -> Check {
    if settings.telegram.bot_token.is_none() {
        return Check {
            name: "telegram",
            ok: true,
            detail: "no bot token: the bot is off".into(),
            fix: None,
        };
    }
    let url = settings
        .telegram
        .api_url
        .clone()
        .or_else(|| Url::parse("https://api.telegram.org").ok());
    let Some(url) = url else {
        return Check {
            name: "telegram",
            ok: false,
            detail: "no API URL".into(),
            fix: None,
        };
    };
    match tcp(&url).await {
        Ok(_) => Check {
            name: "telegram",
            ok: true,
            detail: format!("{url} reachable"),
            fix: None,
        },
        Err(e) => Check {
            name: "telegram",
            ok: false,
            detail: e,
            fix: Some("check VAULTSTREAM_TELEGRAM_API_URL and the network".into()),
        },
    }
}

/// The login vault's key, and every login's last health check (as the
/// worker recorded it; `vaultstream logins check` checks now). Values are
/// never read here.
async fn check_logins(settings: &Settings) -> (Option<Check>, Vec<Warning>) {
    use vaultstream_adapters::logins::Logins;
    use vaultstream_core::db::logins::{LoginState, Vault};
    let name = "logins";
    let Ok(conn) = db::connect(settings).await else {
        return (None, Vec::new());
    };
    if !db::pending_migrations(&conn)
        .await
        .is_ok_and(|p| p.is_empty())
    {
        return (None, Vec::new());
    }
    let check = match Vault::open(settings, conn.clone()).await {
        Ok(Some(_)) => Check {
            name,
            ok: true,
            detail: "VAULTSTREAM_SECRET_KEY opens the login vault".into(),
            fix: None,
        },
        Ok(None) => {
            let rows = vaultstream_core::db::logins::list(&conn).await;
            let stored = rows.map_or(0, |r| r.iter().filter(|l| l.stored()).count());
            Check {
                name,
                ok: stored == 0,
                detail: if stored == 0 {
                    "no VAULTSTREAM_SECRET_KEY: logins cannot be stored (environment cookies only)"
                        .into()
                } else {
                    format!("{stored} stored login(s) unused: VAULTSTREAM_SECRET_KEY is not set")
                },
                fix: (stored > 0).then(|| {
                    "set VAULTSTREAM_SECRET_KEY to the key the logins were stored with".into()
                }),
            }
        }
        Err(e) => Check {
            name,
            ok: false,
            detail: e.to_string(),
            fix: Some("set VAULTSTREAM_SECRET_KEY to the key the logins were stored with".into()),
        },
    };
    let mut warnings = Vec::new();
    let entries = Logins::from_settings(settings, conn).entries().await;
    for e in entries.unwrap_or_default() {
        let p = e.platform;
        let again = format!("set a new one: `vaultstream logins set {p}` (or `logins qr {p}`)");
        let detail = match e.state {
            Some(LoginState::Valid) => match e.expires_at {
                Some(t) if t < chrono::Utc::now() + chrono::Duration::days(7) => format!(
                    "{p} login is valid but expires {}; {again}",
                    t.format("%Y-%m-%d %H:%M")
                ),
                _ => continue,
            },
            Some(state) => format!(
                "{p} login is {state} ({}; checked {}, {} failure(s) in a row); {again}",
                e.detail.as_deref().unwrap_or("-"),
                e.last_check_at
                    .map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string()),
                e.failures_in_row
            ),
            None if e.checkable => {
                format!("{p} login has not been checked yet: `vaultstream logins check {p}`")
            }
            None => continue,
        };
        warnings.push(Warning { name, detail });
    }
    (Some(check), warnings)
}

async fn check_ytdlp(settings: &Settings) -> Check {
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(&settings.ytdlp)
            .arg("--version")
            .output(),
    )
    .await;
    match out {
        Ok(Ok(o)) if o.status.success() => Check {
            name: "yt-dlp",
            ok: true,
            detail: format!(
                "{} {}",
                settings.ytdlp,
                String::from_utf8_lossy(&o.stdout).trim()
            ),
            fix: None,
        },
        Ok(Ok(o)) => Check {
            name: "yt-dlp",
            ok: false,
            detail: format!("{} exited with {}", settings.ytdlp, o.status),
            fix: Some("reinstall: pip install -U yt-dlp".into()),
        },
        Ok(Err(e)) => Check {
            name: "yt-dlp",
            ok: !settings.archive_media,
            detail: format!("{}: {e}", settings.ytdlp),
            fix: Some("pip install yt-dlp, or set VAULTSTREAM_YTDLP to its path".into()),
        },
        Err(_) => Check {
            name: "yt-dlp",
            ok: false,
            detail: "timed out".into(),
            fix: None,
        },
    }
}
