use sea_orm::entity::prelude::*;

/// One recorded version of an item: 1 = the copy first archived, then one
/// per refresh that found a change. `snapshot`: title, text, parts,
/// fields, media URLs as of this version; `diff`: the fields that changed
/// against the previous version (null for version 1).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "content_versions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub content_id: i64,
    pub version: i32,
    pub captured_at: DateTimeUtc,
    pub snapshot: Json,
    pub diff: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
