//! Editing an item's tags after the fact (the library page's tag editor).
//!
//! `content_tags` holds the item's tags: the union of what its submissions
//! said, until someone edits them. [`replace`] makes the set exactly the
//! given one: tags that stay keep their place (their `created_at`, which
//! orders them), removed ones go, new ones come last. Each submission keeps
//! the tags it came with in `content_sources.tags` (its history). The
//! search document is rewritten in the same transaction, so `tag:` filters
//! and the index never disagree with the item.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

use super::entities::{content, content_tag};

/// Replace the tags of item `id` with `tags` (already normalised, see
/// `content::normalise_tags`). `None` when there is no such item; else the
/// item's tags afterwards, in the order every view shows them.
pub async fn replace(
    db: &DatabaseConnection,
    id: i64,
    tags: &[String],
) -> Result<Option<Vec<String>>, DbErr> {
    let txn = super::begin_write(db).await?;
    if content::Entity::find_by_id(id).one(&txn).await?.is_none() {
        return Ok(None);
    }
    content_tag::Entity::delete_many()
        .filter(content_tag::Column::ContentId.eq(id))
        .filter(content_tag::Column::Tag.is_not_in(tags.iter().cloned()))
        .exec(&txn)
        .await?;
    if !tags.is_empty() {
        let now = Utc::now();
        let rows = tags.iter().map(|t| content_tag::ActiveModel {
            content_id: Set(id),
            tag: Set(t.clone()),
            created_at: Set(now),
        });
        content_tag::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([content_tag::Column::ContentId, content_tag::Column::Tag])
            .exec_without_returning(&txn)
            .await?;
    }
    super::search::index_item(&txn, id).await?;
    let now_tags = of(&txn, id).await?;
    txn.commit().await?;
    Ok(Some(now_tags))
}

/// The tags of one item, oldest first (as every view orders them).
pub async fn of<C: ConnectionTrait>(db: &C, id: i64) -> Result<Vec<String>, DbErr> {
    Ok(content_tag::Entity::find()
        .filter(content_tag::Column::ContentId.eq(id))
        .order_by_asc(content_tag::Column::CreatedAt)
        .order_by_asc(content_tag::Column::Tag)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.tag)
        .collect())
}
