use sea_orm::entity::prelude::*;

/// An item's refresh job (`id` = the item's id): the queued-work
/// bookkeeping of `db::work` (its `next_attempt_at` is when the next
/// refresh is due), the policy step reached, and a suspected state waiting
/// for a second refetch to agree.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "refreshes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    pub status: crate::status::RefreshStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub lease_until: Option<DateTimeUtc>,
    pub lease_token: Option<String>,
    pub enqueued_at: Option<DateTimeUtc>,
    /// Policy steps already passed (the next due one is `policy[step]`).
    pub step: i32,
    /// Refreshes completed (any answer).
    pub rounds: i32,
    /// `deleted` seen once: declared only when a later refetch agrees.
    pub suspect_state: Option<String>,
    pub suspect_since: Option<DateTimeUtc>,
    pub suspect_evidence: Option<Json>,
    pub failure_count: i32,
    pub last_error: Option<String>,
    pub last_error_type: Option<String>,
    pub last_error_detail: Option<String>,
    pub last_error_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
