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

/// What the worker holds while it refreshes an item.
#[derive(Debug, Clone)]
pub struct RefreshClaim {
    pub lease: Lease,
    pub row: refresh::Model,
    pub item: content::Model,
}

/// Take the lease on an item's refresh if it is due. `None`: stale message
/// (or the item is gone).
pub async fn claim(
    db: &DatabaseConnection,
    id: i64,
    lease: Duration,
) -> Result<Option<RefreshClaim>, DbErr> {
    let Some((lease, row)) = work::claim::<refresh::Entity>(db, id, lease).await? else {
        return Ok(None);
    };
    let Some(item) = content::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    Ok(Some(RefreshClaim { lease, row, item }))
}

/// What the refetch answered, once retries are out of the picture.
#[derive(Debug, Clone)]
pub enum Refetched {
    /// The item, as the platform shows it now.
    Item(Box<ParsedItem>),
    /// The platform says it is gone (permanent class: 404, tombstone,
    /// removed).
    Gone(FetchError),
    /// Behind a login wall, private, region or age locked.
    Restricted(FetchError),
}

/// How a refresh ended (a metric label, the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshOutcome {
    Unchanged,
    /// A new version was recorded.
    Changed,
    /// Gone once: waiting for a later refetch to agree.
    Suspect,
    Deleted,
    Restricted,
    /// Its attempts all failed (network, 5xx).
    Unreachable,
}

impl RefreshOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshOutcome::Unchanged => "unchanged",
            RefreshOutcome::Changed => "changed",
            RefreshOutcome::Suspect => "suspect",
            RefreshOutcome::Deleted => "deleted",
            RefreshOutcome::Restricted => "restricted",
            RefreshOutcome::Unreachable => "unreachable",
        }
    }
}

/// What a stored refresh did.
#[derive(Debug, Clone)]
pub struct RefreshReport {
    pub outcome: RefreshOutcome,
    /// The version recorded, when it changed.
    pub version: Option<i32>,
    /// What the refetch lacked and the archive kept (`text`, `media`, …).
    pub kept: Vec<String>,
    /// New media rows, pending: queue one media job each after commit.
    pub new_media: Vec<i64>,
    /// The state before, when this refresh changed it.
    pub state_changed_from: Option<UpstreamState>,
}

/// The settings a stored refresh needs.
#[derive(Debug, Clone)]
pub struct RefreshRules {
    pub policy: Vec<Duration>,
    pub confirm_after: Duration,
    pub archive_media: bool,
}

/// Store what a refresh found, in one transaction under the lease: the
/// baseline (version 1, the first stats point) if this is the item's first
/// refresh, then the new version, media, stats point and upstream state;
/// the row goes back on the policy. `None`: the lease was lost, nothing
/// was written.
pub async fn complete(
    db: &DatabaseConnection,
    claim: &RefreshClaim,
    found: &Refetched,
    rules: &RefreshRules,
) -> Result<Option<RefreshReport>, DbErr> {
    let now = Utc::now();
    let id = claim.item.id;
    let txn = super::begin_write(db).await?;
    // The item as stored now (a concurrent tag edit or media job may have
    // moved on since the claim).
    let Some(item) = content::Entity::find_by_id(id).one(&txn).await? else {
        txn.rollback().await?;
        return Ok(None);
    };
    let media_rows = super::media::for_content(&txn, id).await?;
    let stored = Snapshot::of_item(&item, &media_rows);
    ensure_baseline(&txn, &item, &stored).await?;

    let mut report = RefreshReport {
        outcome: RefreshOutcome::Unchanged,
        version: None,
        kept: Vec::new(),
        new_media: Vec::new(),
        state_changed_from: None,
    };
    let mut next = next_due(
        &rules.policy,
        item.pulled_at.unwrap_or(item.created_at),
        now,
    )
    .map(|(_, at)| at);
    let mut suspect: Option<(String, DateTime<Utc>, Value)> = None;
    let mut item_update = content::Entity::update_many()
        .col_expr(content::Column::LastRefreshAt, Expr::value(now))
        .filter(content::Column::Id.eq(id));
    let mut reindex = false;
    let mut new_state: Option<(UpstreamState, DateTime<Utc>, Value)> = None;

    match found {
        Refetched::Item(parsed) => {
            let fresh = Snapshot::of_parsed(parsed);
            let merged = merge(&stored, &fresh);
            report.kept = merged.kept.clone();
            if !merged.diff.is_empty() {
                let version = next_version(&txn, id).await?;
                content_version::Entity::insert(content_version::ActiveModel {
                    id: NotSet,
                    content_id: Set(id),
                    version: Set(version),
                    captured_at: Set(now),
                    snapshot: Set(merged.snapshot.to_json()),
                    diff: Set(Some(Value::Array(merged.diff.clone()))),
                })
                .exec_without_returning(&txn)
                .await?;
                report.outcome = RefreshOutcome::Changed;
                report.version = Some(version);
                reindex = true;
                let m = &merged.snapshot;
                item_update = item_update
                    .col_expr(content::Column::Title, Expr::value(m.title.clone()))
                    .col_expr(content::Column::Text, Expr::value(m.text.clone()))
                    .col_expr(content::Column::Parts, Expr::value(m.parts.clone()))
                    .col_expr(content::Column::Fields, Expr::value(m.fields.clone()))
                    .col_expr(content::Column::UpdatedAt, Expr::value(now));
                // The document as received now, with what was kept merged
                // back in, so a later re-parse sees the best copy.
                let mut best = (**parsed).clone();
                best.title = m.title.clone();
                best.text = m.text.clone();
                if best.parts.is_empty() && !stored_parts(&item).is_empty() {
                    best.parts = stored_parts(&item);
                }
                for (k, v) in m
                    .fields
                    .as_ref()
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    best.fields.entry(k.clone()).or_insert_with(|| v.clone());
                }
                let raw = serde_json::to_value(&best).map_err(|e| DbErr::Custom(e.to_string()))?;
                item_update =
                    item_update.col_expr(content::Column::RawMetadata, Expr::value(Some(raw)));
            }
            if let Some(author) = parsed.author.as_ref().filter(|a| a.name.is_some()) {
                item_update = item_update.col_expr(
                    content::Column::AuthorName,
                    Expr::value(author.name.clone()),
                );
            }
            // New media files: appended after the ones archived (which
            // stay), archived by their own media jobs.
            let known: BTreeSet<&str> =
                media_rows.iter().map(|m| m.original_url.as_str()).collect();
            let plan: Vec<_> = super::media::plan(parsed)
                .into_iter()
                .filter(|m| !known.contains(m.media.url.as_str()))
                .collect();
            if !plan.is_empty() {
                let first = media_rows
                    .iter()
                    .map(|m| m.position)
                    .max()
                    .map_or(0, |p| p + 1);
                super::media::insert_at(&txn, id, &plan, first, rules.archive_media, now).await?;
                if rules.archive_media {
                    report.new_media = media::Entity::find()
                        .select_only()
                        .column(media::Column::Id)
                        .filter(media::Column::ContentId.eq(id))
                        .filter(media::Column::Position.gte(first))
                        .order_by_asc(media::Column::Position)
                        .into_tuple()
                        .all(&txn)
                        .await?;
                }
            }
            if !parsed.stats.is_empty() {
                let stats = json!(parsed.stats);
                add_stats(&txn, id, now, stats.clone()).await?;
                item_update =
                    item_update.col_expr(content::Column::Stats, Expr::value(Some(stats)));
            }
            if item.upstream_state != UpstreamState::Live {
                new_state = Some((
                    UpstreamState::Live,
                    now,
                    json!({"status": "ok", "message": "the platform shows the item again"}),
                ));
            }
        }
        Refetched::Gone(err) => {
            let evidence = evidence(err);
            if item.upstream_state == UpstreamState::Deleted {
                report.outcome = RefreshOutcome::Deleted;
            } else {
                let seen = claim
                    .row
                    .suspect_state
                    .as_deref()
                    .filter(|s| *s == UpstreamState::Deleted.as_str())
                    .and(claim.row.suspect_since);
                match seen {
                    Some(since) if now - since >= chrono_dur(rules.confirm_after) => {
                        // Two refetches, spaced in time, agree.
                        let mut ev = evidence.clone();
                        ev["first_seen"] = json!(since);
                        ev["first_evidence"] =
                            claim.row.suspect_evidence.clone().unwrap_or(Value::Null);
                        new_state = Some((UpstreamState::Deleted, since, ev));
                        report.outcome = RefreshOutcome::Deleted;
                    }
                    Some(since) => {
                        suspect = Some((
                            UpstreamState::Deleted.as_str().to_owned(),
                            since,
                            claim.row.suspect_evidence.clone().unwrap_or(evidence),
                        ));
                        report.outcome = RefreshOutcome::Suspect;
                        next = Some(earlier(next, since + chrono_dur(rules.confirm_after)));
                    }
                    None => {
                        suspect = Some((UpstreamState::Deleted.as_str().to_owned(), now, evidence));
                        report.outcome = RefreshOutcome::Suspect;
                        next = Some(earlier(next, now + chrono_dur(rules.confirm_after)));
                    }
                }
            }
        }
        Refetched::Restricted(err) => {
            report.outcome = RefreshOutcome::Restricted;
            if item.upstream_state != UpstreamState::Restricted {
                new_state = Some((UpstreamState::Restricted, now, evidence(err)));
            }
        }
    }
    if let Some((state, since, ev)) = new_state {
        report.state_changed_from = Some(item.upstream_state);
        item_update = set_state(item_update, state, since, ev.clone());
        add_event(&txn, id, state, item.upstream_state, now, ev).await?;
    }
    item_update.exec(&txn).await?;
    if reindex {
        super::search::index_item(&txn, id).await?;
    }

    // The row: this round is over; back on the policy (or the confirming
    // refetch), with a fresh round of attempts.
    let (status, next_at) = match next {
        Some(at) => (RefreshStatus::Waiting, Some(at)),
        None => (RefreshStatus::Idle, None),
    };
    let mut row = work::released(refresh::Entity::update_many())
        .col_expr(refresh::Column::Status, Expr::value(status))
        .col_expr(refresh::Column::NextAttemptAt, Expr::value(next_at))
        .col_expr(
            refresh::Column::EnqueuedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(refresh::Column::Attempts, Expr::value(0))
        .col_expr(
            refresh::Column::Rounds,
            sea_orm::ExprTrait::add(Expr::col(refresh::Column::Rounds), 1),
        )
        .col_expr(refresh::Column::UpdatedAt, Expr::value(now));
    row = match suspect {
        Some((state, since, ev)) => row
            .col_expr(refresh::Column::SuspectState, Expr::value(Some(state)))
            .col_expr(refresh::Column::SuspectSince, Expr::value(Some(since)))
            .col_expr(refresh::Column::SuspectEvidence, Expr::value(Some(ev))),
        None => clear_suspect(row),
    };
    let res = row
        .filter(work::owned::<refresh::Entity>(&claim.lease))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(None);
    }
    txn.commit().await?;
    Ok(Some(report))
}

fn earlier(a: Option<DateTime<Utc>>, b: DateTime<Utc>) -> DateTime<Utc> {
    a.map_or(b, |a| a.min(b))
}

fn clear_suspect(u: sea_orm::UpdateMany<refresh::Entity>) -> sea_orm::UpdateMany<refresh::Entity> {
    u.col_expr(
        refresh::Column::SuspectState,
        Expr::value(Option::<String>::None),
    )
    .col_expr(
        refresh::Column::SuspectSince,
        Expr::value(Option::<DateTime<Utc>>::None),
    )
    .col_expr(
        refresh::Column::SuspectEvidence,
        Expr::value(Option::<Value>::None),
    )
}

fn set_state(
    u: sea_orm::UpdateMany<content::Entity>,
    state: UpstreamState,
    since: DateTime<Utc>,
    evidence: Value,
) -> sea_orm::UpdateMany<content::Entity> {
    u.col_expr(content::Column::UpstreamState, Expr::value(state))
        .col_expr(
            content::Column::UpstreamStateSince,
            Expr::value(Some(since)),
        )
        .col_expr(
            content::Column::UpstreamEvidence,
            Expr::value(Some(evidence)),
        )
}

/// What a failed refetch says, as stored.
fn evidence(err: &FetchError) -> Value {
    json!({
        "status": err.class.as_str(),
        "message": err.message,
        "detail": err.detail,
    })
}

async fn add_event<C: ConnectionTrait>(
    db: &C,
    content_id: i64,
    state: UpstreamState,
    previous: UpstreamState,
    at: DateTime<Utc>,
    evidence: Value,
) -> Result<(), DbErr> {
    upstream_event::Entity::insert(upstream_event::ActiveModel {
        id: NotSet,
        content_id: Set(content_id),
        state: Set(state),
        previous: Set(previous),
        at: Set(at),
        evidence: Set(Some(evidence)),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

async fn add_stats<C: ConnectionTrait>(
    db: &C,
    content_id: i64,
    at: DateTime<Utc>,
    stats: Value,
) -> Result<(), DbErr> {
    content_stat::Entity::insert(content_stat::ActiveModel {
        id: NotSet,
        content_id: Set(content_id),
        captured_at: Set(at),
        stats: Set(stats),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

async fn next_version<C: ConnectionTrait>(db: &C, content_id: i64) -> Result<i32, DbErr> {
    let last: Option<i32> = content_version::Entity::find()
        .select_only()
        .column(content_version::Column::Version)
        .filter(content_version::Column::ContentId.eq(content_id))
        .order_by_desc(content_version::Column::Version)
        .into_tuple()
        .one(db)
        .await?;
    Ok(last.unwrap_or(0) + 1)
}

/// Before an item's first refresh is stored: version 1 (the copy first
/// archived) and the first stats point, both at the first archive's time.
async fn ensure_baseline<C: ConnectionTrait>(
    db: &C,
    item: &content::Model,
    stored: &Snapshot,
) -> Result<(), DbErr> {
    let first = item.pulled_at.unwrap_or(item.created_at);
    let versions = content_version::Entity::find()
        .filter(content_version::Column::ContentId.eq(item.id))
        .count(db)
        .await?;
    if versions == 0 {
        content_version::Entity::insert(content_version::ActiveModel {
            id: NotSet,
            content_id: Set(item.id),
            version: Set(1),
            captured_at: Set(first),
            snapshot: Set(stored.to_json()),
            diff: Set(None),
        })
        .exec_without_returning(db)
        .await?;
        let points = content_stat::Entity::find()
            .filter(content_stat::Column::ContentId.eq(item.id))
            .count(db)
            .await?;
        if let Some(stats) = item.stats.clone().filter(|_| points == 0) {
            add_stats(db, item.id, first, stats).await?;
        }
    }
    Ok(())
}

fn stored_parts(item: &content::Model) -> Vec<crate::parsed::ParsedPart> {
    item.parts
        .clone()
        .and_then(|p| serde_json::from_value(p).ok())
        .unwrap_or_default()
}

/// Record a refresh whose attempts all failed (network, 5xx): the item is
/// `unreachable` (from `live`; a deleted or restricted item stays so),
/// the job is dead-lettered like a parse job, and the row goes back on
/// the policy (`next`, or `idle`).
pub async fn fail_dead(
    db: &DatabaseConnection,
    claim: &RefreshClaim,
    err: &FetchError,
    payload: Value,
    rules: &RefreshRules,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let item = &claim.item;
    let next = next_due(
        &rules.policy,
        item.pulled_at.unwrap_or(item.created_at),
        now,
    );
    let (status, next_at) = match next {
        Some((_, at)) => (RefreshStatus::Waiting, Some(at)),
        None => (RefreshStatus::Idle, None),
    };
    let update = work::failure(work::released(refresh::Entity::update_many()), err, now)
        .col_expr(refresh::Column::Status, Expr::value(status))
        .col_expr(refresh::Column::NextAttemptAt, Expr::value(next_at))
        .col_expr(
            refresh::Column::EnqueuedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(refresh::Column::Attempts, Expr::value(0))
        .col_expr(
            refresh::Column::Rounds,
            sea_orm::ExprTrait::add(Expr::col(refresh::Column::Rounds), 1),
        )
        .filter(work::owned::<refresh::Entity>(&claim.lease));
    let txn = super::begin_write(db).await?;
    if update.exec(&txn).await?.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    let current = content::Entity::find_by_id(item.id).one(&txn).await?;
    let mut item_update = content::Entity::update_many()
        .col_expr(content::Column::LastRefreshAt, Expr::value(now))
        .filter(content::Column::Id.eq(item.id));
    if let Some(c) = current.filter(|c| c.upstream_state == UpstreamState::Live) {
        let ev = evidence(err);
        item_update = set_state(item_update, UpstreamState::Unreachable, now, ev.clone());
        add_event(
            &txn,
            item.id,
            UpstreamState::Unreachable,
            c.upstream_state,
            now,
            ev,
        )
        .await?;
    }
    item_update.exec(&txn).await?;
    dead_letters::insert_in(
        &txn,
        NewDeadLetter {
            content_id: item.id,
            media_id: None,
            job_kind: JobKind::Refresh,
            platform: &item.platform,
            payload,
            attempts: claim.lease.attempt,
            err,
        },
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Record a retryable failure; due again at `next_at` (same round).
pub async fn fail_retry(
    db: &DatabaseConnection,
    claim: &RefreshClaim,
    err: &FetchError,
    next_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let failed = work::failure(
        work::released(refresh::Entity::update_many()),
        err,
        Utc::now(),
    );
    let res = work::retry_at(failed, next_at)
        .filter(work::owned::<refresh::Entity>(&claim.lease))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// An operator's retry of refresh dead letters: these rows are due now
/// with a fresh round.
pub(crate) async fn reset<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    work::reset(
        work::released(refresh::Entity::update_many()),
        Some(now),
        now,
    )
    .filter(refresh::Column::Id.is_in(ids.iter().copied()))
    .exec(db)
    .await?;
    Ok(())
}

// ------------------------------------------------------ compare, merge --

/// What a version records of an item: what people read in it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub title: Option<String>,
    pub text: Option<String>,
    /// JSON list of parts (null: single-part).
    pub parts: Option<Value>,
    /// JSON object of the structured extras (null: none).
    pub fields: Option<Value>,
    /// The original URLs of its media files, in order.
    pub media: Vec<String>,
}

impl Snapshot {
    pub fn of_item(item: &content::Model, media: &[media::Model]) -> Self {
        Snapshot {
            title: item.title.clone(),
            text: item.text.clone(),
            parts: item
                .parts
                .clone()
                .filter(|p| p.as_array().is_some_and(|a| !a.is_empty())),
            fields: item
                .fields
                .clone()
                .filter(|f| f.as_object().is_some_and(|o| !o.is_empty())),
            media: media.iter().map(|m| m.original_url.clone()).collect(),
        }
    }

    pub fn of_parsed(p: &ParsedItem) -> Self {
        Snapshot {
            title: p.title.clone(),
            text: p.text.clone(),
            parts: (!p.parts.is_empty())
                .then(|| serde_json::to_value(&p.parts).ok())
                .flatten(),
            fields: (!p.fields.is_empty()).then(|| json!(p.fields)),
            media: super::media::plan(p)
                .into_iter()
                .map(|m| m.media.url)
                .collect(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "title": self.title,
            "text": self.text,
            "parts": self.parts,
            "fields": self.fields,
            "media": self.media,
        })
    }
}

/// The best copy from the stored one and a refetch, and what changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub snapshot: Snapshot,
    /// Field-level changes: `{"field", "change": "changed"|"added", "before", "after"}`.
    pub diff: Vec<Value>,
    /// What the refetch lacked and the stored copy kept.
    pub kept: Vec<String>,
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

/// Never a worse copy: a field the refetch lacks (empty, absent) is kept
/// as stored; one it has and that differs is taken and recorded in the
/// diff. `fields` are compared key by key (a key missing from the refetch
/// is kept); media are a union (files the refetch no longer lists stay).
pub fn merge(stored: &Snapshot, fresh: &Snapshot) -> Merged {
    let mut out = stored.clone();
    let mut diff = Vec::new();
    let mut kept = Vec::new();
    for (name, old, new, slot) in [
        ("title", &stored.title, &fresh.title, &mut out.title),
        ("text", &stored.text, &fresh.text, &mut out.text),
    ] {
        if blank(new) {
            if !blank(old) {
                kept.push(name.to_owned());
            }
        } else if new != old {
            diff.push(change(name, old.as_ref().map(|s| json!(s)), json!(new)));
            *slot = new.clone();
        }
    }
    match (&stored.parts, &fresh.parts) {
        (Some(_), None) => kept.push("parts".to_owned()),
        (old, Some(new)) if old.as_ref() != Some(new) => {
            diff.push(change("parts", old.clone(), new.clone()));
            out.parts = Some(new.clone());
        }
        _ => {}
    }
    let old_fields = stored.fields.as_ref().and_then(Value::as_object);
    let new_fields = fresh.fields.as_ref().and_then(Value::as_object);
    let mut fields = old_fields.cloned().unwrap_or_default();
    for (k, v) in new_fields.into_iter().flatten() {
        if fields.get(k) != Some(v) {
            diff.push(change(
                &format!("fields.{k}"),
                fields.get(k).cloned(),
                v.clone(),
            ));
            fields.insert(k.clone(), v.clone());
        }
    }
    for k in old_fields.into_iter().flatten().map(|(k, _)| k) {
        if new_fields.is_none_or(|n| !n.contains_key(k)) {
            kept.push(format!("fields.{k}"));
        }
    }
    out.fields = (!fields.is_empty()).then_some(Value::Object(fields));
    let added: Vec<&String> = fresh
        .media
        .iter()
        .filter(|u| !stored.media.contains(u))
        .collect();
    if !added.is_empty() {
        diff.push(json!({"field": "media", "change": "added", "after": added}));
        out.media.extend(added.into_iter().cloned());
    }
    if stored.media.iter().any(|u| !fresh.media.contains(u)) {
        kept.push("media".to_owned());
    }
    Merged {
        snapshot: out,
        diff,
        kept,
    }
}

fn change(field: &str, before: Option<Value>, after: Value) -> Value {
    match before {
        Some(before) => {
            json!({"field": field, "change": "changed", "before": before, "after": after})
        }
        None => json!({"field": field, "change": "added", "after": after}),
    }
}

// -------------------------------------------------------------- reading --

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
