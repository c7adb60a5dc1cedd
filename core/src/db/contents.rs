//! Items and their submissions.
//!
//! [`submit`] is the heart of intake: one transaction that inserts the item
//! if its `(platform, platform_id)` is new (`ON CONFLICT` — the unique index
//! decides under concurrency, never a read-then-write), records the
//! submission as a source, and adds its tags. Submissions arriving together
//! share one transaction (group commit, `db::group`); a batch of them is
//! `db::batch`.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, ExprTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{content, content_source, content_tag};
use crate::content::{Channel, ContentView, MediaView, ShareReceipt, SourceView, Status};
use crate::platform::{Identity, Platform};
use crate::status::MediaStatus;

/// One submission, as it arrived.
#[derive(Debug, Clone)]
pub struct NewSource {
    pub raw_text: String,
    pub submitted_url: String,
    pub resolved_url: Option<String>,
    pub channel: Channel,
    /// Already normalised (see `content::normalise_tags`).
    pub tags: Vec<String>,
    pub note: Option<String>,
    pub submitted_by: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Submitted {
    pub content: content::Model,
    pub created: bool,
    pub source_id: i64,
}

/// Record a submission: the item (once), its source (always) and its tags.
///
/// It is committed together with the other submissions to the same
/// database waiting at that moment (group commit, `db::group`) and answered
/// once that transaction committed. Alone on PostgreSQL it is one statement
/// ([`SUBMIT_PG`]); otherwise a batch (`db::batch`).
pub async fn submit(
    db: &DatabaseConnection,
    identity: &Identity,
    source: NewSource,
) -> Result<Submitted, DbErr> {
    super::group::submit(
        db,
        super::batch::Submission {
            identity: identity.clone(),
            source,
            saved_at: None,
        },
    )
    .await
}

/// The whole submission as one PostgreSQL statement — one round trip, no
/// explicit transaction (a statement is atomic): insert the item, or on a
/// conflict with its (platform, platform_id) take the existing row (the
/// unique index decides, under any concurrency: a concurrent insert is
/// waited for, never missed); record the source and the tags against it.
///
/// `DO UPDATE SET platform = EXCLUDED.platform` changes nothing (and, no
/// indexed value changing, is a HOT update) but makes the conflicting row
/// come back from `RETURNING`; `xmax = 0` holds only for a freshly inserted
/// row. There is no separate lookup for the planner to get wrong: a cached
/// generic plan for `SELECT … WHERE platform = $1 AND platform_id = $2`
/// made while the table was nearly empty was seen to pick the
/// (platform, id) listing index and walk every row of the platform on each
/// share until the next ANALYZE.
pub const SUBMIT_PG: &str = r#"
WITH item AS (
    INSERT INTO contents (platform, platform_id, canonical_url, kind, status,
        failure_count, attempts, enqueued_at, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, 0, 0, $6, $6, $6)
    ON CONFLICT (platform, platform_id) DO UPDATE SET platform = EXCLUDED.platform
    RETURNING *, (xmax = 0) AS created
), src AS (
    INSERT INTO content_sources (content_id, raw_text, submitted_url, resolved_url,
        channel, tags, note, submitted_by, request_id, created_at)
    SELECT id, $7, $8, $9, $10, $11::text::json, $12, $13, $14, $6 FROM item
    RETURNING id, content_id
), tag_rows AS (
    INSERT INTO content_tags (content_id, tag, created_at)
    SELECT item.id, t.tag, $6
    FROM item, json_array_elements_text($11::text::json) AS t(tag)
    ON CONFLICT (content_id, tag) DO NOTHING
)
SELECT item.*, src.id AS source_id FROM item JOIN src ON src.content_id = item.id
"#;

pub(crate) async fn submit_pg(
    db: &DatabaseConnection,
    identity: &Identity,
    source: NewSource,
) -> Result<Submitted, DbErr> {
    let now = Utc::now();
    let tags = serde_json::json!(source.tags).to_string();
    let row = sea_orm::sqlx::query(SUBMIT_PG)
        .bind(identity.platform.as_str())
        .bind(&identity.platform_id)
        .bind(&identity.canonical_url)
        .bind(identity.kind.as_str())
        .bind(Status::Unprocessed.as_str())
        .bind(now)
        .bind(&source.raw_text)
        .bind(&source.submitted_url)
        .bind(&source.resolved_url)
        .bind(source.channel.as_str())
        .bind(&tags)
        .bind(&source.note)
        .bind(&source.submitted_by)
        .bind(&source.request_id)
        .fetch_one(db.get_postgres_connection_pool())
        .await
        .map_err(|e| DbErr::Query(sea_orm::RuntimeErr::SqlxError(e.into())))?;
    let row = sea_orm::QueryResult::from(row);
    Ok(Submitted {
        content: content::Model::from_query_result(&row, "")?,
        created: row.try_get("", "created")?,
        source_id: row.try_get("", "source_id")?,
    })
}

impl From<Submitted> for ShareReceipt {
    fn from(s: Submitted) -> Self {
        ShareReceipt {
            content_id: s.content.id,
            created: s.created,
            platform: s.content.platform,
            platform_id: s.content.platform_id,
            canonical_url: s.content.canonical_url,
            kind: s.content.kind,
            status: s.content.status.to_string(),
            source_id: s.source_id,
        }
    }
}

/// One item with its tags and sources, or `None`.
pub async fn get(db: &DatabaseConnection, id: i64) -> Result<Option<ContentView>, DbErr> {
    let Some(item) = content::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let mut tags = tags_of(db, &[id]).await?;
    let sources = content_source::Entity::find()
        .filter(content_source::Column::ContentId.eq(id))
        .order_by_asc(content_source::Column::Id)
        .all(db)
        .await?;
    let media = super::media::for_content(db, id).await?;
    let parts = item.parts.clone();
    let (versions, refresh) = super::history::summary(db, &item).await?;
    let mut view = ContentView::new(item, tags.remove(&id).unwrap_or_default());
    view.versions = Some(versions);
    view.refresh_due_at = refresh.as_ref().and_then(super::history::due_at);
    view.sources = Some(sources.into_iter().map(SourceView::from).collect());
    view.media_status = crate::content::media_status(media.iter().map(|m| m.status)).to_owned();
    let media: Vec<MediaView> = media.into_iter().map(MediaView::from).collect();
    view.parts = crate::content::part_views(parts.as_ref(), &media);
    view.media = Some(media);
    Ok(Some(view))
}

/// Filters of the list route. `q` matches title, text or canonical URL,
/// case-insensitively.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub platform: Option<Platform>,
    pub tag: Option<String>,
    pub q: Option<String>,
    pub upstream_state: Option<crate::status::UpstreamState>,
    pub limit: u64,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub items: Vec<ContentView>,
    pub next_cursor: Option<Cursor>,
}

/// A keyset position: the list continues with ids below `before_id`. Opaque
/// to clients (`v1.` + base64), so its shape can change without breaking
/// them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub before_id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1.{}", self.before_id))
    }

    pub fn decode(s: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(s.trim()).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let id: i64 = text.strip_prefix("v1.")?.parse().ok()?;
        (id > 0).then_some(Cursor { before_id: id })
    }
}

/// Newest first, keyset-paginated by id.
pub async fn list(db: &DatabaseConnection, f: &ListFilter) -> Result<Page, DbErr> {
    let mut cond = Condition::all();
    if let Some(s) = f.status {
        cond = cond.add(content::Column::Status.eq(s));
    }
    if let Some(p) = f.platform {
        cond = cond.add(content::Column::Platform.eq(p.as_str()));
    }
    if let Some(c) = f.cursor {
        cond = cond.add(content::Column::Id.lt(c.before_id));
    }
    if let Some(u) = f.upstream_state {
        cond = cond.add(content::Column::UpstreamState.eq(u));
    }
    if let Some(tag) = &f.tag {
        cond = cond.add(
            content::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(content_tag::Column::ContentId)
                    .from(content_tag::Entity)
                    .and_where(content_tag::Column::Tag.eq(tag.as_str()))
                    .to_owned(),
            ),
        );
    }
    if let Some(q) = f.q.as_deref().filter(|q| !q.trim().is_empty()) {
        let pattern = format!("%{}%", escape_like(&q.trim().to_lowercase()));
        let like = |col: content::Column| {
            Expr::expr(Func::lower(Expr::col(col)))
                .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\'))
        };
        cond = cond.add(
            Condition::any()
                .add(like(content::Column::Title))
                .add(like(content::Column::Text))
                .add(like(content::Column::CanonicalUrl)),
        );
    }
    let mut rows = content::Entity::find()
        .filter(cond)
        .order_by_desc(content::Column::Id)
        .limit(f.limit + 1)
        .all(db)
        .await?;
    let next_cursor = if rows.len() as u64 > f.limit {
        rows.truncate(f.limit as usize);
        rows.last().map(|last| Cursor { before_id: last.id })
    } else {
        None
    };
    let items = views_of(db, rows).await?;
    Ok(Page { items, next_cursor })
}

/// List views of these rows, in their order: tags and `media_status`
/// filled in with two queries for the whole list.
pub(crate) async fn views_of(
    db: &DatabaseConnection,
    rows: Vec<content::Model>,
) -> Result<Vec<ContentView>, DbErr> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut tags = tags_of(db, &ids).await?;
    let media = media_statuses(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let t = tags.remove(&r.id).unwrap_or_default();
            let statuses = media.get(&r.id);
            let mut view = ContentView::new(r, t);
            view.media_status =
                crate::content::media_status(statuses.into_iter().flatten().copied()).to_owned();
            view
        })
        .collect())
}

async fn media_statuses(
    db: &DatabaseConnection,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<MediaStatus>>, DbErr> {
    use super::entities::media;
    let mut out: HashMap<i64, Vec<MediaStatus>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(i64, MediaStatus)> = media::Entity::find()
        .select_only()
        .column(media::Column::ContentId)
        .column(media::Column::Status)
        .filter(media::Column::ContentId.is_in(ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    for (id, status) in rows {
        out.entry(id).or_default().push(status);
    }
    Ok(out)
}

async fn tags_of(db: &DatabaseConnection, ids: &[i64]) -> Result<HashMap<i64, Vec<String>>, DbErr> {
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = content_tag::Entity::find()
        .filter(content_tag::Column::ContentId.is_in(ids.iter().copied()))
        .order_by_asc(content_tag::Column::CreatedAt)
        .order_by_asc(content_tag::Column::Tag)
        .all(db)
        .await?;
    for r in rows {
        out.entry(r.content_id).or_default().push(r.tag);
    }
    Ok(out)
}

/// How many items and sources exist (tests, doctor, metrics).
pub async fn counts(db: &DatabaseConnection) -> Result<(u64, u64), DbErr> {
    use sea_orm::PaginatorTrait;
    let items = content::Entity::find().count(db).await?;
    let sources = content_source::Entity::find().count(db).await?;
    Ok((items, sources))
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let c = Cursor { before_id: 42 };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        for bad in ["", "42", "djEuLTE", "!!!", "djEuYWJj"] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn like_escapes() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
