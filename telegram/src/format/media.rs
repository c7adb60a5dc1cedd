//! Which archived files go with an item's message: a video, an album, one
//! photo, or none (a text message).
//!
//! - An article: its cover (else its first picture) as one photo — the
//!   message is a teaser with a link, not the article's gallery.
//! - Anything else: an archived video that Telegram takes (with the
//!   caption); else up to 10 archived pictures in order — for a whole post
//!   (a thread) every part's pictures, part by part — as an album; else
//!   one photo; else text.

use vaultstream_core::content::{ContentView, MediaView};
use vaultstream_core::status::MediaStatus;

/// The Bot API's upload limits.
pub const MAX_PHOTO_BYTES: i64 = 10 * 1024 * 1024;
pub const MAX_VIDEO_BYTES: i64 = 50 * 1024 * 1024;
/// sendMediaGroup takes 2..=10 items.
pub const MAX_ALBUM: usize = 10;

/// What to send for an item.
#[derive(Debug, Clone)]
pub enum Shape {
    Text,
    Photo(MediaView),
    Album(Vec<MediaView>),
    Video(MediaView),
}

fn archived(m: &&MediaView) -> bool {
    m.status == MediaStatus::Archived && m.blob_key.is_some()
}

fn sendable_picture(m: &&MediaView) -> bool {
    archived(m)
        && (m.role == "image" || m.role == "cover")
        && m.mime.as_deref().is_some_and(|t| t.starts_with("image/"))
        && m.bytes.is_some_and(|b| b <= MAX_PHOTO_BYTES)
}

/// The files to send with the item's message.
pub fn shape(item: &ContentView) -> Shape {
    let media = item.media.as_deref().unwrap_or_default();
    if item.kind == "article" {
        let pictures: Vec<&MediaView> = media.iter().filter(sendable_picture).collect();
        return pictures
            .iter()
            .find(|m| m.role == "cover")
            .or(pictures.first())
            .map_or(Shape::Text, |m| Shape::Photo((*m).clone()));
    }
    if let Some(v) = media.iter().filter(archived).find(|m| {
        m.role == "video"
            && m.mime.as_deref().is_some_and(|t| t.starts_with("video/"))
            && m.bytes.is_some_and(|b| b <= MAX_VIDEO_BYTES)
    }) {
        return Shape::Video(v.clone());
    }
    let mut pictures: Vec<&MediaView> = media.iter().filter(sendable_picture).collect();
    // Part by part (the item's own files first); the item's order within.
    pictures.sort_by_key(|m| m.part.map_or(-1, i64::from));
    // A video's cover alone next to images is noise: prefer the images.
    if pictures.iter().any(|m| m.role == "image") {
        pictures.retain(|m| m.role == "image");
    }
    let mut pictures: Vec<MediaView> = pictures.into_iter().take(MAX_ALBUM).cloned().collect();
    match pictures.len() {
        0 => Shape::Text,
        1 => Shape::Photo(pictures.remove(0)),
        _ => Shape::Album(pictures),
    }
}
