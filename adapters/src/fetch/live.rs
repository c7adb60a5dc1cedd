//! Live photos: a still picture with a short motion clip (Douyin image
//! notes, Xiaohongshu notes, Bilibili opus pictures).
//!
//! The still stays an image in its place among the pictures; the clip is a
//! video after all pictures (media order: cover, images, videos), and the
//! item's `fields.live_photos` pairs them, in picture order:
//! `[{"image": "<still URL>", "video": "<clip URL>"}, …]`.

use serde_json::{Value, json};
use vaultstream_core::parsed::{MediaRef, MediaRole};

/// Collects the clips while the pictures are read, then appends them.
#[derive(Default)]
pub(crate) struct LivePhotos {
    pairs: Vec<(String, MediaRef)>,
}

impl LivePhotos {
    /// The clip `video` belongs to the still at `image`.
    pub fn push(&mut self, image: &str, video: MediaRef) {
        debug_assert_eq!(video.role, MediaRole::Video);
        self.pairs.push((image.to_owned(), video));
    }

    /// Append the clips to `media` and put the pairs under
    /// `fields.live_photos` (nothing when there are none).
    pub fn finish(
        self,
        media: &mut Vec<MediaRef>,
        fields: &mut std::collections::BTreeMap<String, Value>,
    ) {
        if self.pairs.is_empty() {
            return;
        }
        let pairs: Vec<Value> = self
            .pairs
            .iter()
            .map(|(image, video)| json!({"image": image, "video": video.url}))
            .collect();
        fields.insert("live_photos".to_owned(), Value::Array(pairs));
        media.extend(self.pairs.into_iter().map(|(_, v)| v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::media;

    #[test]
    fn clips_follow_the_pictures_and_are_paired() {
        let mut list = vec![media(MediaRole::Image, "https://a/1.jpg")];
        let mut fields = Default::default();
        let mut live = LivePhotos::default();
        live.push(
            "https://a/1.jpg",
            media(MediaRole::Video, "https://a/1.mov"),
        );
        live.finish(&mut list, &mut fields);
        assert_eq!(list[1].url, "https://a/1.mov");
        assert_eq!(
            fields.get("live_photos"),
            Some(&json!([{"image": "https://a/1.jpg", "video": "https://a/1.mov"}]))
        );

        let mut none = Vec::new();
        let mut fields = Default::default();
        LivePhotos::default().finish(&mut none, &mut fields);
        assert!(none.is_empty() && fields.is_empty());
    }
}
