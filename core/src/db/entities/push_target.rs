use sea_orm::entity::prelude::*;

/// A Telegram chat that receives pulled items: `@channel` or a numeric
/// chat id (as text). `platforms` and `tags` are JSON arrays of strings;
/// an empty array means "everything".
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "push_targets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: Option<String>,
    #[sea_orm(unique)]
    pub chat_id: String,
    pub platforms: Json,
    pub tags: Json,
    pub enabled: bool,
    /// Send a notice when an item this target received is declared
    /// deleted upstream (off by default).
    pub notify_deleted: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::pushed_record::Entity")]
    PushedRecords,
}

impl Related<super::pushed_record::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PushedRecords.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
