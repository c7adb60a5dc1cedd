//! Job payloads and the queue interface.
//!
//! The queue is only a transport: the item's row says whether work is due
//! (see `db::work`). Producers (the API, the CLI, the bot, the reconciler)
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

/// Fetch one pulled item again and compare (one `refreshes` row, whose id
/// is the item's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshJob {
    pub content_id: i64,
    #[serde(default)]
    pub request_id: Option<String>,
}

crate::status::string_enum! {
    /// The kinds of job, each on a queue of its own so a slow video never
    /// holds up parsing. Stored in dead letters (`job_kind`).
    pub enum JobKind {
        Parse = "parse",
        Media = "media",
        Publish = "publish",
        Refresh = "refresh",
    }
}

/// A job payload: its kind, the row it works on (the row says whether work
/// is due), and how it is queued.
#[async_trait::async_trait]
pub trait Payload:
    Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + Unpin + 'static
{
    const KIND: JobKind;

    /// The id of the row this job works on.
    fn row_id(&self) -> i64;

    /// The job the reconciler queues for a due row (no request id).
    fn for_row(id: i64) -> Self;

    /// Queue it on its kind's queue, now or after `delay`.
    async fn enqueue(self, queue: &dyn JobQueue, delay: Option<Duration>) -> anyhow::Result<()>;
}

#[async_trait::async_trait]
impl Payload for ParseJob {
    const KIND: JobKind = JobKind::Parse;
    fn row_id(&self) -> i64 {
        self.content_id
    }
    fn for_row(content_id: i64) -> Self {
        ParseJob {
            content_id,
            request_id: None,
        }
    }
    async fn enqueue(self, queue: &dyn JobQueue, delay: Option<Duration>) -> anyhow::Result<()> {
        queue.enqueue_parse(self, delay).await
    }
}

#[async_trait::async_trait]
impl Payload for MediaJob {
    const KIND: JobKind = JobKind::Media;
    fn row_id(&self) -> i64 {
        self.media_id
    }
    fn for_row(media_id: i64) -> Self {
        MediaJob {
            media_id,
            request_id: None,
        }
    }
    async fn enqueue(self, queue: &dyn JobQueue, delay: Option<Duration>) -> anyhow::Result<()> {
        queue.enqueue_media(self, delay).await
    }
}

#[async_trait::async_trait]
impl Payload for PublishJob {
    const KIND: JobKind = JobKind::Publish;
    fn row_id(&self) -> i64 {
        self.record_id
    }
    fn for_row(record_id: i64) -> Self {
        PublishJob { record_id }
    }
    async fn enqueue(self, queue: &dyn JobQueue, delay: Option<Duration>) -> anyhow::Result<()> {
        queue.enqueue_publish(self, delay).await
    }
}

#[async_trait::async_trait]
impl Payload for RefreshJob {
    const KIND: JobKind = JobKind::Refresh;
    fn row_id(&self) -> i64 {
        self.content_id
    }
    fn for_row(content_id: i64) -> Self {
        RefreshJob {
            content_id,
            request_id: None,
        }
    }
    async fn enqueue(self, queue: &dyn JobQueue, delay: Option<Duration>) -> anyhow::Result<()> {
        queue.enqueue_refresh(self, delay).await
    }
}

#[async_trait::async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Queue a parse job to run now, or after `delay` (a retry backoff).
    async fn enqueue_parse(&self, job: ParseJob, delay: Option<Duration>) -> anyhow::Result<()>;

    /// Queue many parse jobs to run now, in as few round trips as the
    /// backend allows (one transaction, one script): the batch intake and
    /// the importer. The default queues them one by one.
    async fn enqueue_parse_many(&self, jobs: Vec<ParseJob>) -> anyhow::Result<()> {
        for job in jobs {
            self.enqueue_parse(job, None).await?;
        }
        Ok(())
    }

    /// Queue a media job to run now, or after `delay`.
    async fn enqueue_media(&self, job: MediaJob, delay: Option<Duration>) -> anyhow::Result<()>;

    /// Queue a publish job to run now, or after `delay` (a 429's wait).
    async fn enqueue_publish(&self, job: PublishJob, delay: Option<Duration>)
    -> anyhow::Result<()>;

    /// Queue a refresh job (its own queue, its own smaller pool).
    async fn enqueue_refresh(&self, job: RefreshJob, delay: Option<Duration>)
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
