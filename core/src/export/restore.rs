//! Import side of the layout: one `items.jsonl` line back into a
//! deployment, in one transaction — the item with its sources, tags,
//! media rows, blob rows, versions, stats series and upstream state
//! changes — unless an item with the same identity `(platform,
//! platform_id)` is there already (then nothing is written). Rows get
//! fresh ids; everything else is kept as exported, but for this
//! deployment's bookkeeping: an archived item is not pushed again and its
//! refresh schedule starts afresh; one not archived yet is queued. Blobs themselves are the
//! caller's (stored and checked against their SHA-256 before the lines).

use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, TransactionTrait};

use super::record::{Line, Stored};
use crate::db::entities::{
    blob, content, content_source, content_stat, content_tag, content_version, media,
    upstream_event,
};

/// What became of one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub content_id: i64,
    /// False: an item with this identity was there already (untouched).
    pub created: bool,
}

/// Why a line cannot be restored: a value the schema does not know.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn word<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, RestoreError> {
    s.parse()
        .map_err(|_| RestoreError::Invalid(format!("{what}: unknown value `{s}`")))
}

/// Check a parsed line's words (statuses, states, codes) without writing.
pub fn check(line: &Line) -> Result<(), RestoreError> {
    let s = &line.stored;
    word::<crate::status::Status>("stored.item.status", &s.item.status)?;
    word::<crate::status::UpstreamState>("stored.item.upstream_state", &s.item.upstream_state)?;
    word::<crate::platform::Platform>("stored.item.platform", &s.item.platform)?;
    for (i, m) in s.media.iter().enumerate() {
        word::<crate::status::MediaStatus>(&format!("stored.media[{i}].status"), &m.status)?;
        if let Some(c) = &m.error_code {
            word::<crate::error::MediaErrorCode>(&format!("stored.media[{i}].error_code"), c)?;
        }
        if let Some(k) = &m.blob_key
            && crate::blob::BlobKey::parse(k).is_none()
        {
            return Err(RestoreError::Invalid(format!(
                "stored.media[{i}].blob_key: `{k}` is not a blob key"
            )));
        }
    }
    for (i, e) in s.upstream_events.iter().enumerate() {
        word::<crate::status::UpstreamState>(
            &format!("stored.upstream_events[{i}].state"),
            &e.state,
        )?;
        word::<crate::status::UpstreamState>(
            &format!("stored.upstream_events[{i}].previous"),
            &e.previous,
        )?;
    }
    Ok(())
}

/// Restore one line (see the module doc).
pub async fn restore(db: &DatabaseConnection, line: &Line) -> Result<Restored, RestoreError> {
    check(line)?;
    let Stored {
        item,
        tags,
        media: media_rows,
        blobs,
        versions,
        stats,
        upstream_events,
    } = &line.stored;
    let txn = db.begin().await?;
    let existing = content::Entity::find()
        .filter(content::Column::Platform.eq(item.platform.as_str()))
        .filter(content::Column::PlatformId.eq(item.platform_id.as_str()))
        .one(&txn)
        .await?;
    if let Some(e) = existing {
        return Ok(Restored {
            content_id: e.id,
            created: false,
        });
    }
    let pulled = item.status == "pulled";
    let row = content::ActiveModel {
        id: NotSet,
        platform: Set(item.platform.clone()),
        platform_id: Set(item.platform_id.clone()),
        canonical_url: Set(item.canonical_url.clone()),
        kind: Set(item.kind.clone()),
        status: Set(word("status", &item.status)?),
        title: Set(item.title.clone()),
        text: Set(item.text.clone()),
        author_name: Set(item.author_name.clone()),
        author_id: Set(item.author_id.clone()),
        author_url: Set(item.author_url.clone()),
        published_at: Set(item.published_at),
        stats: Set(item.stats.clone()),
        raw_metadata: Set(item.raw_metadata.clone()),
        failure_count: Set(item.failure_count),
        last_error: Set(item.last_error.clone()),
        last_error_type: Set(item.last_error_type.clone()),
        last_error_detail: Set(item.last_error_detail.clone()),
        last_error_at: Set(item.last_error_at),
        pulled_at: Set(item.pulled_at),
        attempts: Set(item.attempts),
        next_attempt_at: Set(None),
        lease_until: Set(None),
        lease_token: Set(None),
        // Not pulled yet: due now, so the reconciler queues it.
        enqueued_at: Set((!pulled).then(chrono::Utc::now)),
        // An archived item was pushed (or not) where it came from: it is
        // not pushed again here. One not archived yet is, once it is.
        pushes_scheduled_at: Set(pulled.then(chrono::Utc::now)),
        parts: Set(item.parts.clone()),
        fields: Set(item.fields.clone()),
        created_at: Set(item.created_at),
        updated_at: Set(item.updated_at),
        upstream_state: Set(word("upstream_state", &item.upstream_state)?),
        upstream_state_since: Set(item.upstream_state_since),
        upstream_evidence: Set(item.upstream_evidence.clone()),
        last_refresh_at: Set(item.last_refresh_at),
    };
    let id = content::Entity::insert(row)
        .exec(&txn)
        .await?
        .last_insert_id;
    for s in &line.sources {
        content_source::Entity::insert(content_source::ActiveModel {
            id: NotSet,
            content_id: Set(id),
            raw_text: Set(s.raw_text.clone()),
            submitted_url: Set(s.submitted_url.clone()),
            resolved_url: Set(s.resolved_url.clone()),
            channel: Set(s.channel.clone()),
            tags: Set(serde_json::json!(s.tags)),
            note: Set(s.note.clone()),
            submitted_by: Set(s.submitted_by.clone()),
            request_id: Set(s.request_id.clone()),
            created_at: Set(s.created_at),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    for t in tags {
        content_tag::Entity::insert(content_tag::ActiveModel {
            content_id: Set(id),
            tag: Set(t.tag.clone()),
            created_at: Set(t.created_at),
        })
        .on_conflict_do_nothing_on([content_tag::Column::ContentId, content_tag::Column::Tag])
        .exec_without_returning(&txn)
        .await?;
    }
    for b in blobs {
        blob::Entity::insert(blob::ActiveModel {
            key: Set(b.key.clone()),
            sha256: Set(b.sha256.clone()),
            bytes: Set(b.bytes),
            mime: Set(b.mime.clone()),
            width: Set(b.width),
            height: Set(b.height),
            created_at: Set(b.created_at),
        })
        .on_conflict_do_nothing_on([blob::Column::Key])
        .exec_without_returning(&txn)
        .await?;
    }
    for m in media_rows {
        let error_code = match &m.error_code {
            Some(c) => Some(word("error_code", c)?),
            None => None,
        };
        media::Entity::insert(media::ActiveModel {
            id: NotSet,
            content_id: Set(id),
            position: Set(m.position),
            role: Set(m.role.clone()),
            quoted: Set(m.quoted),
            original_url: Set(m.original_url.clone()),
            url_hash: Set(crate::db::media::url_hash(&m.original_url)),
            request_headers: Set(m.request_headers.clone()),
            status: Set(word("media status", &m.status)?),
            attempts: Set(m.attempts),
            next_attempt_at: Set(None),
            lease_until: Set(None),
            lease_token: Set(None),
            enqueued_at: Set(None),
            blob_key: Set(m.blob_key.clone()),
            sha256: Set(m.sha256.clone()),
            source_sha256: Set(m.source_sha256.clone()),
            bytes: Set(m.bytes),
            width: Set(m.width),
            height: Set(m.height),
            duration_secs: Set(m.duration_secs),
            mime: Set(m.mime.clone()),
            failure_count: Set(m.failure_count),
            error_type: Set(m.error_type.clone()),
            error_code: Set(error_code),
            error_message: Set(m.error_message.clone()),
            error_detail: Set(m.error_detail.clone()),
            last_error_at: Set(m.last_error_at),
            created_at: Set(m.created_at),
            updated_at: Set(m.updated_at),
            archived_at: Set(m.archived_at),
            part: Set(m.part),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    for v in versions {
        content_version::Entity::insert(content_version::ActiveModel {
            id: NotSet,
            content_id: Set(id),
            version: Set(v.version),
            captured_at: Set(v.captured_at),
            snapshot: Set(v.snapshot.clone()),
            diff: Set(v.diff.clone()),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    for s in stats {
        content_stat::Entity::insert(content_stat::ActiveModel {
            id: NotSet,
            content_id: Set(id),
            captured_at: Set(s.captured_at),
            stats: Set(s.stats.clone()),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    for e in upstream_events {
        upstream_event::Entity::insert(upstream_event::ActiveModel {
            id: NotSet,
            content_id: Set(id),
            state: Set(word("state", &e.state)?),
            previous: Set(word("previous", &e.previous)?),
            at: Set(e.at),
            evidence: Set(e.evidence.clone()),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    if pulled {
        // Its refresh schedule starts afresh here, as for an item archived
        // here (the worker puts it on the policy).
        crate::db::refresh::insert_unscheduled(&txn, id, chrono::Utc::now()).await?;
    }
    crate::db::search::index_item(&txn, id).await?;
    txn.commit().await?;
    Ok(Restored {
        content_id: id,
        created: true,
    })
}
