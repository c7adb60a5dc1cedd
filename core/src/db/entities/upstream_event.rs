use sea_orm::entity::prelude::*;

/// A change of an item's upstream state (gone, restricted, unreachable,
/// back to live), with the evidence that decided it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "upstream_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub content_id: i64,
    pub state: crate::status::UpstreamState,
    pub previous: crate::status::UpstreamState,
    pub at: DateTimeUtc,
    pub evidence: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
