//! The blob registry: each stored blob once (`blobs`), and which downloaded
//! source bytes (by SHA-256) a transcoding variant turned into which blob
//! (`blob_sources`), so the same picture is never encoded twice.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QuerySelect};
use serde::Serialize;

use super::entities::{blob, blob_source};

/// A file stored in the blob store.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Archived {
    pub blob_key: String,
    pub sha256: String,
    /// SHA-256 of the downloaded bytes, when they differ from the blob's.
    pub source_sha256: Option<String>,
    pub bytes: i64,
    pub mime: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_secs: Option<f64>,
}

/// Record a stored blob (once per key) and, for transcoded sources, which
/// source bytes produced it.
pub async fn record_blob(
    db: &DatabaseConnection,
    a: &Archived,
    variant: Option<&str>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    blob::Entity::insert(blob::ActiveModel {
        key: Set(a.blob_key.clone()),
        sha256: Set(a.sha256.clone()),
        bytes: Set(a.bytes),
        mime: Set(a.mime.clone()),
        width: Set(a.width),
        height: Set(a.height),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([blob::Column::Key])
    .exec_without_returning(db)
    .await?;
    if let (Some(src), Some(variant)) = (&a.source_sha256, variant) {
        blob_source::Entity::insert(blob_source::ActiveModel {
            source_sha256: Set(src.clone()),
            variant: Set(variant.to_owned()),
            blob_key: Set(a.blob_key.clone()),
            created_at: Set(now),
        })
        .on_conflict_do_nothing_on([
            blob_source::Column::SourceSha256,
            blob_source::Column::Variant,
        ])
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// The blob a source (by the SHA-256 of its bytes) was already turned
/// into with this variant.
pub async fn blob_for_source(
    db: &DatabaseConnection,
    source_sha256: &str,
    variant: &str,
) -> Result<Option<blob::Model>, DbErr> {
    let Some(src) = blob_source::Entity::find_by_id((source_sha256.to_owned(), variant.to_owned()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    blob::Entity::find_by_id(src.blob_key).one(db).await
}

/// Blobs stored and their total size (metrics).
pub async fn blob_totals(db: &DatabaseConnection) -> Result<(i64, i64), DbErr> {
    let row: Option<(i64, Option<i64>)> = blob::Entity::find()
        .select_only()
        .column_as(blob::Column::Key.count(), "n")
        .column_as(blob::Column::Bytes.sum(), "bytes")
        .into_tuple()
        .one(db)
        .await?;
    Ok(row.map_or((0, 0), |(n, b)| (n, b.unwrap_or(0))))
}
