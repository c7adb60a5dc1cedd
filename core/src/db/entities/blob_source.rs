use sea_orm::entity::prelude::*;

/// Downloaded source bytes (by SHA-256) and the transcoding variant that
/// turned them into a blob: the same source is never encoded twice.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "blob_sources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub source_sha256: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub variant: String,
    pub blob_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
