use sea_orm::entity::prelude::*;

/// One item for one push target, UNIQUE(target_id, content_id, event): an
/// item (and its deletion notice) reaches a chat at most once. `status`: pending → sending → sent |
/// failed. `message_ids`: the Telegram message ids once sent (JSON array).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "pushed_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub target_id: i64,
    pub content_id: i64,
    /// The item itself, or the notice that its original is gone.
    pub event: crate::status::PushEvent,
    pub status: crate::status::RecordStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub enqueued_at: Option<DateTimeUtc>,
    pub message_ids: Option<Json>,
    pub error_message: Option<String>,
    pub error_detail: Option<String>,
    /// A webhook receiver's HTTP status for the last attempt.
    pub http_status: Option<i32>,
    pub created_at: DateTimeUtc,
    pub claimed_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::push_target::Entity",
        from = "Column::TargetId",
        to = "super::push_target::Column::Id",
        on_delete = "Cascade"
    )]
    Target,
    #[sea_orm(
        belongs_to = "super::content::Entity",
        from = "Column::ContentId",
        to = "super::content::Column::Id",
        on_delete = "Cascade"
    )]
    Content,
}

impl Related<super::push_target::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Target.def()
    }
}

impl Related<super::content::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Content.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
