//! Keeping items current: an item's refresh (fetch it again, compare,
//! record), its upstream state, its versions and its stats series.
//!
//! Each pulled item has one `refreshes` row (`id` = the item's id) on the
//! leased-work bookkeeping of [`super::work`], like parse jobs: a claim
//! takes a due row (or one whose lease ran out) with a fresh token, every
//! later write names it. The row's `next_attempt_at` is when the next
//! refresh is due: a new row is `unscheduled` and [`schedule_new`] puts it
//! on the policy (ages after the first archive, e.g. 1 h, 1 d, 7 d, 30 d,
//! then `idle`: never again unless an operator asks, [`request`]).
//!
//! A refresh never makes the archived copy worse ([`merge`]): what the
//! refetch lacks (text, parts, fields, media) is kept; what it has and
//! differs is recorded as a new version (the previous ones stay, version 1
//! is the copy first archived), new media files become new media rows
//! (archived as new blobs; unchanged bytes dedup for free), and the stats
//! are appended to the series.
//!
//! Upstream state, from the adapter's error class ([`Refetched`]):
//! - `Gone` (permanent: 404, tombstone, removed) is first only *suspected*;
//!   `deleted` is declared when a second refetch at least
//!   `confirm_after` later agrees (so one bad answer never marks an item
//!   gone); the first sighting is the state's `since`.
//! - `Restricted` (auth required: login wall, private, region) at once.
//! - `unreachable`: a refresh whose attempts all failed on the network or
//!   5xx ([`fail_dead`]; its dead letter is kept like a parse job's).
//! - Any good answer makes the item `live` again, recorded as an event.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::dead_letters::{self, NewDeadLetter};
use super::entities::{
    content, content_stat, content_tag, content_version, media, refresh, upstream_event,
};
use super::work::{self, Failures, Lease, chrono_dur};
use crate::parsed::{FetchError, ParsedItem};
use crate::queue::JobKind;
use crate::status::{RefreshStatus, Status, UpstreamState};

work::queued_table!(refresh: RefreshStatus, waiting = RefreshStatus::Waiting, working = RefreshStatus::Refreshing, leased);

impl Failures for refresh::Entity {
    const FAILURE_COUNT: refresh::Column = refresh::Column::FailureCount;
    const ERROR_MESSAGE: refresh::Column = refresh::Column::LastError;
    const ERROR_CLASS: refresh::Column = refresh::Column::LastErrorType;
    const ERROR_DETAIL: refresh::Column = refresh::Column::LastErrorDetail;
    const ERROR_AT: refresh::Column = refresh::Column::LastErrorAt;
}

// ---------------------------------------------------------------- policy --

/// The next policy step after `now` for an item first archived at
/// `first`: `(step index, when)`, or `None` when every step has passed
/// (never again).
pub fn next_due(
    policy: &[Duration],
    first: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<(usize, DateTime<Utc>)> {
    policy
        .iter()
        .enumerate()
        .map(|(i, d)| (i, first + chrono_dur(*d)))
        .find(|(_, at)| *at > now)
}

/// A pulled item gets its refresh row (in the transaction that stores it),
/// `unscheduled` until [`schedule_new`] puts it on the policy.
pub(crate) async fn insert_unscheduled<C: ConnectionTrait>(
    db: &C,
    content_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh::Entity::insert(new_row(content_id, RefreshStatus::Unscheduled, None, now))
        .on_conflict(
            OnConflict::column(refresh::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

fn new_row(
    id: i64,
    status: RefreshStatus,
    next: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> refresh::ActiveModel {
    refresh::ActiveModel {
        id: Set(id),
        status: Set(status),
        attempts: Set(0),
        next_attempt_at: Set(next),
        lease_until: Set(None),
        lease_token: Set(None),
        enqueued_at: Set(None),
        step: Set(0),
        rounds: Set(0),
        suspect_state: Set(None),
        suspect_since: Set(None),
        suspect_evidence: Set(None),
        failure_count: Set(0),
        last_error: Set(None),
        last_error_type: Set(None),
        last_error_detail: Set(None),
        last_error_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Put up to `limit` new (`unscheduled`) rows on the policy, counted from
/// each item's first archive: `waiting` for the next step still ahead, or
/// `idle` when all have passed. Returns how many were scheduled.
pub async fn schedule_new(
    db: &DatabaseConnection,
    policy: &[Duration],
    limit: u64,
) -> Result<usize, DbErr> {
    let rows: Vec<(i64, Option<DateTime<Utc>>, DateTime<Utc>)> = refresh::Entity::find()
        .select_only()
        .column(refresh::Column::Id)
        .filter(refresh::Column::Status.eq(RefreshStatus::Unscheduled))
        .order_by_asc(refresh::Column::Id)
        .limit(limit)
        .into_tuple::<i64>()
        .all(db)
        .await?
        .into_iter()
        .map(|id| (id, None, Utc::now()))
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let firsts: BTreeMap<i64, (Option<DateTime<Utc>>, DateTime<Utc>)> = content::Entity::find()
        .select_only()
        .column(content::Column::Id)
        .column(content::Column::PulledAt)
        .column(content::Column::CreatedAt)
        .filter(content::Column::Id.is_in(ids.iter().copied()))
        .into_tuple::<(i64, Option<DateTime<Utc>>, DateTime<Utc>)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, p, c)| (id, (p, c)))
        .collect();
    let now = Utc::now();
    for id in &ids {
        let first = firsts.get(id).map_or(now, |(p, c)| p.unwrap_or(*c));
        let update = refresh::Entity::update_many()
            .col_expr(refresh::Column::UpdatedAt, Expr::value(now))
            .filter(refresh::Column::Id.eq(*id))
            .filter(refresh::Column::Status.eq(RefreshStatus::Unscheduled));
        let update = match next_due(policy, first, now) {
            Some((step, at)) => update
                .col_expr(refresh::Column::Status, Expr::value(RefreshStatus::Waiting))
                .col_expr(refresh::Column::Step, Expr::value(step as i32))
                .col_expr(refresh::Column::NextAttemptAt, Expr::value(at)),
            None => update
                .col_expr(refresh::Column::Status, Expr::value(RefreshStatus::Idle))
                .col_expr(refresh::Column::Step, Expr::value(policy.len() as i32)),
        };
        update.exec(db).await?;
    }
    Ok(ids.len())
}

/// Items waiting for their parse (due `unprocessed`): scheduled refreshes
/// are fed to the queue only while this is small.
pub async fn parse_backlog(db: &DatabaseConnection) -> Result<u64, DbErr> {
    content::Entity::find()
        .filter(work::due::<content::Entity>(Utc::now()))
        .count(db)
        .await
}

/// How long the oldest due refresh has waited (metrics).
pub async fn backlog_age(db: &DatabaseConnection) -> Result<Option<Duration>, DbErr> {
    let now = Utc::now();
    let oldest: Option<Option<DateTime<Utc>>> = refresh::Entity::find()
        .select_only()
        .column(refresh::Column::NextAttemptAt)
        .filter(refresh::Column::Status.eq(RefreshStatus::Waiting))
        .filter(refresh::Column::NextAttemptAt.lte(now))
        .order_by_asc(refresh::Column::NextAttemptAt)
        .into_tuple()
        .one(db)
        .await?;
    // An operator's request is due now (no `next_attempt_at`): count from
    // when it was queued.
    let asked: Option<Option<DateTime<Utc>>> = refresh::Entity::find()
        .select_only()
        .column(refresh::Column::UpdatedAt)
        .filter(refresh::Column::Status.eq(RefreshStatus::Waiting))
        .filter(refresh::Column::NextAttemptAt.is_null())
        .order_by_asc(refresh::Column::UpdatedAt)
        .into_tuple()
        .one(db)
        .await?;
    let since = match (oldest.flatten(), asked.flatten()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(since.map(|s| (now - s).to_std().unwrap_or_default()))
}

/// Items per upstream state (metrics).
pub async fn state_counts(db: &DatabaseConnection) -> Result<Vec<(UpstreamState, i64)>, DbErr> {
    content::Entity::find()
        .select_only()
        .column(content::Column::UpstreamState)
        .column_as(content::Column::Id.count(), "n")
        .group_by(content::Column::UpstreamState)
        .into_tuple()
        .all(db)
        .await
}

// ------------------------------------------------------- operator asks --

/// Why an item cannot be refreshed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRefusal {
    NotFound,
    /// Only pulled items have a copy to compare with.
    NotPulled(Status),
}

/// What an operator's request did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequested {
    pub content_id: i64,
    /// False when a refresh of it is already running (nothing new queued).
    pub queued: bool,
}

/// An operator asks for a refresh now: the row becomes due now with a
/// fresh round of attempts and is marked queued; the caller queues
/// [`crate::queue::RefreshJob`] when `queued`.
pub async fn request(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Result<RefreshRequested, RefreshRefusal>, DbErr> {
    let Some(item) = content::Entity::find_by_id(id).one(db).await? else {
        return Ok(Err(RefreshRefusal::NotFound));
    };
    if item.status != Status::Pulled {
        return Ok(Err(RefreshRefusal::NotPulled(item.status)));
    }
    let now = Utc::now();
    insert_unscheduled(db, id, now).await?;
    // Not while a live lease holds it.
    let live_lease = Condition::all()
        .add(refresh::Column::Status.eq(RefreshStatus::Refreshing))
        .add(refresh::Column::LeaseUntil.gte(now));
    let res = work::reset(
        work::released(refresh::Entity::update_many()),
        Some(now),
        now,
    )
    .filter(refresh::Column::Id.eq(id))
    .filter(live_lease.not())
    .exec(db)
    .await?;
    Ok(Ok(RefreshRequested {
        content_id: id,
        queued: res.rows_affected == 1,
    }))
}

/// Which items a bulk request names (`vaultstream refresh`).
#[derive(Debug, Clone, Default)]
pub struct RefreshSelection {
    pub ids: Vec<i64>,
    pub platform: Option<String>,
    pub tag: Option<String>,
    /// Only items last fetched (refreshed, or first archived) longer ago
    /// than this.
    pub older_than: Option<Duration>,
    pub limit: u64,
}

/// Ask for a refresh of every pulled item the selection names (at most
/// `limit`); returns the ids to queue.
pub async fn request_many(
    db: &DatabaseConnection,
    sel: &RefreshSelection,
) -> Result<Vec<i64>, DbErr> {
    let mut cond = Condition::all().add(content::Column::Status.eq(Status::Pulled));
    if !sel.ids.is_empty() {
        cond = cond.add(content::Column::Id.is_in(sel.ids.iter().copied()));
    }
    if let Some(p) = &sel.platform {
        cond = cond.add(content::Column::Platform.eq(p.as_str()));
    }
    if let Some(tag) = &sel.tag {
        cond = cond.add(
            content::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(content_tag::Column::ContentId)
                    .from(content_tag::Entity)
                    .and_where(content_tag::Column::Tag.eq(tag.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(before) = sel.older_than.map(|d| Utc::now() - chrono_dur(d)) {
        cond = cond.add(
            Condition::any()
                .add(content::Column::LastRefreshAt.lt(before))
                .add(
                    Condition::all()
                        .add(content::Column::LastRefreshAt.is_null())
                        .add(content::Column::PulledAt.lt(before)),
                ),
        );
    }
    let ids: Vec<i64> = content::Entity::find()
        .select_only()
        .column(content::Column::Id)
        .filter(cond)
        .order_by_asc(content::Column::Id)
        .limit(sel.limit.max(1))
        .into_tuple()
        .all(db)
        .await?;
    let mut queued = Vec::with_capacity(ids.len());
    for id in ids {
        if let Ok(r) = request(db, id).await?
            && r.queued
        {
            queued.push(id);
        }
    }
    Ok(queued)
}

// ----------------------------------------------------------- the job --

mod fail;
mod merge;
mod store;

pub use super::history::{
    History, StateEvent, StatsPoint, VersionView, VersionsSummary, due_at, history, summary,
};
pub use fail::*;
pub use merge::*;
pub use store::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(title: Option<&str>, text: Option<&str>, media: &[&str]) -> Snapshot {
        Snapshot {
            title: title.map(str::to_owned),
            text: text.map(str::to_owned),
            parts: None,
            fields: None,
            media: media.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_worse_refetch_keeps_the_good_copy() {
        let stored = snap(Some("t"), Some("full text"), &["a.jpg", "b.jpg"]);
        let fresh = snap(None, Some(""), &["a.jpg"]);
        let m = merge(&stored, &fresh);
        assert_eq!(m.snapshot, stored);
        assert!(m.diff.is_empty());
        assert_eq!(m.kept, vec!["title", "text", "media"]);
    }

    #[test]
    fn edits_are_field_level_changes() {
        let mut stored = snap(None, Some("old"), &["a.jpg"]);
        stored.fields = Some(json!({"poll": {"a": 1}, "card": 1}));
        let mut fresh = snap(None, Some("new"), &["a.jpg", "c.jpg"]);
        fresh.fields = Some(json!({"poll": {"a": 2}}));
        let m = merge(&stored, &fresh);
        let fields: Vec<&str> = m
            .diff
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, vec!["text", "fields.poll", "media"]);
        assert_eq!(m.diff[0]["before"], "old");
        assert_eq!(m.diff[0]["after"], "new");
        assert_eq!(m.snapshot.media, vec!["a.jpg", "c.jpg"]);
        assert_eq!(
            m.snapshot.fields,
            Some(json!({"poll": {"a": 2}, "card": 1}))
        );
        assert_eq!(m.kept, vec!["fields.card"]);
    }

    #[test]
    fn the_policy_counts_from_the_first_archive() {
        let h = Duration::from_secs(3600);
        let policy = [h, 24 * h, 7 * 24 * h];
        let first = Utc::now() - chrono::Duration::hours(2);
        let (step, at) = next_due(&policy, first, Utc::now()).unwrap();
        assert_eq!(step, 1);
        assert_eq!(at, first + chrono::Duration::hours(24));
        assert_eq!(
            next_due(&policy, first - chrono::Duration::days(8), Utc::now()),
            None
        );
        assert_eq!(next_due(&[], first, Utc::now()), None);
    }
}
