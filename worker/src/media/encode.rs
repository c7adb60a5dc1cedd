//! Writing WebP with libwebp 1.6 (`vaultstream-webp`): the encoder settings, 8-bit
//! pixels, and WebP's size limit (16383 pixels a side: larger images are
//! downscaled to fit, keeping the aspect ratio).
//!
//! The resize uses Lanczos3, whose `image` implementation keeps a
//! `width × new_height` RGBA f32 intermediate (16 bytes a pixel); when that
//! would pass the caller's memory bound the cheaper area-averaging
//! `thumbnail` resampler (no intermediate buffer) is used instead.

use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView};
use vaultstream_webp::Layout;

use super::stages::{Clock, Stage};

/// WebP's largest width or height.
pub(super) const MAX_DIMENSION: u32 = vaultstream_webp::MAX_DIMENSION;

/// libwebp settings: lossy at `quality` (0..=99) with `method` (0..=6), or
/// lossless when the quality is 100; single-threaded (callers parallelise
/// across jobs, one encode per core).
pub(super) fn settings(quality: u8, method: u8) -> vaultstream_webp::Settings {
    vaultstream_webp::Settings {
        quality: quality.min(100),
        method: method.min(6),
        threads: false,
    }
}

/// A still image as WebP: 8-bit RGB (RGBA when it has alpha), fitted to
/// [`MAX_DIMENSION`] within `max_alloc_bytes`. Returns the bytes and the
/// encoded size; an error is libwebp's, as text.
pub(super) fn encode_still(
    img: DynamicImage,
    quality: u8,
    method: u8,
    max_alloc_bytes: u64,
    clock: &mut Clock<'_>,
) -> Result<(Vec<u8>, u32, u32), String> {
    let img = to_8bit(img);
    let img = fit(img, max_alloc_bytes);
    clock.mark(Stage::Transform);
    let (width, height) = img.dimensions();
    let settings = settings(quality, method);
    let converted;
    let (pixels, layout) = match &img {
        DynamicImage::ImageRgb8(buf) => (buf.as_raw(), Layout::Rgb),
        DynamicImage::ImageRgba8(buf) => (buf.as_raw(), Layout::Rgba),
        other => {
            // Not reached: `to_8bit` returns RGB8 or RGBA8.
            converted = other.to_rgba8();
            (converted.as_raw(), Layout::Rgba)
        }
    };
    let bytes = vaultstream_webp::encode(pixels, layout, width, height, &settings)
        .map_err(|e| e.to_string())?;
    clock.mark(Stage::Encode);
    Ok((bytes, width, height))
}

/// 8-bit RGBA when there is an alpha channel, 8-bit RGB otherwise.
fn to_8bit(img: DynamicImage) -> DynamicImage {
    match img {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => img,
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.into_rgba8()),
        other => DynamicImage::ImageRgb8(other.into_rgb8()),
    }
}

/// Target size fitting [`MAX_DIMENSION`], keeping the aspect ratio.
fn fitted_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= MAX_DIMENSION {
        return (width, height);
    }
    let scale = |side: u32| -> u32 {
        let scaled =
            (u64::from(side) * u64::from(MAX_DIMENSION) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled)
            .unwrap_or(MAX_DIMENSION)
            .clamp(1, MAX_DIMENSION)
    };
    (scale(width), scale(height))
}

fn fit(img: DynamicImage, max_alloc_bytes: u64) -> DynamicImage {
    let (width, height) = img.dimensions();
    let (new_w, new_h) = fitted_size(width, height);
    if (new_w, new_h) == (width, height) {
        return img;
    }
    // `imageops::resize` samples vertically first into an RGBA f32 buffer of
    // width × new_height.
    let intermediate = u64::from(width) * u64::from(new_h) * 16;
    if intermediate <= max_alloc_bytes {
        img.resize_exact(new_w, new_h, FilterType::Lanczos3)
    } else {
        img.thumbnail_exact(new_w, new_h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_size_keeps_aspect() {
        assert_eq!(fitted_size(1000, 20000), (819, 16383));
        assert_eq!(fitted_size(30000, 1), (16383, 1));
        assert_eq!(fitted_size(16383, 16383), (16383, 16383));
    }
}
