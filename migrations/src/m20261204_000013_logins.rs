//! The login vault: per-platform credentials, encrypted at rest.
//!
//! - `logins`: one row per platform (`platform` is the primary key). A
//!   stored login has `secret` (base64 of a random 24-byte nonce followed
//!   by the XChaCha20-Poly1305 ciphertext of the cookie string; the
//!   plaintext is never stored) and `set_at`; a row without `secret` holds
//!   only the health of an environment cookie (`source` = `env`). The
//!   health columns (`last_check_at`, `last_check_state`,
//!   `last_check_detail`, `failures_in_row`) are written by every check;
//!   `notice` holds operator notices not yet delivered.
//! - `login_vault`: one row (`id` = 1) with the check value of the key the
//!   vault is written with, so a different `VAULTSTREAM_SECRET_KEY` is
//!   refused at start-up instead of failing to decrypt later.
//!
//! Two new tables: no existing row changes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Logins {
    Table,
    Platform,
    Source,
    Account,
    Secret,
    SetAt,
    ExpiresAt,
    LastCheckAt,
    LastCheckState,
    LastCheckDetail,
    FailuresInRow,
    Notice,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum LoginVault {
    Table,
    Id,
    KeyCheck,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Logins::Table)
                    .if_not_exists()
                    .col(string_len(Logins::Platform, 32).primary_key())
                    .col(string_len(Logins::Source, 16))
                    .col(string_len_null(Logins::Account, 256))
                    .col(text_null(Logins::Secret))
                    .col(timestamp_with_time_zone_null(Logins::SetAt))
                    .col(timestamp_with_time_zone_null(Logins::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Logins::LastCheckAt))
                    .col(string_len_null(Logins::LastCheckState, 24))
                    .col(text_null(Logins::LastCheckDetail))
                    .col(integer(Logins::FailuresInRow).default(0))
                    .col(text_null(Logins::Notice))
                    .col(timestamp_with_time_zone(Logins::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginVault::Table)
                    .if_not_exists()
                    .col(integer(LoginVault::Id).primary_key())
                    .col(string_len(LoginVault::KeyCheck, 64))
                    .col(timestamp_with_time_zone(LoginVault::CreatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(LoginVault::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Logins::Table).if_exists().to_owned())
            .await
    }
}
