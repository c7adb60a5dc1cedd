//! Feeds for operators: `GET|POST /api/v1/feeds`, `GET|DELETE
//! /api/v1/feeds/{id}`. A feed is a filter over the archive with its own
//! token; creating one answers with the token and the three feed URLs,
//! once (only the token's hash is kept). `DELETE` revokes: the row stays,
//! so lists show what was revoked when, and the URLs stop working at once.
//! Reading a feed is [`super::feed_read`].

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vaultstream_core::ErrorCode;
use vaultstream_core::db::entities::feed;
use vaultstream_core::db::feeds::{self, FeedFilter, Revoked};
use vaultstream_core::platform::{ContentKind, Platform};

use super::contents::{path_id, public_base};
use super::located;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorResponse};
use crate::extract::JsonBody;

/// A feed as operators see it (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedView {
    pub id: i64,
    pub name: Option<String>,
    /// The token's first characters, to tell feeds apart.
    pub prefix: String,
    pub filter: FeedFilterView,
    pub created_at: DateTime<Utc>,
    /// When a reader last fetched it (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a feed selects (null: any). Only archived (`pulled`) items are in
/// feeds.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedFilterView {
    #[schema(value_type = Option<Platform>)]
    pub platform: Option<String>,
    pub tag: Option<String>,
    #[schema(value_type = Option<ContentKind>)]
    pub kind: Option<String>,
    /// The author's name or platform id, exactly.
    pub author: Option<String>,
    /// Words in the title, text or link.
    pub q: Option<String>,
}

impl From<feed::Model> for FeedView {
    fn from(m: feed::Model) -> Self {
        FeedView {
            id: m.id,
            name: m.name,
            prefix: m.prefix,
            filter: FeedFilterView {
                platform: m.platform,
                tag: m.tag,
                kind: m.kind,
                author: m.author,
                q: m.q,
            },
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedList {
    pub items: Vec<FeedView>,
}

/// The feed's three URLs (each carries the token).
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedUrls {
    pub rss: String,
    pub atom: String,
    pub json: String,
}

/// A new feed: its token and URLs are shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedFeed {
    #[serde(flatten)]
    pub feed: FeedView,
    /// `vf_` and 40 characters; not stored, not shown again.
    pub token: String,
    pub urls: FeedUrls,
}

/// A new feed: every field optional (no filter: every archived item).
/// Unknown fields are refused (`invalid_body`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Platform>)]
    pub platform: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<ContentKind>)]
    pub kind: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    /// A search, in `GET /api/v1/search`'s language (words, `"phrases"`,
    /// `-exclusions`, `OR`, filters such as `has:video`); the feed shows
    /// what it matches, newest first.
    #[serde(default)]
    pub q: Option<String>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidBody, message)
}

impl FeedRequest {
    fn filter(self) -> ApiResult<(Option<String>, FeedFilter)> {
        let texts = [&self.name, &self.tag, &self.author, &self.q];
        if texts
            .iter()
            .any(|t| t.as_deref().is_some_and(|t| t.contains('\0')))
        {
            return Err(invalid("feed fields cannot contain NUL characters"));
        }
        let platform = self
            .platform
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<Platform>().map_err(|_| {
                    let names: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
                    invalid(format!(
                        "`platform` `{}` is not one of {}",
                        p.escape_debug(),
                        names.join(", ")
                    ))
                })
            })
            .transpose()?;
        let kind = self
            .kind
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| {
                k.parse::<ContentKind>().map_err(|_| {
                    let names: Vec<&str> = ContentKind::ALL.iter().map(|k| k.as_str()).collect();
                    invalid(format!(
                        "`kind` `{}` is not one of {}",
                        k.escape_debug(),
                        names.join(", ")
                    ))
                })
            })
            .transpose()?;
        let filter = FeedFilter {
            platform,
            tag: self.tag,
            kind,
            author: self.author,
            q: self.q,
        }
        .normalised()?;
        Ok((self.name, filter))
    }
}

/// The feed URLs for this token, on the host the client reached us by.
pub fn urls(headers: &HeaderMap, token: &str) -> FeedUrls {
    let base = public_base(headers).unwrap_or_default();
    let url = |format: &str| format!("{base}/api/v1/feed/{format}?token={token}");
    FeedUrls {
        rss: url("rss"),
        atom: url("atom"),
        json: url("json"),
    }
}

fn no_feed(id: i64) -> ApiError {
    ApiError::not_found(format!("no feed with id {id}"))
}

/// `GET /feeds`: every feed, revoked ones included, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/feeds",
    operation_id = "list_feeds",
    tag = "feeds",
    responses(
        (status = 200, description = "Every feed (never their tokens)", body = FeedList),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn list_feeds(State(state): State<AppState>) -> ApiResult<Json<FeedList>> {
    let items = feeds::list(&state.db)
        .await?
        .into_iter()
        .map(FeedView::from)
        .collect();
    Ok(Json(FeedList { items }))
}

/// `POST /feeds` → `201` with the token and the feed's URLs (shown once).
#[utoipa::path(
    post,
    path = "/api/v1/feeds",
    operation_id = "create_feed",
    tag = "feeds",
    request_body = FeedRequest,
    responses(
        (status = 201, description = "Created: the token and URLs, shown this once", body = CreatedFeed,
            headers(("Location" = String, description = "`/api/v1/feeds/{id}`"))),
        (status = 400, description = "`invalid_json`, or `invalid_query`: `q` is not a search (the message says where)", body = ErrorResponse),
        (status = 413, description = "`payload_too_large`", body = ErrorResponse),
        (status = 415, description = "`unsupported_media_type`", body = ErrorResponse),
        (status = 422, description = "`invalid_body`: unknown field, unknown platform or kind, a value too long", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn create_feed(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<FeedRequest>,
) -> ApiResult<Response> {
    let (name, filter) = body.filter()?;
    let (row, token) = feeds::create(&state.db, name.as_deref(), filter).await?;
    tracing::info!(feed.id = row.id, feed.prefix = %row.prefix, "feed created");
    let location = format!("/api/v1/feeds/{}", row.id);
    let created = CreatedFeed {
        urls: urls(&headers, &token),
        feed: row.into(),
        token,
    };
    Ok(located(StatusCode::CREATED, created, &location))
}

/// `GET /feeds/{id}`
#[utoipa::path(
    get,
    path = "/api/v1/feeds/{id}",
    operation_id = "get_feed",
    tag = "feeds",
    params(("id" = i64, Path, minimum = 1, description = "Feed id")),
    responses(
        (status = 200, description = "The feed (never its token)", body = FeedView),
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn get_feed(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<FeedView>> {
    let id = path_id(path, "feed")?;
    let row = feeds::get(&state.db, id)
        .await?
        .ok_or_else(|| no_feed(id))?;
    Ok(Json(row.into()))
}

/// `DELETE /feeds/{id}`: revoke the feed (its URLs answer `401` from now
/// on; the row stays, with `revoked_at`).
#[utoipa::path(
    delete,
    path = "/api/v1/feeds/{id}",
    operation_id = "revoke_feed",
    tag = "feeds",
    params(("id" = i64, Path, minimum = 1, description = "Feed id")),
    responses(
        (status = 200, description = "Revoked (or revoked before)", body = FeedView),
        (status = 400, description = "`invalid_parameter`", body = ErrorResponse),
        (status = 404, description = "`not_found`", body = ErrorResponse),
        (status = 503, description = "`service_unavailable`", body = ErrorResponse),
    )
)]
pub async fn revoke_feed(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<FeedView>> {
    let id = path_id(path, "feed")?;
    match feeds::revoke(&state.db, &id.to_string()).await? {
        Revoked::Revoked(row) => {
            tracing::info!(feed.id = id, "feed revoked");
            Ok(Json(row.into()))
        }
        Revoked::AlreadyRevoked(row) => Ok(Json(row.into())),
        Revoked::NotFound | Revoked::Ambiguous(_) => Err(no_feed(id)),
    }
}
