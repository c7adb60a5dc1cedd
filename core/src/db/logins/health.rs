//! The health side of the logins: rows as operators see them, the result
//! of each check (failures in a row, the notices a check queues), and the
//! notices waiting for the worker's login task.

use std::fmt;
use std::str::FromStr;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde::Serialize;

use crate::db::entities::{login, login_vault};
use crate::platform::Platform;

/// Failed checks in a row after which operators are told.
pub const FAILURES_BEFORE_NOTICE: i32 = 3;
/// Undelivered notices kept per platform, in characters.
const MAX_NOTICE_CHARS: usize = 4000;

/// What a health check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LoginState {
    /// The platform answered as a logged-in account.
    Valid,
    /// The platform answered as to a visitor: the cookies expired or were
    /// revoked.
    Expired,
    /// The platform refused with its risk-control answer (Bilibili -352,
    /// ...): the login may be fine, the requests are not welcome.
    RiskControl,
    /// No usable answer (network, 5xx, an answer we cannot read).
    Unreachable,
}

impl LoginState {
    pub const ALL: [LoginState; 4] = [
        LoginState::Valid,
        LoginState::Expired,
        LoginState::RiskControl,
        LoginState::Unreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LoginState::Valid => "valid",
            LoginState::Expired => "expired",
            LoginState::RiskControl => "risk_control",
            LoginState::Unreachable => "unreachable",
        }
    }
}

impl fmt::Display for LoginState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for LoginState {
    type Err = crate::platform::UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LoginState::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| crate::platform::UnknownName(s.to_owned()))
    }
}

impl login::Model {
    /// The last check's state (`None`: never checked).
    pub fn state(&self) -> Option<LoginState> {
        self.last_check_state
            .as_deref()
            .and_then(|s| s.parse().ok())
    }

    /// Whether the vault holds a cookie for this platform (else the row
    /// only records an environment cookie's health).
    pub fn stored(&self) -> bool {
        self.secret.is_some()
    }
}

/// Every row, by platform.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<login::Model>, DbErr> {
    login::Entity::find()
        .order_by_asc(login::Column::Platform)
        .all(db)
        .await
}

pub async fn get(
    db: &DatabaseConnection,
    platform: Platform,
) -> Result<Option<login::Model>, DbErr> {
    login::Entity::find_by_id(platform.as_str().to_owned())
        .one(db)
        .await
}

/// Forget a platform's login (stored cookie and health). False: none.
pub async fn remove(db: &DatabaseConnection, platform: Platform) -> Result<bool, DbErr> {
    let done = login::Entity::delete_by_id(platform.as_str().to_owned())
        .exec(db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Forget every login and the key check (a new key starts a new vault).
pub async fn forget_all(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let n = login::Entity::delete_many().exec(db).await?.rows_affected;
    login_vault::Entity::delete_many().exec(db).await?;
    Ok(n)
}

/// What one recorded check changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub previous: Option<LoginState>,
    pub state: LoginState,
    pub failures_in_row: i32,
    /// Valid now, and not at the check before (or never checked since it
    /// was set): what failed for lack of a login can be retried.
    pub became_valid: bool,
    /// The notice queued for operators, if any.
    pub notice: Option<String>,
}

/// The notice a check queues: a login that expires (once, not at every
/// later check), and the third failure in a row.
fn notice_for(
    platform: Platform,
    previous: Option<LoginState>,
    state: LoginState,
    failures: i32,
    detail: Option<&str>,
) -> Option<String> {
    let why = detail.map(|d| format!(" ({d})")).unwrap_or_default();
    if state == LoginState::Expired && previous != Some(LoginState::Expired) {
        return Some(format!(
            "The {platform} login expired{why}. Set a new one: `vaultstream logins set {platform}`, \
             /login qr {platform} here, or the operator page."
        ));
    }
    (state != LoginState::Expired && failures == FAILURES_BEFORE_NOTICE).then(|| {
        format!("The {platform} login check failed {failures} times in a row: {state}{why}.")
    })
}

/// Store one check's result. `env`: the cookie checked came from the
/// environment (a row is made for its health if there is none).
pub async fn record_check(
    db: &DatabaseConnection,
    platform: Platform,
    state: LoginState,
    detail: Option<&str>,
    account: Option<&str>,
) -> Result<Recorded, DbErr> {
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let row = login::Entity::find_by_id(platform.as_str().to_owned())
        .one(&txn)
        .await?;
    let previous = row.as_ref().and_then(login::Model::state);
    let failures = match state {
        LoginState::Valid => 0,
        _ => row.as_ref().map_or(0, |r| r.failures_in_row) + 1,
    };
    let notice = notice_for(platform, previous, state, failures, detail);
    let detail = detail.map(|d| d.chars().take(500).collect::<String>());
    let mut am: login::ActiveModel = match row.clone() {
        Some(r) => r.into(),
        None => login::ActiveModel {
            platform: Set(platform.as_str().to_owned()),
            source: Set("env".to_owned()),
            account: Set(None),
            secret: Set(None),
            set_at: Set(None),
            expires_at: Set(None),
            notice: Set(None),
            ..Default::default()
        },
    };
    am.last_check_at = Set(Some(now));
    am.last_check_state = Set(Some(state.as_str().to_owned()));
    am.last_check_detail = Set(detail);
    am.failures_in_row = Set(failures);
    am.updated_at = Set(now);
    if let Some(a) = account.filter(|a| !a.is_empty()) {
        am.account = Set(Some(a.chars().take(256).collect()));
    }
    if let Some(n) = &notice {
        am.notice = Set(Some(append(row.as_ref().and_then(|r| r.notice.clone()), n)));
    }
    if row.is_some() {
        am.update(&txn).await?;
    } else {
        am.insert(&txn).await?;
    }
    txn.commit().await?;
    Ok(Recorded {
        previous,
        state,
        failures_in_row: failures,
        became_valid: state == LoginState::Valid && previous != Some(LoginState::Valid),
        notice,
    })
}

fn append(old: Option<String>, line: &str) -> String {
    let mut all = old
        .filter(|o| !o.is_empty())
        .map_or_else(String::new, |o| o + "\n");
    all.push_str(line);
    if all.chars().count() > MAX_NOTICE_CHARS {
        let skip = all.chars().count() - MAX_NOTICE_CHARS;
        all = all.chars().skip(skip).collect();
    }
    all
}

/// Queue a notice for operators on a platform's row (made if missing).
pub async fn add_notice(
    db: &DatabaseConnection,
    platform: Platform,
    text: &str,
) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    let row = login::Entity::find_by_id(platform.as_str().to_owned())
        .one(&txn)
        .await?;
    match row {
        Some(r) => {
            let old = r.notice.clone();
            let mut am: login::ActiveModel = r.into();
            am.notice = Set(Some(append(old, text)));
            am.update(&txn).await?;
        }
        None => {
            login::ActiveModel {
                platform: Set(platform.as_str().to_owned()),
                source: Set("env".to_owned()),
                notice: Set(Some(text.to_owned())),
                failures_in_row: Set(0),
                updated_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
        }
    }
    txn.commit().await
}

/// The notices waiting, each taken once: a row's text is cleared only if
/// nothing was appended since it was read.
pub async fn take_notices(db: &DatabaseConnection) -> Result<Vec<(String, String)>, DbErr> {
    let rows = login::Entity::find()
        .filter(login::Column::Notice.is_not_null())
        .all(db)
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let Some(text) = r.notice.filter(|t| !t.is_empty()) else {
            continue;
        };
        let done = login::Entity::update_many()
            .col_expr(
                login::Column::Notice,
                sea_orm::sea_query::Expr::value(Option::<String>::None),
            )
            .filter(login::Column::Platform.eq(r.platform.as_str()))
            .filter(login::Column::Notice.eq(text.as_str()))
            .exec(db)
            .await?;
        if done.rows_affected == 1 {
            out.push((r.platform, text));
        }
    }
    Ok(out)
}
