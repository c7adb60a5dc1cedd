use sea_orm::entity::prelude::*;

/// One media file of an item, with its own job state and, once archived,
/// the blob it is stored in. `status`: pending → processing → archived |
/// failed; `skipped` when media archiving is off.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "media")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub content_id: i64,
    pub position: i32,
    pub role: String,
    /// From the quoted/embedded item rather than the item itself.
    pub quoted: bool,
    pub original_url: String,
    /// SHA-256 of `original_url` (indexable whatever the URL's length).
    pub url_hash: String,
    pub request_headers: Option<Json>,
    pub status: crate::status::MediaStatus,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub lease_until: Option<DateTimeUtc>,
    pub lease_token: Option<String>,
    pub enqueued_at: Option<DateTimeUtc>,
    pub blob_key: Option<String>,
    pub sha256: Option<String>,
    pub source_sha256: Option<String>,
    pub bytes: Option<i64>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub duration_secs: Option<f64>,
    pub mime: Option<String>,
    pub failure_count: i32,
    pub error_type: Option<String>,
    pub error_code: Option<crate::error::MediaErrorCode>,
    pub error_message: Option<String>,
    pub error_detail: Option<String>,
    pub last_error_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub archived_at: Option<DateTimeUtc>,
    /// Index into the item's `parts` of the part this file belongs to.
    pub part: Option<i32>,
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
