//! The bot's command context on a test deployment, as `vaultstream bot`
//! builds it: shared by the root crate's bot tests.

use std::sync::Arc;

use super::support::World;

/// A `BotCtx` on `w`'s database, queue and settings, with a publisher of
/// its own on the deployment's Telegram settings.
pub async fn bot_ctx(w: &World) -> Arc<vaultstream_bot::commands::BotCtx> {
    let settings = w.env.settings();
    let blobs = vaultstream_core::blob::open(&settings).await.unwrap();
    let telegram = vaultstream_telegram::Telegram::from_settings(&settings).unwrap();
    Arc::new(vaultstream_bot::commands::BotCtx {
        db: w.db.clone(),
        linker: vaultstream_adapters::links::Linker::new(
            vaultstream_adapters::links::LinkPolicy::from_settings(&settings),
        ),
        queue: Arc::new(w.queue.clone()),
        settings: Arc::new(settings.clone()),
        telegram: telegram.clone(),
        publisher: Arc::new(vaultstream_telegram::Publisher {
            telegram,
            db: w.db.clone(),
            blobs,
            pacer: Default::default(),
            max_attempts: 3,
            backoff_base_ms: 100,
        }),
    })
}
