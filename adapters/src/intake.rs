//! Intake: one submission from any channel (REST, the CLI, the Telegram
//! bot) becomes a stored item and a queued parse job, with the same
//! identity rules, the same tag and length checks and the same error codes
//! whichever way it arrived.

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use sea_orm::{DatabaseConnection, DbErr};
use vaultstream_core::content::{Channel, ShareReceipt, normalise_tags};
use vaultstream_core::db::batch::{self, Submission};
use vaultstream_core::db::contents::{self, NewSource};
use vaultstream_core::db::search;
use vaultstream_core::queue::{JobQueue, ParseJob};
use vaultstream_core::{ErrorCode, UserError};

use crate::links::Linker;

/// The longest share text we take: app share texts are a few hundred
/// characters; 16 KiB leaves room for a pasted post around the link.
pub const MAX_TEXT_CHARS: usize = 16 * 1024;
/// The longest note kept with a submission.
pub const MAX_NOTE_CHARS: usize = 4000;

/// One submission, as the channel received it.
#[derive(Debug, Clone)]
pub struct Share {
    /// A link or a whole share text around one.
    pub text: String,
    /// As the user typed them; normalised here.
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub channel: Channel,
    /// Who submitted it (a Telegram user id, the shell user), if known.
    pub submitted_by: Option<String>,
    pub request_id: Option<String>,
}

impl Share {
    pub fn new(text: impl Into<String>, channel: Channel) -> Self {
        Share {
            text: text.into(),
            tags: Vec::new(),
            note: None,
            channel,
            submitted_by: None,
            request_id: None,
        }
    }
}

/// Why a submission was not taken.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Bad input: a code from the contract and a message for the user.
    #[error(transparent)]
    Refused(#[from] UserError),
    /// The database failed; nothing the user can fix.
    #[error(transparent)]
    Store(#[from] DbErr),
}

/// Check a submission without storing it: lengths, the note and the tags
/// (cheap checks first: a bad tag must not cost a short-link round trip).
/// Returns the normalised tags and note.
pub fn check(share: &Share) -> Result<(Vec<String>, Option<String>), UserError> {
    if share.text.chars().count() > MAX_TEXT_CHARS {
        return Err(UserError::new(
            ErrorCode::InvalidBody,
            format!("`url` is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    let note = share
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
    {
        return Err(UserError::new(
            ErrorCode::InvalidBody,
            format!("`note` is longer than {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok((normalise_tags(&share.tags)?, note))
}

/// Take a submission: check it, identify its link, store the item (or a
/// new source of a known one) and queue a parse job for a new item. A
/// failed enqueue loses nothing — the item is committed and a worker's
/// reconciler queues it — so it is logged, not returned.
pub async fn accept(
    linker: &Linker,
    db: &DatabaseConnection,
    queue: Option<&dyn JobQueue>,
    share: Share,
) -> Result<ShareReceipt, IntakeError> {
    let (tags, note) = check(&share)?;
    let adds_words = !tags.is_empty() || note.is_some();
    let found = linker.identify(&share.text).await?;
    let submitted = contents::submit(
        db,
        &found.identity,
        NewSource {
            raw_text: share.text,
            submitted_url: found.submitted_url,
            resolved_url: found.resolved_url,
            channel: share.channel,
            tags,
            note,
            submitted_by: share.submitted_by,
            request_id: share.request_id.clone(),
        },
    )
    .await?;
    let receipt = ShareReceipt::from(submitted);
    // An archived item's search document holds its tags and notes: a new
    // submission that adds some refreshes it (new items are indexed when
    // the worker stores them).
    if !receipt.created
        && adds_words
        && receipt.status == "pulled"
        && let Err(e) = search::index_item(db, receipt.content_id).await
    {
        tracing::warn!(content.id = receipt.content_id, error = %e, "could not refresh the search index; `vaultstream search reindex` repairs it");
    }
    if receipt.created
        && let Some(queue) = queue
    {
        let job = ParseJob {
            content_id: receipt.content_id,
            request_id: share.request_id,
        };
        if let Err(e) = queue.enqueue_parse(job, None).await {
            tracing::warn!(content.id = receipt.content_id, error = %e, "could not queue the parse job; the reconciler will");
        }
    }
    tracing::info!(
        content.id = receipt.content_id,
        platform = %receipt.platform,
        created = receipt.created,
        channel = share.channel.as_str(),
        "share accepted"
    );
    Ok(receipt)
}

/// Short links of one batch resolved at once (each may be an upstream
/// round trip).
pub const IDENTIFY_CONCURRENCY: usize = 16;

/// Held while a [`Pace::Room`] batch counts the queue's room and fills it.
static ROOM: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How the parse jobs of a batch's new items are queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Queue every new item now (the route: a client's batch is at most
    /// 1,000 items).
    All,
    /// Queue only while the parse queue has room below its high-water mark
    /// (where the backend can count it); the rest stay due in the database
    /// and the reconciler feeds them in as the workers drain the queue (the
    /// importer: 100,000 links must not flood the queue).
    Room,
}

/// What a batch did: per share, in order, the receipt or why it was
/// refused; and how many new items were queued now (the rest wait for the
/// reconciler).
#[derive(Debug)]
pub struct BatchResult {
    pub results: Vec<Result<ShareReceipt, UserError>>,
    pub queued: usize,
    pub deferred: usize,
}

/// Take many submissions at once: each is checked and identified as
/// [`accept`] does (short links resolved concurrently, at most
/// [`IDENTIFY_CONCURRENCY`] at a time, before any transaction opens), then
/// every acceptable one is stored in one transaction, and parse jobs are
/// queued for the new items after the commit. One refused share does not
/// refuse the others; a database failure fails the whole batch (nothing of
/// it is stored). `saved_at` is the time the user originally saved each
/// link, if known (it becomes the source's time).
pub async fn accept_batch(
    linker: &Linker,
    db: &DatabaseConnection,
    queue: Option<&dyn JobQueue>,
    shares: Vec<(Share, Option<DateTime<Utc>>)>,
    pace: Pace,
) -> Result<BatchResult, DbErr> {
    let checked: Vec<_> = futures::stream::iter(shares)
        .map(|(share, saved_at)| async move {
            let (tags, note) = check(&share)?;
            let found = linker.identify(&share.text).await?;
            Ok::<_, UserError>(Submission {
                identity: found.identity,
                source: NewSource {
                    raw_text: share.text,
                    submitted_url: found.submitted_url,
                    resolved_url: found.resolved_url,
                    channel: share.channel,
                    tags,
                    note,
                    submitted_by: share.submitted_by,
                    request_id: share.request_id,
                },
                saved_at,
            })
        })
        .buffered(IDENTIFY_CONCURRENCY)
        .collect()
        .await;
    let mut subs = Vec::new();
    let mut slots = Vec::with_capacity(checked.len());
    for c in checked {
        match c {
            Ok(sub) => {
                slots.push(Ok(()));
                subs.push(sub);
            }
            Err(e) => slots.push(Err(e)),
        }
    }
    let stored = batch::submit_batch(db, &subs).await?;
    let receipts: Vec<ShareReceipt> = stored.into_iter().map(ShareReceipt::from).collect();

    // Known, archived items whose new sources add tags or notes: their
    // search documents hold those (see `accept`).
    for (sub, r) in subs.iter().zip(&receipts) {
        let adds_words = !sub.source.tags.is_empty() || sub.source.note.is_some();
        if !r.created
            && adds_words
            && r.status == "pulled"
            && let Err(e) = search::index_item(db, r.content_id).await
        {
            tracing::warn!(content.id = r.content_id, error = %e, "could not refresh the search index; `vaultstream search reindex` repairs it");
        }
    }

    let new: Vec<(i64, Option<String>)> = subs
        .iter()
        .zip(&receipts)
        .filter(|(_, r)| r.created)
        .map(|(s, r)| (r.content_id, s.source.request_id.clone()))
        .collect();
    let total_new = new.len();
    let (queued, deferred);
    if let Some(queue) = queue {
        // Batches under way together (the importer keeps several) would
        // each see the same room and overfill the queue: the room is
        // counted and filled by one batch at a time.
        let _turn = match pace {
            Pace::Room => Some(ROOM.lock().await),
            Pace::All => None,
        };
        let room = match pace {
            Pace::All => usize::MAX,
            Pace::Room => queue_room(queue).await,
        };
        let now = new.len().min(room);
        // One push for the lot (one transaction / one script): queueing
        // them one by one cost more than storing them.
        let jobs: Vec<ParseJob> = new
            .into_iter()
            .take(now)
            .map(|(content_id, request_id)| ParseJob {
                content_id,
                request_id,
            })
            .collect();
        queued = match queue.enqueue_parse_many(jobs).await {
            Ok(()) => now,
            Err(e) => {
                tracing::warn!(jobs = now, error = %e, "could not queue the parse jobs; the reconciler will");
                0
            }
        };
        deferred = total_new - queued;
    } else {
        queued = 0;
        deferred = total_new;
    }
    tracing::info!(
        shares = slots.len(),
        stored = receipts.len(),
        queued,
        deferred,
        "batch accepted"
    );
    // One receipt per stored share, in order.
    let mut stored = receipts.into_iter();
    let results = slots
        .into_iter()
        .filter_map(|slot| match slot {
            Ok(()) => stored.next().map(Ok),
            Err(e) => Some(Err(e)),
        })
        .collect();
    Ok(BatchResult {
        results,
        queued,
        deferred,
    })
}

/// How many parse jobs the queue can take now without passing its
/// high-water mark; unbounded where the backend cannot count cheaply (the
/// SQL queues are tables and hold any backlog).
pub async fn queue_room(queue: &dyn JobQueue) -> usize {
    match (queue.high_water(), queue.depth().await) {
        (Some(high), Ok(Some(depth))) => high.saturating_sub(depth) as usize,
        _ => usize::MAX,
    }
}
