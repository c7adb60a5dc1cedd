//! `all` and `api`: open the database, migrate when allowed, serve.

use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use vaultstream_adapters::links::{LinkPolicy, Linker};
use vaultstream_api::AppState;
use vaultstream_core::Settings;
use vaultstream_core::blob::{self, BlobStore};
use vaultstream_core::db;
use vaultstream_core::settings::redact_url;
use vaultstream_queue::ApalisQueue;
use vaultstream_telegram::Publisher;
use vaultstream_worker::WorkerCtx;

use super::EXIT_RUNTIME;

#[derive(Debug, Clone, Copy)]
pub struct Roles {
    pub api: bool,
    pub worker: bool,
    pub bot: bool,
}

impl Roles {
    pub fn all() -> Self {
        Self {
            api: true,
            worker: true,
            bot: true,
        }
    }
    pub fn api() -> Self {
        Self {
            api: true,
            worker: false,
            bot: false,
        }
    }
    pub fn bot() -> Self {
        Self {
            api: false,
            worker: false,
            bot: true,
        }
    }
    pub fn worker() -> Self {
        Self {
            api: false,
            worker: true,
            bot: false,
        }
    }
}

/// Open the database and bring its schema up to date, or explain why not.
pub async fn open_db(settings: &Settings) -> Result<sea_orm::DatabaseConnection, ExitCode> {
    let database = match db::connect(settings).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cannot open the database");
            return Err(ExitCode::from(EXIT_RUNTIME));
        }
    };
    if settings.migrate_on_start() {
        drop(database);
        return db::connect_migrated(settings).await.map_err(|e| {
            tracing::error!(error = %e, "migrations failed");
            ExitCode::from(EXIT_RUNTIME)
        });
    } else {
        match db::pending_migrations(&database).await {
            Ok(p) if p.is_empty() => {}
            Ok(p) => {
                tracing::error!(
                    pending = ?p,
                    "the database schema is behind this version: run `vaultstream migrate up` \
                     (or set VAULTSTREAM_AUTO_MIGRATE=true)"
                );
                return Err(ExitCode::from(EXIT_RUNTIME));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the migration state");
                return Err(ExitCode::from(EXIT_RUNTIME));
            }
        }
    }
    Ok(database)
}

/// Refuse to start with a `VAULTSTREAM_SECRET_KEY` other than the one the
/// stored logins were encrypted with; warn when logins are stored and no
/// key is set (they cannot be used).
async fn check_vault(
    settings: &Settings,
    database: &sea_orm::DatabaseConnection,
) -> Result<(), ExitCode> {
    use vaultstream_core::db::logins::{self, Vault};
    match Vault::open(settings, database.clone()).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => {
            let stored = logins::list(database)
                .await
                .map(|rows| rows.iter().filter(|r| r.stored()).count())
                .unwrap_or(0);
            if stored > 0 {
                tracing::warn!(
                    stored,
                    "logins are stored but VAULTSTREAM_SECRET_KEY is not set: they are not used"
                );
            }
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot use the login vault");
            eprintln!("vaultstream: {e}");
            Err(ExitCode::from(super::EXIT_USAGE))
        }
    }
}

/// Connect to the configured queue (Redis, or the embedded one).
pub async fn open_queue(settings: &Settings) -> Result<ApalisQueue, ExitCode> {
    ApalisQueue::open(settings).await.map_err(|e| {
        tracing::error!(error = ?e, "cannot open the job queue");
        ExitCode::from(EXIT_RUNTIME)
    })
}

/// The link recogniser, configured from the settings.
pub fn linker(settings: &Settings) -> Linker {
    Linker::new(LinkPolicy::from_settings(settings))
}

/// Open the blob store (S3 when configured, else local disk).
pub async fn open_blobs(settings: &Settings) -> Result<Arc<dyn BlobStore>, ExitCode> {
    blob::open(settings).await.map_err(|e| {
        tracing::error!(
            error = %e,
            "cannot open the blob store (check the VAULTSTREAM_S3_* settings, or unset \
             VAULTSTREAM_S3_ENDPOINT to store blobs under the data dir)"
        );
        ExitCode::from(EXIT_RUNTIME)
    })
}

async fn wait_for(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

pub async fn run(settings: Settings, roles: Roles) -> ExitCode {
    let database = match open_db(&settings).await {
        Ok(d) => d,
        Err(code) => return code,
    };
    if let Err(code) = check_vault(&settings, &database).await {
        return code;
    }
    if roles.api && settings.auth_required() {
        match vaultstream_core::db::keys::count_active(&database).await {
            Ok(0) => tracing::warn!(
                bind = %settings.bind,
                "VAULTSTREAM_AUTH: the API requires keys and there are none, so every request \
                 but /api/v1/health will get 401: run `vaultstream keys create --role operator` \
                 (or --role submitter)"
            ),
            Ok(n) => tracing::info!(active_keys = n, "the API requires keys"),
            Err(e) => tracing::warn!(error = %e, "cannot count API keys"),
        }
    }
    let queue = match open_queue(&settings).await {
        Ok(q) => q,
        Err(code) => return code,
    };
    let blobs = match open_blobs(&settings).await {
        Ok(b) => b,
        Err(code) => return code,
    };
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = tx.send(true);
    });
    let mut tasks: tokio::task::JoinSet<Result<(), String>> = tokio::task::JoinSet::new();

    // One publisher per process: the workers' publish jobs and the bot's
    // `/get` share it, so one pacer keeps this process within Telegram's
    // limits.
    let publisher = if roles.worker || roles.bot {
        Publisher::from_settings(&settings, database.clone(), blobs.clone()).map(Arc::new)
    } else {
        None
    };
    if roles.worker {
        let ctx = Arc::new(WorkerCtx::new(
            &settings,
            database.clone(),
            Arc::new(queue.clone()),
            blobs.clone(),
            publisher.clone(),
        ));
        let s = settings.clone();
        let q = queue.clone();
        let stop = wait_for(rx.clone());
        tasks.spawn(async move {
            vaultstream_worker::run_workers(&s, ctx, q, stop)
                .await
                .map_err(|e| format!("worker: {e:#}"))
        });
    }
    if roles.bot
        && let Some(publisher) = publisher
    {
        let ctx = Arc::new(vaultstream_bot::commands::BotCtx {
            db: database.clone(),
            linker: linker(&settings),
            queue: Arc::new(queue.clone()),
            settings: Arc::new(settings.clone()),
            telegram: publisher.telegram.clone(),
            publisher,
        });
        let stop = wait_for(rx.clone());
        tasks.spawn(async move {
            vaultstream_bot::commands::run(ctx, stop)
                .await
                .map_err(|e| format!("bot: {e:#}"))
        });
    }
    // Worker and bot processes have no API: with VAULTSTREAM_METRICS_BIND
    // they serve their own counters (jobs, pushes) and the database gauges.
    if !roles.api
        && let Some(bind) = settings.metrics_bind
    {
        let listener = match TcpListener::bind(bind).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(bind = %bind, error = %e, "cannot listen for /metrics (VAULTSTREAM_METRICS_BIND)");
                return ExitCode::from(EXIT_RUNTIME);
            }
        };
        let state = AppState {
            db: database.clone(),
            linker: linker(&settings),
            queue: Arc::new(queue.clone()),
            blobs: blobs.clone(),
            settings: Arc::new(settings.clone()),
        };
        let app = axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(vaultstream_api::metrics::scrape),
            )
            .with_state(state);
        tracing::info!(address = %bind, "serving /metrics");
        let stop = wait_for(rx.clone());
        tasks.spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
                .map_err(|e| format!("metrics: {e}"))
        });
    }
    if roles.api {
        let listener = match TcpListener::bind(settings.bind).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(bind = %settings.bind, error = %e, "cannot listen");
                return ExitCode::from(EXIT_RUNTIME);
            }
        };
        let addr = listener
            .local_addr()
            .map_or_else(|_| settings.bind.to_string(), |a| a.to_string());
        tracing::info!(
            address = %addr,
            database = %redact_url(settings.database_url.expose()),
            queue = queue.backend_name(),
            blobs = blobs.backend(),
            data_dir = %settings.data_dir.display(),
            "VaultStream API listening on http://{addr}/api/v1"
        );
        let state = AppState {
            db: database.clone(),
            linker: linker(&settings),
            queue: Arc::new(queue.clone()),
            blobs: blobs.clone(),
            settings: Arc::new(settings.clone()),
        };
        let stop = wait_for(rx.clone());
        tasks.spawn(async move {
            vaultstream_api::serve(listener, state, stop)
                .await
                .map_err(|e| format!("api: {e}"))
        });
    }
    let mut code = ExitCode::SUCCESS;
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "a role stopped with an error");
                code = ExitCode::from(EXIT_RUNTIME);
            }
            Err(e) => {
                tracing::error!(error = %e, "a role panicked");
                code = ExitCode::from(EXIT_RUNTIME);
            }
        }
    }
    tracing::info!("stopped");
    code
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
