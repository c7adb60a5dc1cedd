//! An item's history as shown: its versions (with the fields each
//! changed), its stats series and its upstream state changes. Read-only;
//! [`super::refresh`] writes them.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::entities::{content, content_stat, content_version, refresh, upstream_event};
use crate::status::{RefreshStatus, Status, UpstreamState};

/// The versions summary of `GET /contents/{id}`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionsSummary {
    /// Versions recorded (1: as first archived; refreshes that found no
    /// change add none).
    pub count: i64,
    /// When the latest change was found (null: never changed).
    pub latest_change_at: Option<DateTime<Utc>>,
    /// The fields that changed in the latest version.
    pub latest_change: Vec<String>,
}

/// An item's refresh summary (detail route).
pub async fn summary(
    db: &DatabaseConnection,
    item: &content::Model,
) -> Result<(VersionsSummary, Option<refresh::Model>), DbErr> {
    let count = content_version::Entity::find()
        .filter(content_version::Column::ContentId.eq(item.id))
        .count(db)
        .await? as i64;
    let latest = content_version::Entity::find()
        .filter(content_version::Column::ContentId.eq(item.id))
        .filter(content_version::Column::Version.gt(1))
        .order_by_desc(content_version::Column::Version)
        .one(db)
        .await?;
    let row = refresh::Entity::find_by_id(item.id).one(db).await?;
    let pulled = item.status == Status::Pulled;
    Ok((
        VersionsSummary {
            count: count.max(i64::from(pulled)),
            latest_change_at: latest.as_ref().map(|v| v.captured_at),
            latest_change: latest
                .as_ref()
                .map(|v| diff_fields(v.diff.as_ref()))
                .unwrap_or_default(),
        },
        row,
    ))
}

fn diff_fields(diff: Option<&Value>) -> Vec<String> {
    diff.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d["field"].as_str().map(str::to_owned))
        .collect()
}

/// One version of an item.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionView {
    pub version: i32,
    pub captured_at: DateTime<Utc>,
    /// Title, text, parts, fields and media URLs as of this version.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub snapshot: Value,
    /// What changed against the previous version: a list of
    /// `{"field", "change": "changed"|"added", "before", "after"}`
    /// (empty for version 1).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub diff: Value,
}

/// One point of the stats series.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsPoint {
    pub captured_at: DateTime<Utc>,
    /// The named counters (`likes`, `views`, `retweets`, …).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub stats: Value,
}

/// A change of upstream state.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StateEvent {
    pub state: UpstreamState,
    pub previous: UpstreamState,
    /// When it was decided (a deletion's first sighting is in `evidence`).
    pub at: DateTime<Utc>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub evidence: Option<Value>,
}

/// `GET /contents/{id}/history`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct History {
    pub content_id: i64,
    pub upstream_state: UpstreamState,
    pub upstream_state_since: Option<DateTime<Utc>>,
    pub last_refresh_at: Option<DateTime<Utc>>,
    /// When the next refresh is due (null: none scheduled).
    pub refresh_due_at: Option<DateTime<Utc>>,
    /// Oldest first.
    pub versions: Vec<VersionView>,
    /// Oldest first.
    pub stats: Vec<StatsPoint>,
    /// Changes of upstream state, oldest first.
    pub states: Vec<StateEvent>,
}

/// An item's history, or `None` when there is no such item.
pub async fn history(db: &DatabaseConnection, id: i64) -> Result<Option<History>, DbErr> {
    let Some(item) = content::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let versions = content_version::Entity::find()
        .filter(content_version::Column::ContentId.eq(id))
        .order_by_asc(content_version::Column::Version)
        .all(db)
        .await?
        .into_iter()
        .map(|v| VersionView {
            version: v.version,
            captured_at: v.captured_at,
            snapshot: v.snapshot,
            diff: v.diff.unwrap_or_else(|| json!([])),
        })
        .collect();
    let stats = content_stat::Entity::find()
        .filter(content_stat::Column::ContentId.eq(id))
        .order_by_asc(content_stat::Column::CapturedAt)
        .order_by_asc(content_stat::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|s| StatsPoint {
            captured_at: s.captured_at,
            stats: s.stats,
        })
        .collect();
    let states = upstream_event::Entity::find()
        .filter(upstream_event::Column::ContentId.eq(id))
        .order_by_asc(upstream_event::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|e| StateEvent {
            state: e.state,
            previous: e.previous,
            at: e.at,
            evidence: e.evidence,
        })
        .collect();
    let row = refresh::Entity::find_by_id(id).one(db).await?;
    Ok(Some(History {
        content_id: id,
        upstream_state: item.upstream_state,
        upstream_state_since: item.upstream_state_since,
        last_refresh_at: item.last_refresh_at,
        refresh_due_at: row.as_ref().and_then(due_at),
        versions,
        stats,
        states,
    }))
}

/// When a row's next refresh is due.
pub fn due_at(row: &refresh::Model) -> Option<DateTime<Utc>> {
    match row.status {
        RefreshStatus::Waiting => Some(row.next_attempt_at.unwrap_or(row.updated_at)),
        _ => None,
    }
}
