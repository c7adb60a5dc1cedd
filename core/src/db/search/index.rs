//! Writing the index: one document per item (title, text and every
//! part, author, tags, platform, notes), tokenised by the `search` crate.

use std::collections::HashMap;

use chrono::Utc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
};
use vaultstream_search::render::{Field, index};

use super::super::entities::{content, content_source, content_tag};

/// The text of one item's fields, as indexed and highlighted.
pub(super) struct Doc {
    pub(super) fields: Vec<(Field, String)>,
}

impl Doc {
    pub(super) fn of(item: &content::Model, tags: &[String], notes: &[String]) -> Doc {
        let mut text = item.text.clone().unwrap_or_default();
        if let Some(parts) = item.parts.as_ref().and_then(|p| p.as_array()) {
            for p in parts {
                for key in ["title", "text"] {
                    if let Some(s) = p.get(key).and_then(|v| v.as_str()) {
                        // A thread's text is already the joined parts:
                        // index each part once.
                        if !text.contains(s) {
                            text.push_str("\n\n");
                            text.push_str(s);
                        }
                    }
                }
            }
        }
        let author = [item.author_name.as_deref(), item.author_id.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        Doc {
            fields: vec![
                (Field::Title, item.title.clone().unwrap_or_default()),
                (Field::Text, text),
                (Field::Author, author),
                (
                    Field::Tags,
                    tags.iter()
                        .map(|t| format!("#{t}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                (Field::Platform, item.platform.clone()),
                (Field::Notes, notes.join("\n")),
            ],
        }
    }

    fn refs(&self) -> Vec<(Field, &str)> {
        self.fields.iter().map(|(f, s)| (*f, s.as_str())).collect()
    }
}

pub(super) async fn tags_and_notes<C: ConnectionTrait>(
    db: &C,
    ids: &[i64],
) -> Result<(HashMap<i64, Vec<String>>, HashMap<i64, Vec<String>>), DbErr> {
    use sea_orm::ColumnTrait;
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    let mut notes: HashMap<i64, Vec<String>> = HashMap::new();
    for t in content_tag::Entity::find()
        .filter(content_tag::Column::ContentId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        tags.entry(t.content_id).or_default().push(t.tag);
    }
    for s in content_source::Entity::find()
        .filter(content_source::Column::ContentId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        if let Some(n) = s.note {
            notes.entry(s.content_id).or_default().push(n);
        }
    }
    Ok((tags, notes))
}

/// Tokenise items into documents, on every core when there are many
/// (tokenising is the expensive part of indexing; writes stay one
/// transaction).
fn documents(
    items: &[content::Model],
    tags: &HashMap<i64, Vec<String>>,
    notes: &HashMap<i64, Vec<String>>,
) -> Vec<(i64, vaultstream_search::Indexed)> {
    let none = Vec::new();
    let one = |item: &content::Model| {
        let doc = Doc::of(
            item,
            tags.get(&item.id).unwrap_or(&none),
            notes.get(&item.id).unwrap_or(&none),
        );
        (item.id, index(&doc.refs()))
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if items.len() < 64 || threads < 2 {
        return items.iter().map(one).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(docs) => docs,
                Err(_) => {
                    tracing::error!("tokenising a batch of items panicked; they stay unindexed");
                    Vec::new()
                }
            })
            .collect()
    })
}

/// (Re)write the search documents of these items.
pub async fn index_items<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<usize, DbErr> {
    use sea_orm::ColumnTrait;
    if ids.is_empty() {
        return Ok(0);
    }
    let items = content::Entity::find()
        .filter(content::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    let (tags, notes) = tags_and_notes(db, ids).await?;
    let backend = db.get_database_backend();
    let now = Utc::now();
    for (id, indexed) in documents(&items, &tags, &notes) {
        let stmt = match backend {
            DbBackend::Postgres => Statement::from_sql_and_values(
                backend,
                "INSERT INTO search_docs (content_id, tsv, norm, indexed_at) \
                 VALUES ($1, $2::tsvector, $3, $4) ON CONFLICT (content_id) DO UPDATE \
                 SET tsv = excluded.tsv, norm = excluded.norm, indexed_at = excluded.indexed_at",
                [
                    id.into(),
                    indexed.tsvector.into(),
                    indexed.norm.into(),
                    now.into(),
                ],
            ),
            _ => Statement::from_sql_and_values(
                backend,
                "INSERT INTO search_docs (content_id, terms, norm, indexed_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (content_id) DO UPDATE \
                 SET terms = excluded.terms, norm = excluded.norm, indexed_at = excluded.indexed_at",
                [
                    id.into(),
                    indexed.terms.into(),
                    indexed.norm.into(),
                    now.into(),
                ],
            ),
        };
        db.execute_raw(stmt).await?;
    }
    Ok(items.len())
}

/// (Re)write one item's search document.
pub async fn index_item<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DbErr> {
    index_items(db, &[id]).await.map(|_| ())
}

/// Index every item, `batch` at a time (one transaction per batch),
/// calling `progress(done, total)` after each batch. Returns how many
/// items were indexed.
pub async fn reindex(
    db: &DatabaseConnection,
    batch: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryOrder, QuerySelect, TransactionTrait};
    let total = content::Entity::find().count(db).await?;
    let mut after = 0i64;
    let mut done = 0u64;
    loop {
        let ids: Vec<i64> = content::Entity::find()
            .select_only()
            .column(content::Column::Id)
            .filter(content::Column::Id.gt(after))
            .order_by_asc(content::Column::Id)
            .limit(batch.max(1))
            .into_tuple()
            .all(db)
            .await?;
        let Some(&last) = ids.last() else { break };
        let txn = db.begin().await?;
        done += index_items(&txn, &ids).await? as u64;
        txn.commit().await?;
        after = last;
        progress(done, total.max(done));
    }
    Ok(done)
}
