use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "contents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub platform: String,
    pub platform_id: String,
    pub canonical_url: String,
    pub kind: String,
    pub status: crate::status::Status,
    pub title: Option<String>,
    pub text: Option<String>,
    pub author_name: Option<String>,
    pub author_id: Option<String>,
    pub author_url: Option<String>,
    pub published_at: Option<DateTimeUtc>,
    pub stats: Option<Json>,
    pub raw_metadata: Option<Json>,
    pub failure_count: i32,
    pub last_error: Option<String>,
    pub last_error_type: Option<String>,
    pub last_error_detail: Option<String>,
    pub last_error_at: Option<DateTimeUtc>,
    pub pulled_at: Option<DateTimeUtc>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub lease_until: Option<DateTimeUtc>,
    pub lease_token: Option<String>,
    pub enqueued_at: Option<DateTimeUtc>,
    /// When its pushed records were created (after its media settled).
    pub pushes_scheduled_at: Option<DateTimeUtc>,
    /// The ordered parts of a whole post (JSON list of `ParsedPart`).
    pub parts: Option<Json>,
    /// Structured extras (poll, card, community note…), a JSON object.
    pub fields: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// What the platform says of the original: `live`, `deleted`,
    /// `restricted` or `unreachable` (see `db::refresh`).
    pub upstream_state: crate::status::UpstreamState,
    /// When it was first seen in that state (null: live since archived).
    pub upstream_state_since: Option<DateTimeUtc>,
    /// Why: `{"status", "message", "detail"}` of the refetch that decided.
    pub upstream_evidence: Option<Json>,
    /// When a refresh last fetched it again (whatever the answer).
    pub last_refresh_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::content_source::Entity")]
    Sources,
    #[sea_orm(has_many = "super::content_tag::Entity")]
    Tags,
}

impl Related<super::content_source::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sources.def()
    }
}

impl Related<super::content_tag::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tags.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
