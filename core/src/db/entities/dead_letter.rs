use sea_orm::entity::prelude::*;

/// A job that failed for good, kept with its payload until an operator
/// retries it (`state` = `open` → `retried`). Retried rows stay as history.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dead_letters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub content_id: i64,
    pub job_kind: crate::queue::JobKind,
    pub platform: String,
    pub payload: Json,
    pub attempts: i32,
    pub error_type: String,
    pub error_message: String,
    pub error_detail: Option<String>,
    pub state: crate::status::DeadLetterState,
    pub created_at: DateTimeUtc,
    pub retried_at: Option<DateTimeUtc>,
    /// The media file, for `job_kind` = `media`.
    pub media_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::content::Entity",
        from = "Column::ContentId",
        to = "super::content::Column::Id",
        on_delete = "Cascade"
    )]
    Content,
}

impl Related<super::content::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Content.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
