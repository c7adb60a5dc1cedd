//! Intake: one submission from any channel (REST, the CLI, the Telegram
//! bot) becomes a stored item and a queued parse job, with the same
//! identity rules, the same tag and length checks and the same error codes
//! whichever way it arrived.

use sea_orm::{DatabaseConnection, DbErr};
use vaultstream_core::content::{Channel, ShareReceipt, normalise_tags};
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
