//! Refreshes that failed: retried later, or out of attempts (unreachable,
//! dead-lettered), and an operator's retry of those dead letters.

use super::store::{add_event, evidence, set_state};
#[allow(unused_imports)]
use super::*;

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
    let txn = super::super::begin_write(db).await?;
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
