//! Job payloads and the queue interface.
//!
//! The queue is only a transport: the item's row says whether work is due
//! (see `db::jobs`). Producers (the API, the CLI, the bot, the reconciler)
//! see this trait; the `worker` crate implements it on apalis (Redis, or
//! the embedded SQL queue).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Parse (fetch and store) one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseJob {
    pub content_id: i64,
    /// The `x-request-id` of the submission that queued it, for tracing.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Archive one media file (download, transcode, store) of a parsed item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaJob {
    pub media_id: i64,
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Push one item to one Telegram target (one `pushed_records` row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishJob {
    pub record_id: i64,
}

/// The kinds of job, each on a queue of its own so a slow video never
/// holds up parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    Parse,
    Media,
    Publish,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Parse => "parse",
            JobKind::Media => "media",
            JobKind::Publish => "publish",
        }
    }
}

#[async_trait::async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Queue a parse job to run now, or after `delay` (a retry backoff).
    async fn enqueue_parse(&self, job: ParseJob, delay: Option<Duration>) -> anyhow::Result<()>;

    /// Queue a media job to run now, or after `delay`.
    async fn enqueue_media(&self, job: MediaJob, delay: Option<Duration>) -> anyhow::Result<()>;

    /// Queue a publish job to run now, or after `delay` (a 429's wait).
    async fn enqueue_publish(&self, job: PublishJob, delay: Option<Duration>)
    -> anyhow::Result<()>;

    /// Jobs of one kind waiting, where the backend can count them cheaply.
    async fn depth_of(&self, kind: JobKind) -> anyhow::Result<Option<u64>>;

    /// Parse jobs waiting in the queue, where the backend can count them cheaply.
    async fn depth(&self) -> anyhow::Result<Option<u64>> {
        self.depth_of(JobKind::Parse).await
    }

    /// The most jobs the queue should hold waiting; producers defer beyond it.
    fn high_water(&self) -> Option<u64> {
        None
    }

    /// `redis`, `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Delete finished queue entries older than `older_than` (the database
    /// keeps the outcome); returns how many. Backends that keep none: 0.
    async fn prune(&self, _older_than: Duration) -> anyhow::Result<u64> {
        Ok(0)
    }
}
