//! A refresh's claim and what it stores: the merge, versions, media,
//! stats and upstream state, in one transaction under the lease.

#[allow(unused_imports)]
use super::*;

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
    /// Deletion notices created (pending records): queue one publish job
    /// each after commit.
    pub notices: Vec<i64>,
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
    let txn = super::super::begin_write(db).await?;
    // The item as stored now (a concurrent tag edit or media job may have
    // moved on since the claim).
    let Some(item) = content::Entity::find_by_id(id).one(&txn).await? else {
        txn.rollback().await?;
        return Ok(None);
    };
    let media_rows = super::super::media::for_content(&txn, id).await?;
    let stored = Snapshot::of_item(&item, &media_rows);
    ensure_baseline(&txn, &item, &stored).await?;

    let mut report = RefreshReport {
        outcome: RefreshOutcome::Unchanged,
        version: None,
        kept: Vec::new(),
        new_media: Vec::new(),
        state_changed_from: None,
        notices: Vec::new(),
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
            let plan: Vec<_> = super::super::media::plan(parsed)
                .into_iter()
                .filter(|m| !known.contains(m.media.url.as_str()))
                .collect();
            if !plan.is_empty() {
                let first = media_rows
                    .iter()
                    .map(|m| m.position)
                    .max()
                    .map_or(0, |p| p + 1);
                super::super::media::insert_at(&txn, id, &plan, first, rules.archive_media, now)
                    .await?;
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
        if state == UpstreamState::Deleted {
            report.notices = super::super::push::schedule_deletion_notices(&txn, id, now).await?;
        }
    }
    item_update.exec(&txn).await?;
    if reindex {
        super::super::search::index_item(&txn, id).await?;
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

pub(super) fn clear_suspect(
    u: sea_orm::UpdateMany<refresh::Entity>,
) -> sea_orm::UpdateMany<refresh::Entity> {
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

pub(super) fn set_state(
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
pub(super) fn evidence(err: &FetchError) -> Value {
    json!({
        "status": err.class.as_str(),
        "message": err.message,
        "detail": err.detail,
    })
}

pub(super) async fn add_event<C: ConnectionTrait>(
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
