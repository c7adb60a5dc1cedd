use sea_orm::entity::prelude::*;

/// One platform's login: the encrypted cookie string (`secret`, base64 of
/// nonce ‖ ciphertext; `None` for a row that only records the health of an
/// environment cookie) and its last health check. Never holds plaintext.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "logins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub platform: String,
    /// `vault` or `env`.
    pub source: String,
    pub account: Option<String>,
    pub secret: Option<String>,
    pub set_at: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
    pub last_check_at: Option<DateTimeUtc>,
    pub last_check_state: Option<String>,
    pub last_check_detail: Option<String>,
    pub failures_in_row: i32,
    /// Operator notices waiting to be sent (one per line).
    pub notice: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
