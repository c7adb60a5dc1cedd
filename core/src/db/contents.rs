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
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

pub use super::batch::{NewSource, SUBMIT_PG, Submitted};
use super::entities::{content, content_source, content_tag};
use crate::content::{ContentView, MediaView, SourceView, Status};
use crate::platform::{Identity, Platform};
use crate::status::MediaStatus;

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
    /// The item's kind (`video`, `post`, ...).
    pub kind: Option<crate::platform::ContentKind>,
    /// The author's name or platform id, exactly.
    pub author: Option<String>,
    /// Only the items whose id this subquery selects: its SQL, with the
    /// backend's placeholders counted from one, and their values (a feed's
    /// search, from `search::matching_ids`), still newest first.
    pub ids_in: Option<(String, Vec<sea_orm::Value>)>,
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
    let mut rows = content::Entity::find()
        .filter(condition(f))
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

/// The WHERE of [`list`] (every filter but `limit`), for queries that
/// need the same selection (feeds, and the blobs a feed may show).
pub fn condition(f: &ListFilter) -> Condition {
    let mut cond = Condition::all();
    if let Some((sub, values)) = &f.ids_in {
        cond = cond.add(Expr::cust_with_values(
            format!("contents.id IN ({sub})"),
            values.clone(),
        ));
    }
    if let Some(k) = f.kind {
        cond = cond.add(content::Column::Kind.eq(k.as_str()));
    }
    if let Some(a) = f.author.as_deref().filter(|a| !a.is_empty()) {
        cond = cond.add(
            Condition::any()
                .add(content::Column::AuthorName.eq(a))
                .add(content::Column::AuthorId.eq(a)),
        );
    }
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
    cond
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
