//! The image step of media archiving: decode a download safely (its format
//! sniffed by `media::sniff`), apply its orientation, fit it to WebP's
//! limits and re-encode it as WebP.
//!
//! Everything here is pure and CPU-bound: no I/O, no async. Callers run
//! [`transcode`] inside `tokio::task::spawn_blocking` and parallelise across
//! jobs, not inside one image (libwebp runs single-threaded here).
//!
//! # What goes in, what comes out
//!
//! - The format is decided from **magic bytes only** ([`sniff`]), never from a
//!   `Content-Type` header. HTML, JSON, empty bodies, videos and unknown bytes
//!   are [`ImageError::NotAnImage`]; SVG, HEIC/AVIF, TIFF and the other
//!   formats the `image` crate can recognise but we do not decode are
//!   [`ImageError::Unsupported`].
//! - Supported sources: JPEG, PNG (incl. 16-bit, grayscale, palette, alpha;
//!   an APNG is treated as its still default image), GIF, WebP, BMP.
//! - Still images are decoded, EXIF orientation is applied
//!   ([`image::ImageDecoder::orientation`]), the pixels are converted to 8-bit
//!   RGB (no alpha channel) or RGBA (alpha channel present), and the result is
//!   encoded with libwebp 1.6 (`vaultstream-webp`): lossy at [`ImageOptions::quality`]
//!   with [`ImageOptions::method`], or lossless when the quality is 100.
//!   Metadata (EXIF, XMP, ICC profiles) is not carried over.
//! - A still WebP source is **re-encoded** like any other still image, so the
//!   output is uniform: same quality setting, orientation applied, metadata
//!   stripped.
//! - WebP cannot exceed 16383 pixels on either side: larger images (a long
//!   1080×30000 screenshot) are downscaled to fit, keeping the aspect ratio,
//!   within [`ImageOptions::max_alloc_bytes`] (`super::encode`).
//!
//! # Animations
//!
//! - An **animated GIF** becomes an **animated WebP** at the same
//!   quality/method as stills (`media::gif`: frame delays, loop count).
//! - Memory is bounded: all frames are held decoded at once, so when
//!   `frames × width × height × 4` would exceed
//!   [`ImageOptions::max_alloc_bytes`], or the canvas is wider/taller than
//!   WebP allows, or any frame fails to decode after the first, or the
//!   animation encoder fails, the **original GIF bytes are kept as they are**
//!   (`ext` "gif", `mime` "image/gif", `animated` true).
//! - An **animated WebP** source is kept as-is (`ext` "webp").
//! - A single-frame GIF is transcoded like a still image.
//!
//! # Decompression bombs
//!
//! The header is read first (`ImageReader::into_decoder` → `dimensions()`);
//! `width × height > max_pixels` is refused with [`ImageError::TooLarge`]
//! before any pixel buffer exists. `image::Limits` (`max_image_width/height`
//! = `max_pixels`, `max_alloc` = [`ImageOptions::max_alloc_bytes`]) bound the
//! decoders as well. An animated GIF's frames are counted by walking its
//! block structure (no decoding) before any frame is decoded. libwebp's own
//! working memory (about 5–6 bytes a pixel while encoding) comes on top of
//! these bounds; at most 16383² pixels reach it.
//!
//! # Broken input
//!
//! No input panics: every decoder error maps to [`ImageError::Corrupt`] or
//! [`ImageError::Unsupported`], and a panic inside a decoder is caught
//! (`catch_unwind`, the workspace builds with unwinding) and reported as
//! [`ImageError::Corrupt`]. A JPEG without an end-of-image marker after its
//! scan data is refused as truncated: `zune-jpeg` would otherwise decode a
//! cut-off download with the missing part filled in grey. PNG, GIF, WebP and
//! BMP decoders report truncation themselves.

use std::fmt;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// Sniffing has its own module (the media job uses it for videos too); the
/// image step's callers know it by this path as well.
pub use super::sniff::{Sniffed, sniff};
use super::sniff::{is_heif, jpeg_is_truncated, looks_like_svg, webp_frame_count};
use super::stages::{Clock, Stage, StageTimes};
use super::{encode, gif};

/// Head room on top of the decoded pixel buffer for decoder working memory.
const DECODER_SLACK_BYTES: u64 = 64 << 20;

/// The largest pixel `image` decodes our formats to: 16-bit RGBA.
const MAX_DECODED_BYTES_PER_PIXEL: u64 = 8;

/// How images are encoded and how much they may cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOptions {
    /// 0..=100; 100 encodes lossless.
    pub quality: u8,
    /// libwebp method 0..=6 (speed/size trade-off; 6 is slowest and smallest).
    pub method: u8,
    /// Largest `width × height` accepted (after reading only the header).
    pub max_pixels: u64,
    /// Bound on decoder allocations (`image::Limits::max_alloc`), on the
    /// resize intermediate, and on the decoded frames of an animation.
    pub max_alloc_bytes: u64,
}

impl ImageOptions {
    /// Options from the media settings.
    ///
    /// `max_alloc_bytes = max_pixels × 8 + 64 MiB`: 8 bytes is the largest
    /// pixel our decoders produce (16-bit RGBA PNG), so every image within
    /// `max_pixels` can be decoded whatever its bit depth, and 64 MiB covers
    /// the decoders' own working buffers. With the default 100 MP that is
    /// about 864 MiB for one image.
    pub fn from_settings(m: &vaultstream_core::settings::MediaSettings) -> Self {
        Self {
            quality: m.webp_quality.min(100),
            method: m.webp_method.min(6),
            max_pixels: m.max_pixels,
            max_alloc_bytes: alloc_bound(m.max_pixels),
        }
    }
}

fn alloc_bound(max_pixels: u64) -> u64 {
    max_pixels
        .saturating_mul(MAX_DECODED_BYTES_PER_PIXEL)
        .saturating_add(DECODER_SLACK_BYTES)
}

/// The result of [`transcode`].
#[derive(Clone, PartialEq, Eq)]
pub struct Transcoded {
    pub bytes: Vec<u8>,
    /// "webp", or "gif" when an animated GIF was kept as it was.
    pub ext: &'static str,
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
    pub animated: bool,
    /// "jpeg", "png", "gif", "webp" or "bmp".
    pub source_format: &'static str,
    /// 1 for still images.
    pub frames: u32,
}

impl fmt::Debug for Transcoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transcoded")
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("ext", &self.ext)
            .field("mime", &self.mime)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("animated", &self.animated)
            .field("source_format", &self.source_format)
            .field("frames", &self.frames)
            .finish()
    }
}

/// Why an image could not be archived. [`ImageError::code`] is stable.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("not an image: {0}")]
    NotAnImage(String),
    #[error("unsupported image: {0}")]
    Unsupported(String),
    #[error(
        "image too large to process: {width}×{height} pixels (limit {max_pixels} pixels \
         and the matching memory bound)"
    )]
    TooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },
    #[error("corrupt image: {0}")]
    Corrupt(String),
    #[error("WebP encoding failed: {0}")]
    Encode(String),
}

impl ImageError {
    /// A stable snake_case code for logs, metrics and the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAnImage(_) => "not_an_image",
            Self::Unsupported(_) => "unsupported_image",
            Self::TooLarge { .. } => "image_too_large",
            Self::Corrupt(_) => "corrupt_image",
            Self::Encode(_) => "encode_failed",
        }
    }
}

/// Decode `bytes` (format from magic bytes) and re-encode as WebP; see the
/// module docs for animations and limits. Never panics.
pub fn transcode(bytes: &[u8], opts: &ImageOptions) -> Result<Transcoded, ImageError> {
    transcode_timed(bytes, opts, &mut StageTimes::default())
}

/// [`transcode`], adding the time of each stage to `times`.
pub fn transcode_timed(
    bytes: &[u8],
    opts: &ImageOptions,
    times: &mut StageTimes,
) -> Result<Transcoded, ImageError> {
    let mut clock = Clock::start(times);
    match catch_unwind(AssertUnwindSafe(|| {
        transcode_inner(bytes, opts, &mut clock)
    })) {
        Ok(result) => result,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(ImageError::Corrupt(format!("the decoder crashed: {msg}")))
        }
    }
}

fn transcode_inner(
    bytes: &[u8],
    opts: &ImageOptions,
    clock: &mut Clock<'_>,
) -> Result<Transcoded, ImageError> {
    let not_an_image = |msg: String| Err(ImageError::NotAnImage(msg));
    let format = match sniff(bytes) {
        Sniffed::Image(format) => format,
        Sniffed::Html => return not_an_image("the server sent an HTML page, not an image".into()),
        Sniffed::Json => return not_an_image("the server sent JSON, not an image".into()),
        Sniffed::Empty => return not_an_image("the server sent an empty body".into()),
        Sniffed::Video(ext) => {
            return not_an_image(format!("the file is a video ({ext}), not an image"));
        }
        Sniffed::Unknown if looks_like_svg(bytes) => {
            return Err(ImageError::Unsupported(
                "SVG images are not supported".into(),
            ));
        }
        Sniffed::Unknown if is_heif(bytes) => {
            return Err(ImageError::Unsupported(
                "HEIC/HEIF images are not supported".into(),
            ));
        }
        Sniffed::Unknown => {
            return not_an_image("the data is not in any known image format".into());
        }
    };
    let source_format = match format {
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Png => "png",
        ImageFormat::Gif => "gif",
        ImageFormat::WebP => "webp",
        ImageFormat::Bmp => "bmp",
        other => {
            let name = other.extensions_str().first().copied().unwrap_or("this");
            return Err(ImageError::Unsupported(format!(
                "{} images are not supported",
                name.to_ascii_uppercase()
            )));
        }
    };
    match format {
        ImageFormat::Gif => transcode_gif(bytes, opts, clock),
        ImageFormat::WebP => transcode_webp(bytes, opts, clock),
        _ => transcode_still(bytes, format, source_format, opts, clock),
    }
}

fn limits(opts: &ImageOptions) -> Limits {
    let side = u32::try_from(opts.max_pixels).unwrap_or(u32::MAX);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(opts.max_alloc_bytes);
    limits
}

fn too_large(width: u32, height: u32, opts: &ImageOptions) -> ImageError {
    ImageError::TooLarge {
        width,
        height,
        max_pixels: opts.max_pixels,
    }
}

/// Refuse zero-size and over-limit images from their header dimensions.
fn check_dimensions(width: u32, height: u32, opts: &ImageOptions) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt(format!(
            "the image declares a size of {width}×{height} pixels"
        )));
    }
    if u64::from(width) * u64::from(height) > opts.max_pixels {
        return Err(too_large(width, height, opts));
    }
    Ok(())
}

fn map_image_error(e: image::ImageError, dims: (u32, u32), opts: &ImageOptions) -> ImageError {
    match e {
        image::ImageError::Limits(_) => too_large(dims.0, dims.1, opts),
        image::ImageError::Unsupported(e) => ImageError::Unsupported(e.to_string()),
        image::ImageError::IoError(e) => {
            ImageError::Corrupt(format!("the image data is truncated or unreadable: {e}"))
        }
        other => ImageError::Corrupt(other.to_string()),
    }
}

/// A decoder refused the header because of a limit: read the dimensions
/// again without the size limits (header only) to report them.
fn refused_by_limits(bytes: &[u8], format: ImageFormat, opts: &ImageOptions) -> ImageError {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut header_limits = Limits::no_limits();
    header_limits.max_alloc = Some(opts.max_alloc_bytes);
    reader.limits(header_limits);
    let (w, h) = reader.into_dimensions().unwrap_or((0, 0));
    too_large(w, h, opts)
}

fn transcode_still(
    bytes: &[u8],
    format: ImageFormat,
    source_format: &'static str,
    opts: &ImageOptions,
    clock: &mut Clock<'_>,
) -> Result<Transcoded, ImageError> {
    if format == ImageFormat::Jpeg && jpeg_is_truncated(bytes) {
        // zune-jpeg would fill the missing part with grey: refuse instead.
        return Err(ImageError::Corrupt(
            "the JPEG is truncated (no end-of-image marker after the image data)".into(),
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits(opts));
    let mut decoder = match reader.into_decoder() {
        Ok(decoder) => decoder,
        // Over max_image_width/height, or (PNG) ancillary chunks beyond max_alloc.
        Err(image::ImageError::Limits(_)) => return Err(refused_by_limits(bytes, format, opts)),
        Err(e) => return Err(map_image_error(e, (0, 0), opts)),
    };
    let dims = decoder.dimensions();
    check_dimensions(dims.0, dims.1, opts)?;
    if decoder.total_bytes() > opts.max_alloc_bytes {
        return Err(too_large(dims.0, dims.1, opts));
    }
    // A broken EXIF block is not worth refusing the picture for.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img =
        DynamicImage::from_decoder(decoder).map_err(|e| map_image_error(e, dims, opts))?;
    clock.mark(Stage::Decode);
    img.apply_orientation(orientation);
    encode_still(img, source_format, opts, clock)
}

/// Encode a decoded still (see [`encode::encode_still`]).
fn encode_still(
    img: DynamicImage,
    source_format: &'static str,
    opts: &ImageOptions,
    clock: &mut Clock<'_>,
) -> Result<Transcoded, ImageError> {
    let (bytes, width, height) =
        encode::encode_still(img, opts.quality, opts.method, opts.max_alloc_bytes, clock)
            .map_err(ImageError::Encode)?;
    Ok(Transcoded {
        bytes,
        ext: "webp",
        mime: "image/webp",
        width,
        height,
        animated: false,
        source_format,
        frames: 1,
    })
}

// ---------------------------------------------------------------- WebP input

/// A still WebP is re-encoded like any still image; an animated one is kept.
fn transcode_webp(
    bytes: &[u8],
    opts: &ImageOptions,
    clock: &mut Clock<'_>,
) -> Result<Transcoded, ImageError> {
    let decoder =
        WebPDecoder::new(Cursor::new(bytes)).map_err(|e| map_image_error(e, (0, 0), opts))?;
    if !decoder.has_animation() {
        return transcode_still(bytes, ImageFormat::WebP, "webp", opts, clock);
    }
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, opts)?;
    let frames = webp_frame_count(bytes).max(1);
    Ok(Transcoded {
        bytes: bytes.to_vec(),
        ext: "webp",
        mime: "image/webp",
        width,
        height,
        animated: true,
        source_format: "webp",
        frames,
    })
}

// ----------------------------------------------------------------- GIF input

/// A GIF of one frame is a still; an animated one becomes an animated WebP
/// ([`super::gif`]) within the memory bound, or is kept as it is.
fn transcode_gif(
    bytes: &[u8],
    opts: &ImageOptions,
    clock: &mut Clock<'_>,
) -> Result<Transcoded, ImageError> {
    let mut decoder =
        GifDecoder::new(Cursor::new(bytes)).map_err(|e| map_image_error(e, (0, 0), opts))?;
    let (width, height) = decoder.dimensions();
    decoder
        .set_limits(limits(opts))
        .map_err(|e| map_image_error(e, (width, height), opts))?;
    check_dimensions(width, height, opts)?;
    let scan = gif::scan_gif(bytes);
    if scan.frames <= 1 {
        let img = DynamicImage::from_decoder(decoder)
            .map_err(|e| map_image_error(e, (width, height), opts))?;
        clock.mark(Stage::Decode);
        return encode_still(img, "gif", opts, clock);
    }
    let keep = || Transcoded {
        bytes: bytes.to_vec(),
        ext: "gif",
        mime: "image/gif",
        width,
        height,
        animated: true,
        source_format: "gif",
        frames: scan.frames,
    };
    let frame_bytes = u64::from(width) * u64::from(height) * 4;
    let budget_frames = opts.max_alloc_bytes / frame_bytes.max(1);
    if u64::from(scan.frames) > budget_frames
        || width > encode::MAX_DIMENSION
        || height > encode::MAX_DIMENSION
    {
        return Ok(keep());
    }
    let mut frames = match gif::decode_frames(decoder, width, height, budget_frames) {
        Ok(gif::Frames::Decoded(frames)) => frames,
        Ok(gif::Frames::Keep) => return Ok(keep()),
        Err(e) => return Err(map_image_error(e, (width, height), opts)),
    };
    clock.mark(Stage::Decode);
    match frames.len() {
        0 => Err(ImageError::Corrupt("the GIF has no decodable frame".into())),
        1 => {
            let (buffer, _) = frames.pop().unwrap_or_default();
            encode_still(DynamicImage::ImageRgba8(buffer), "gif", opts, clock)
        }
        n => {
            let loop_count = scan.loop_count.unwrap_or(1);
            let settings = encode::settings(opts.quality, opts.method);
            let encoded = gif::encode_animation(&frames, width, height, loop_count, &settings);
            clock.mark(Stage::Encode);
            match encoded {
                Some(bytes) => Ok(Transcoded {
                    bytes,
                    ext: "webp",
                    mime: "image/webp",
                    width,
                    height,
                    animated: true,
                    source_format: "gif",
                    frames: u32::try_from(n).unwrap_or(u32::MAX),
                }),
                None => Ok(keep()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_gif_survives_garbage() {
        use super::gif::scan_gif;
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let _ = scan_gif(&junk);
            let _ = webp_frame_count(&junk);
        }
        let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        let _ = scan_gif(&gif);
        gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0x87]);
        assert_eq!(scan_gif(&gif).frames, 1);
    }
}
