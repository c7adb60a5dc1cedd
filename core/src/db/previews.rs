//! What a card in a list shows of an item's media: its picture (the first
//! archived cover, else the first archived image, with its size so a page
//! can reserve the space before it loads) and how many images and videos
//! it has. One query for a whole page of items.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::entities::media;
use crate::status::MediaStatus;

/// The picture of a card.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewImage {
    /// Where the archived file is (`/blobs/…`, absolute on the API).
    pub url: String,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub mime: Option<String>,
}

/// An item's media, summed up for a card.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preview {
    /// The first archived cover, else the first archived image; null when
    /// none is archived (yet).
    pub image: Option<PreviewImage>,
    /// Image and cover files, archived or not.
    pub images: u32,
    /// Video files, archived or not.
    pub videos: u32,
}

/// The previews of these items (items without media are absent).
pub async fn of<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<HashMap<i64, Preview>, DbErr> {
    let mut out: HashMap<i64, Preview> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = media::Entity::find()
        .filter(media::Column::ContentId.is_in(ids.iter().copied()))
        .order_by_asc(media::Column::ContentId)
        .order_by_asc(media::Column::Position)
        .all(db)
        .await?;
    // Per item: the first archived cover, the first archived image.
    let mut firsts: HashMap<i64, (Option<PreviewImage>, Option<PreviewImage>)> = HashMap::new();
    for m in rows {
        let p = out.entry(m.content_id).or_default();
        let picture = match m.role.as_str() {
            "video" => {
                p.videos += 1;
                continue;
            }
            "cover" | "image" => {
                p.images += 1;
                m.role == "cover"
            }
            _ => continue,
        };
        let (Some(key), MediaStatus::Archived) = (m.blob_key, m.status) else {
            continue;
        };
        let image = PreviewImage {
            url: format!("/{key}"),
            width: m.width,
            height: m.height,
            mime: m.mime,
        };
        let slot = firsts.entry(m.content_id).or_default();
        let place = if picture { &mut slot.0 } else { &mut slot.1 };
        if place.is_none() {
            *place = Some(image);
        }
    }
    for (id, (cover, image)) in firsts {
        if let Some(p) = out.get_mut(&id) {
            p.image = cover.or(image);
        }
    }
    Ok(out)
}
