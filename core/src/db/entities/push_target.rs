use sea_orm::entity::prelude::*;

/// Where pulled items go: a Telegram chat (`@channel` or a numeric chat
/// id, as text) or a webhook (`kind` = `webhook`: `url`, `format`,
/// `secret`). `platforms` and `tags` are JSON arrays of strings; an empty
/// array means "everything". `Debug` never prints the secret.
#[derive(Clone, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "push_targets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: Option<String>,
    /// The unique destination key: the chat id, or `webhook:` and the
    /// SHA-256 of the URL (see `db::push::webhook_key`).
    #[sea_orm(unique)]
    pub chat_id: String,
    pub platforms: Json,
    pub tags: Json,
    pub enabled: bool,
    /// Send a notice when an item this target received is declared
    /// deleted upstream (off by default).
    pub notify_deleted: bool,
    pub kind: crate::status::TargetKind,
    /// A webhook's address (`kind` = `webhook`).
    pub url: Option<String>,
    pub format: Option<crate::status::WebhookFormat>,
    /// A webhook's Standard Webhooks signing secret (`whsec_` + base64).
    pub secret: Option<String>,
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

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("push_target::Model")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("chat_id", &self.chat_id)
            .field("kind", &self.kind)
            .field("format", &self.format)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}
