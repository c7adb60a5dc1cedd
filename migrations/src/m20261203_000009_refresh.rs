//! Keeping items current: re-archiving, upstream state and history.
//!
//! - `contents` gains `upstream_state` (`live`, `deleted`, `restricted`,
//!   `unreachable`; default `live`), `upstream_state_since`,
//!   `upstream_evidence` (JSON `{status, message, …}`: why the state was
//!   declared) and `last_refresh_at`; index `(upstream_state, id)` for the
//!   list filter.
//! - `refreshes`: one row per item (`id` = the item's id), the item's
//!   refresh job on the same queued-work bookkeeping as parse jobs
//!   (`db::work`: status, attempts, `next_attempt_at` — which is also when
//!   the next refresh is due —, lease, `enqueued_at`, failure columns),
//!   plus the policy step reached and a *suspected* state (`deleted` seen
//!   once, waiting for a second, later refetch to agree).
//! - `content_versions`: one row per recorded version of an item
//!   (`version` 1 = the copy first archived), its snapshot (title, text,
//!   parts, fields, media URLs) and a field-level diff against the previous
//!   version. UNIQUE `(content_id, version)`.
//! - `content_stats`: the stats series (one point per refresh).
//! - `upstream_events`: every change of an item's upstream state (gone,
//!   restricted, unreachable, back), with its evidence.
//!
//! Existing items are carried forward: `live`, and every pulled item gets
//! a refresh row `unscheduled`, which the worker schedules by the
//! configured policy counted from its first archive (past every step:
//! never).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Contents {
    Table,
    Id,
    UpstreamState,
    UpstreamStateSince,
    UpstreamEvidence,
    LastRefreshAt,
}

#[derive(DeriveIden)]
enum Refreshes {
    Table,
    Id,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeaseToken,
    EnqueuedAt,
    Step,
    Rounds,
    SuspectState,
    SuspectSince,
    SuspectEvidence,
    FailureCount,
    LastError,
    LastErrorType,
    LastErrorDetail,
    LastErrorAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ContentVersions {
    Table,
    Id,
    ContentId,
    Version,
    CapturedAt,
    Snapshot,
    Diff,
}

#[derive(DeriveIden)]
enum ContentStats {
    Table,
    Id,
    ContentId,
    CapturedAt,
    Stats,
}

#[derive(DeriveIden)]
enum UpstreamEvents {
    Table,
    Id,
    ContentId,
    State,
    Previous,
    At,
    Evidence,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER.
        for col in [
            string_len(Contents::UpstreamState, 16)
                .default("live")
                .to_owned(),
            timestamp_with_time_zone_null(Contents::UpstreamStateSince),
            json_null(Contents::UpstreamEvidence),
            timestamp_with_time_zone_null(Contents::LastRefreshAt),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(Contents::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_contents_upstream_state_id")
                    .table(Contents::Table)
                    .col(Contents::UpstreamState)
                    .col(Contents::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Refreshes::Table)
                    .if_not_exists()
                    .col(big_integer(Refreshes::Id).primary_key())
                    .col(string_len(Refreshes::Status, 16).default("unscheduled"))
                    .col(integer(Refreshes::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(Refreshes::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Refreshes::LeaseUntil))
                    .col(string_len_null(Refreshes::LeaseToken, 64))
                    .col(timestamp_with_time_zone_null(Refreshes::EnqueuedAt))
                    .col(integer(Refreshes::Step).default(0))
                    .col(integer(Refreshes::Rounds).default(0))
                    .col(string_len_null(Refreshes::SuspectState, 16))
                    .col(timestamp_with_time_zone_null(Refreshes::SuspectSince))
                    .col(json_null(Refreshes::SuspectEvidence))
                    .col(integer(Refreshes::FailureCount).default(0))
                    .col(text_null(Refreshes::LastError))
                    .col(string_len_null(Refreshes::LastErrorType, 32))
                    .col(text_null(Refreshes::LastErrorDetail))
                    .col(timestamp_with_time_zone_null(Refreshes::LastErrorAt))
                    .col(timestamp_with_time_zone(Refreshes::CreatedAt))
                    .col(timestamp_with_time_zone(Refreshes::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refreshes_content")
                            .from(Refreshes::Table, Refreshes::Id)
                            .to(Contents::Table, Contents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_refreshes_status_due")
                    .table(Refreshes::Table)
                    .col(Refreshes::Status)
                    .col(Refreshes::NextAttemptAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ContentVersions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ContentVersions::Id))
                    .col(big_integer(ContentVersions::ContentId))
                    .col(integer(ContentVersions::Version))
                    .col(timestamp_with_time_zone(ContentVersions::CapturedAt))
                    .col(json(ContentVersions::Snapshot))
                    .col(json_null(ContentVersions::Diff))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_content_versions_content")
                            .from(ContentVersions::Table, ContentVersions::ContentId)
                            .to(Contents::Table, Contents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_content_versions_content_version")
                    .table(ContentVersions::Table)
                    .col(ContentVersions::ContentId)
                    .col(ContentVersions::Version)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ContentStats::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ContentStats::Id))
                    .col(big_integer(ContentStats::ContentId))
                    .col(timestamp_with_time_zone(ContentStats::CapturedAt))
                    .col(json(ContentStats::Stats))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_content_stats_content")
                            .from(ContentStats::Table, ContentStats::ContentId)
                            .to(Contents::Table, Contents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_content_stats_content_at")
                    .table(ContentStats::Table)
                    .col(ContentStats::ContentId)
                    .col(ContentStats::CapturedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UpstreamEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(UpstreamEvents::Id))
                    .col(big_integer(UpstreamEvents::ContentId))
                    .col(string_len(UpstreamEvents::State, 16))
                    .col(string_len(UpstreamEvents::Previous, 16))
                    .col(timestamp_with_time_zone(UpstreamEvents::At))
                    .col(json_null(UpstreamEvents::Evidence))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_upstream_events_content")
                            .from(UpstreamEvents::Table, UpstreamEvents::ContentId)
                            .to(Contents::Table, Contents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_upstream_events_content")
                    .table(UpstreamEvents::Table)
                    .col(UpstreamEvents::ContentId)
                    .col(UpstreamEvents::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        // Carried forward: every pulled item gets its refresh row, for the
        // worker to schedule by the policy (counted from its first archive).
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO refreshes (id, status, attempts, step, rounds, failure_count, \
                 created_at, updated_at) \
                 SELECT id, 'unscheduled', 0, 0, 0, 0, updated_at, updated_at FROM contents \
                 WHERE status = 'pulled'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            UpstreamEvents::Table.into_iden(),
            ContentStats::Table.into_iden(),
            ContentVersions::Table.into_iden(),
            Refreshes::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS ix_contents_upstream_state_id")
            .await?;
        for col in [
            Contents::UpstreamState,
            Contents::UpstreamStateSince,
            Contents::UpstreamEvidence,
            Contents::LastRefreshAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Contents::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
