//! The image step of media archiving: sniff what a download really is, decode
//! it safely, and re-encode it as WebP.
//!
//! Everything here is pure and CPU-bound: no I/O, no async. Callers run
//! [`transcode`] inside `tokio::task::spawn_blocking` and parallelise across
//! jobs, not inside one image (libwebp runs single-threaded here).
//!
//! # What goes in, what comes out
//!
//! - The format is decided from **magic bytes only** ([`sniff`]), never from a
//!   `Content-Type` header: servers send HTML error pages, JSON and videos
//!   with `image/*` types. HTML, JSON, empty bodies, videos and unknown bytes
//!   are [`ImageError::NotAnImage`]; SVG, HEIC/AVIF, TIFF and the other
//!   formats the `image` crate can recognise but we do not decode are
//!   [`ImageError::Unsupported`].
//! - Supported sources: JPEG, PNG (incl. 16-bit, grayscale, palette, alpha;
//!   an APNG is treated as its still default image), GIF, WebP, BMP.
//! - Still images are decoded, EXIF orientation is applied
//!   ([`image::ImageDecoder::orientation`]), the pixels are converted to 8-bit
//!   RGB (no alpha channel) or RGBA (alpha channel present), and the result is
//!   encoded with libwebp (`webp` crate): lossy at [`ImageOptions::quality`]
//!   with [`ImageOptions::method`], or lossless when the quality is 100.
//!   Metadata (EXIF, XMP, ICC profiles) is not carried over.
//! - A still WebP source is **re-encoded** like any other still image, so the
//!   output is uniform: same quality setting, orientation applied, metadata
//!   stripped.
//! - WebP cannot exceed 16383 pixels on either side: larger images (a long
//!   1080×30000 screenshot) are downscaled to fit, keeping the aspect ratio,
//!   with Lanczos3. The `image` resizer keeps a `width × new_height` RGBA f32
//!   intermediate (16 bytes a pixel); when that would exceed
//!   [`ImageOptions::max_alloc_bytes`] the cheaper area-averaging
//!   `thumbnail` resampler (no intermediate buffer) is used instead.
//!
//! # Animations
//!
//! - An **animated GIF** becomes an **animated WebP** (libwebp's `WebPAnimEncoder`
//!   through `webp::AnimEncoder`), at the same quality/method as stills. Frame
//!   delays of 10 ms or less become 100 ms, as browsers play them. The loop
//!   count comes from the GIF's NETSCAPE2.0 extension (absent: play once).
//!   A limitation of `webp` 0.3: the last frame's duration is the average of
//!   the others (exact for the usual constant-delay GIF).
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
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    AnimationDecoder, DynamicImage, GenericImageView, ImageDecoder, ImageFormat, ImageReader,
    Limits,
};

/// WebP's largest width or height.
pub const WEBP_MAX_DIMENSION: u32 = 16383;

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

/// What a body is, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// Any format `image` recognises (including ones [`transcode`] refuses,
    /// such as TIFF or AVIF).
    Image(ImageFormat),
    /// A video container, by file extension: mp4, webm, mkv, mov, flv, ts.
    Video(&'static str),
    Html,
    Json,
    Empty,
    Unknown,
}

/// Classify a body from its magic bytes (pass at least the first 512 bytes
/// for best results; MPEG-TS needs 189). Never looks at a `Content-Type`.
pub fn sniff(head: &[u8]) -> Sniffed {
    if head.is_empty() {
        return Sniffed::Empty;
    }
    // Box-structured video first: a QuickTime `moov` box of size 256 starts
    // with ICO's magic. MPEG-TS's single sync byte comes after the images
    // ("GIF8" starts with 0x47 too).
    if let Some(v) = sniff_video(head) {
        return v;
    }
    if let Some(f) = sniff_image(head) {
        return Sniffed::Image(f);
    }
    if sniff_mpeg_ts(head) {
        return Sniffed::Video("ts");
    }
    let text = skip_bom_and_space(head);
    if text.is_empty() {
        return Sniffed::Empty;
    }
    if looks_like_html(text) {
        return Sniffed::Html;
    }
    if looks_like_json(text) {
        return Sniffed::Json;
    }
    Sniffed::Unknown
}

fn sniff_image(head: &[u8]) -> Option<ImageFormat> {
    // `image` does not know HEIF; an AVIF with an unusual ftyp box size is
    // missed by its mask, so check the brand ourselves.
    if let Some(brand) = ftyp_brand(head) {
        return is_avif(head, brand).then_some(ImageFormat::Avif);
    }
    let format = image::guess_format(head).ok()?;
    match format {
        // "BM" and "P1".."P7" are also the start of plenty of text.
        ImageFormat::Bmp if head.len() >= 18 => {
            let dib = u32::from_le_bytes([head[14], head[15], head[16], head[17]]);
            matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124).then_some(format)
        }
        ImageFormat::Pnm => head
            .get(2)
            .is_some_and(|b| b.is_ascii_whitespace())
            .then_some(format),
        _ => Some(format),
    }
}

/// The major brand of an ISO-BMFF `ftyp` box at the start.
fn ftyp_brand(head: &[u8]) -> Option<&[u8]> {
    (head.len() >= 12 && &head[4..8] == b"ftyp").then(|| &head[8..12])
}

const HEIF_BRANDS: [&[u8]; 9] = [
    b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avci",
];

fn is_avif(head: &[u8], brand: &[u8]) -> bool {
    if brand == b"avif" || brand == b"avis" {
        return true;
    }
    // A generic HEIF brand with "avif" among the compatible brands.
    HEIF_BRANDS.contains(&brand) && compatible_brands(head).any(|b| b == b"avif" || b == b"avis")
}

fn is_heif(head: &[u8]) -> bool {
    ftyp_brand(head).is_some_and(|b| HEIF_BRANDS.contains(&b))
}

fn compatible_brands(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let size = head
        .get(0..4)
        .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize);
    let end = size.clamp(16, head.len().max(16)).min(head.len());
    head.get(16..end).unwrap_or(&[]).chunks_exact(4)
}

fn sniff_video(head: &[u8]) -> Option<Sniffed> {
    if let Some(brand) = ftyp_brand(head) {
        if is_avif(head, brand) || HEIF_BRANDS.contains(&brand) || brand == b"crx " {
            return None; // still images in an ISO-BMFF box
        }
        let ext = if brand == b"qt  " { "mov" } else { "mp4" };
        return Some(Sniffed::Video(ext));
    }
    // Old QuickTime files start with a bare moov/mdat/wide atom.
    if head.len() >= 8 && matches!(&head[4..8], b"moov" | b"mdat" | b"wide" | b"pnot") {
        return Some(Sniffed::Video("mov"));
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        // The EBML header carries a DocType of "webm" or "matroska".
        let window = &head[..head.len().min(64)];
        let webm = window.windows(4).any(|w| w == b"webm");
        return Some(Sniffed::Video(if webm { "webm" } else { "mkv" }));
    }
    if head.starts_with(b"FLV\x01") {
        return Some(Sniffed::Video("flv"));
    }
    None
}

/// MPEG-TS: 188-byte packets, each starting with the 0x47 sync byte; M2TS
/// (Blu-ray) prefixes each packet with a 4-byte timestamp. Two sync bytes a
/// packet apart are required, and a third when the head is long enough.
fn sniff_mpeg_ts(head: &[u8]) -> bool {
    [(0usize, 188usize), (4, 192)]
        .iter()
        .any(|&(first, stride)| {
            let third = head.get(first + 2 * stride);
            head.get(first) == Some(&0x47)
                && head.get(first + stride) == Some(&0x47)
                && (third.is_none() || third == Some(&0x47))
        })
}

fn skip_bom_and_space(head: &[u8]) -> &[u8] {
    let head = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    &head[start..]
}

fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn contains_ignore_case(text: &[u8], needle: &[u8]) -> bool {
    text.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn looks_like_svg(head: &[u8]) -> bool {
    let text = skip_bom_and_space(head);
    text.first() == Some(&b'<') && contains_ignore_case(&text[..text.len().min(4096)], b"<svg")
}

fn looks_like_html(text: &[u8]) -> bool {
    const TAGS: [&[u8]; 17] = [
        b"<!doctype html",
        b"<html",
        b"<head",
        b"<body",
        b"<meta",
        b"<title",
        b"<script",
        b"<style",
        b"<link",
        b"<div",
        b"<p>",
        b"<br",
        b"<h1",
        b"<table",
        b"<iframe",
        b"<noscript",
        b"<center",
    ];
    if TAGS.iter().any(|t| starts_with_ignore_case(text, t)) {
        return true;
    }
    let window = &text[..text.len().min(4096)];
    if starts_with_ignore_case(text, b"<!--") {
        return !contains_ignore_case(window, b"<svg");
    }
    if starts_with_ignore_case(text, b"<?xml") {
        return contains_ignore_case(window, b"<html");
    }
    false
}

fn looks_like_json(text: &[u8]) -> bool {
    let (open, rest) = match text.split_first() {
        Some((&b, rest)) if b == b'{' || b == b'[' => (b, rest),
        _ => return false,
    };
    let next = rest.iter().find(|b| !b.is_ascii_whitespace());
    match (open, next) {
        (_, None) => true,
        (b'{', Some(&c)) => c == b'"' || c == b'}',
        (_, Some(&c)) => matches!(
            c,
            b'{' | b'[' | b'"' | b']' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
        ),
    }
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
    match catch_unwind(AssertUnwindSafe(|| transcode_inner(bytes, opts))) {
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

fn transcode_inner(bytes: &[u8], opts: &ImageOptions) -> Result<Transcoded, ImageError> {
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
        ImageFormat::Gif => transcode_gif(bytes, opts),
        ImageFormat::WebP => transcode_webp(bytes, opts),
        _ => transcode_still(bytes, format, source_format, opts),
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
    img.apply_orientation(orientation);
    encode_still(img, source_format, opts)
}

/// True when a JPEG clearly ends early: the marker segments run out before
/// the first scan, or no EOI marker (FF D9) follows it. Inside entropy-coded
/// data a 0xFF byte is always stuffed (FF 00) or a marker, so FF D9 after the
/// first SOS can only be the end (or a later scan's EOI in a progressive
/// file). Bytes after the EOI are ignored. A structure we cannot walk is left
/// to the decoder.
fn jpeg_is_truncated(b: &[u8]) -> bool {
    let mut pos = 2usize; // after SOI
    loop {
        match b.get(pos) {
            None => return true,
            Some(0xFF) => {}
            Some(_) => return false, // not a marker: let the decoder judge
        }
        while b.get(pos) == Some(&0xFF) {
            pos += 1; // fill bytes
        }
        let Some(&marker) = b.get(pos) else {
            return true;
        };
        match marker {
            0xDA => return !b[pos..].windows(2).any(|w| w == [0xFF, 0xD9]),
            0xD9 => return false, // EOI before any scan: the decoder reports it
            0x01 | 0xD0..=0xD7 => pos += 1, // stand-alone markers
            _ => {
                let Some(len) = b.get(pos + 1..pos + 3) else {
                    return true;
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                pos += 1 + len;
            }
        }
    }
}

fn encode_still(
    img: DynamicImage,
    source_format: &'static str,
    opts: &ImageOptions,
) -> Result<Transcoded, ImageError> {
    let img = to_8bit(img);
    let img = fit_webp_dimensions(img, opts);
    let (width, height) = img.dimensions();
    let config = webp_config(opts)?;
    let converted;
    let encoder = match &img {
        DynamicImage::ImageRgb8(buf) => webp::Encoder::from_rgb(buf.as_raw(), width, height),
        DynamicImage::ImageRgba8(buf) => webp::Encoder::from_rgba(buf.as_raw(), width, height),
        other => {
            // Not reached: `to_8bit` returns RGB8 or RGBA8.
            converted = other.to_rgba8();
            webp::Encoder::from_rgba(converted.as_raw(), width, height)
        }
    };
    let encoded = encoder
        .encode_advanced(&config)
        .map_err(|e| ImageError::Encode(format!("{e:?}")))?;
    let bytes = encoded.to_vec();
    if bytes.is_empty() {
        return Err(ImageError::Encode("libwebp produced no output".into()));
    }
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

/// 8-bit RGBA when there is an alpha channel, 8-bit RGB otherwise.
fn to_8bit(img: DynamicImage) -> DynamicImage {
    match img {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => img,
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.into_rgba8()),
        other => DynamicImage::ImageRgb8(other.into_rgb8()),
    }
}

/// Target size fitting `WEBP_MAX_DIMENSION`, keeping the aspect ratio.
fn fitted_size(width: u32, height: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= WEBP_MAX_DIMENSION {
        return (width, height);
    }
    let scale = |side: u32| -> u32 {
        let scaled = (u64::from(side) * u64::from(WEBP_MAX_DIMENSION) + u64::from(long) / 2)
            / u64::from(long);
        u32::try_from(scaled)
            .unwrap_or(WEBP_MAX_DIMENSION)
            .clamp(1, WEBP_MAX_DIMENSION)
    };
    (scale(width), scale(height))
}

fn fit_webp_dimensions(img: DynamicImage, opts: &ImageOptions) -> DynamicImage {
    let (width, height) = img.dimensions();
    let (new_w, new_h) = fitted_size(width, height);
    if (new_w, new_h) == (width, height) {
        return img;
    }
    // `imageops::resize` samples vertically first into an RGBA f32 buffer of
    // width × new_height.
    let intermediate = u64::from(width) * u64::from(new_h) * 16;
    if intermediate <= opts.max_alloc_bytes {
        img.resize_exact(new_w, new_h, FilterType::Lanczos3)
    } else {
        img.thumbnail_exact(new_w, new_h)
    }
}

fn webp_config(opts: &ImageOptions) -> Result<webp::WebPConfig, ImageError> {
    let mut config = webp::WebPConfig::new()
        .map_err(|()| ImageError::Encode("libwebp could not initialise a config".into()))?;
    let quality = opts.quality.min(100);
    config.method = i32::from(opts.method.min(6));
    config.thread_level = 0;
    if quality == 100 {
        config.lossless = 1;
        // For lossless, `quality` is the compression effort (cwebp's default).
        config.quality = 75.0;
    } else {
        config.lossless = 0;
        config.quality = f32::from(quality);
        config.alpha_compression = 1;
    }
    Ok(config)
}

// ---------------------------------------------------------------- WebP input

/// A still WebP is re-encoded like any still image; an animated one is kept.
fn transcode_webp(bytes: &[u8], opts: &ImageOptions) -> Result<Transcoded, ImageError> {
    let decoder =
        WebPDecoder::new(Cursor::new(bytes)).map_err(|e| map_image_error(e, (0, 0), opts))?;
    if !decoder.has_animation() {
        return transcode_still(bytes, ImageFormat::WebP, "webp", opts);
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

/// Count the top-level ANMF chunks of a RIFF WebP, without decoding.
fn webp_frame_count(bytes: &[u8]) -> u32 {
    let mut count = 0u32;
    let mut pos = 12usize;
    while let Some(header) = bytes.get(pos..pos.saturating_add(8)) {
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        if &header[..4] == b"ANMF" {
            count = count.saturating_add(1);
        }
        let padded = size.saturating_add(size & 1);
        pos = match pos.checked_add(8).and_then(|p| p.checked_add(padded)) {
            Some(next) => next,
            None => break,
        };
    }
    count
}

// ----------------------------------------------------------------- GIF input

/// What a walk over the GIF block structure found (no LZW decoding).
#[derive(Debug, Default)]
struct GifScan {
    frames: u32,
    /// From the NETSCAPE2.0 / ANIMEXTS1.0 application extension.
    loop_count: Option<u16>,
}

fn scan_gif(b: &[u8]) -> GifScan {
    let mut scan = GifScan::default();
    let Some(&packed) = b.get(10) else {
        return scan;
    };
    let mut pos = 13usize;
    if packed & 0x80 != 0 {
        pos += 3 << ((packed & 7) + 1);
    }
    // Skip a chain of data sub-blocks starting at `pos`; None when truncated.
    let skip_sub_blocks = |mut pos: usize| -> Option<usize> {
        loop {
            let len = usize::from(*b.get(pos)?);
            pos = pos.checked_add(1 + len)?;
            if len == 0 {
                return Some(pos);
            }
        }
    };
    loop {
        match b.get(pos) {
            Some(0x21) => {
                let Some(&label) = b.get(pos + 1) else { break };
                let body = pos + 2;
                if label == 0xFF
                    && b.get(body) == Some(&11)
                    && matches!(b.get(body + 1..body + 12), Some(id) if id == b"NETSCAPE2.0" || id == b"ANIMEXTS1.0")
                    && b.get(body + 12) == Some(&3)
                    && b.get(body + 13) == Some(&1)
                    && let Some(lc) = b.get(body + 14..body + 16)
                {
                    scan.loop_count = Some(u16::from_le_bytes([lc[0], lc[1]]));
                }
                match skip_sub_blocks(body) {
                    Some(next) => pos = next,
                    None => break,
                }
            }
            Some(0x2C) => {
                let Some(&local) = b.get(pos + 9) else { break };
                scan.frames = scan.frames.saturating_add(1);
                let mut next = pos + 10;
                if local & 0x80 != 0 {
                    next += 3 << ((local & 7) + 1);
                }
                // LZW minimum code size, then the image data sub-blocks.
                match skip_sub_blocks(next + 1) {
                    Some(after) => pos = after,
                    None => break,
                }
            }
            _ => break, // trailer (0x3B), garbage or end of data
        }
    }
    scan
}

fn transcode_gif(bytes: &[u8], opts: &ImageOptions) -> Result<Transcoded, ImageError> {
    let mut decoder =
        GifDecoder::new(Cursor::new(bytes)).map_err(|e| map_image_error(e, (0, 0), opts))?;
    let (width, height) = decoder.dimensions();
    decoder
        .set_limits(limits(opts))
        .map_err(|e| map_image_error(e, (width, height), opts))?;
    check_dimensions(width, height, opts)?;
    let scan = scan_gif(bytes);
    if scan.frames <= 1 {
        let img = DynamicImage::from_decoder(decoder)
            .map_err(|e| map_image_error(e, (width, height), opts))?;
        return encode_still(img, "gif", opts);
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
        || width > WEBP_MAX_DIMENSION
        || height > WEBP_MAX_DIMENSION
    {
        return Ok(keep());
    }

    let mut frames: Vec<(image::RgbaImage, u32)> = Vec::new();
    for frame in decoder.into_frames() {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) if frames.is_empty() => return Err(map_image_error(e, (width, height), opts)),
            // A damaged tail: browsers play what they can; so does the original.
            Err(_) => return Ok(keep()),
        };
        // The block walk may undercount a malformed file: re-check the budget.
        if frames.len() as u64 >= budget_frames {
            return Ok(keep());
        }
        let (num, den) = frame.delay().numer_denom_ms();
        let delay_ms = num.checked_div(den).unwrap_or(0);
        let delay_ms = if delay_ms <= 10 { 100 } else { delay_ms };
        let buffer = frame.into_buffer();
        if buffer.dimensions() != (width, height) {
            return Ok(keep());
        }
        frames.push((buffer, delay_ms));
    }
    match frames.len() {
        0 => Err(ImageError::Corrupt("the GIF has no decodable frame".into())),
        1 => {
            let (buffer, _) = frames.pop().unwrap_or_default();
            encode_still(DynamicImage::ImageRgba8(buffer), "gif", opts)
        }
        n => {
            let loop_count = scan.loop_count.map_or(1, i32::from);
            match encode_animation(&frames, width, height, loop_count, opts) {
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

/// Animated WebP from full-canvas RGBA frames; None on any encoder failure.
fn encode_animation(
    frames: &[(image::RgbaImage, u32)],
    width: u32,
    height: u32,
    loop_count: i32,
    opts: &ImageOptions,
) -> Option<Vec<u8>> {
    let config = webp_config(opts).ok()?;
    let mut encoder = webp::AnimEncoder::new(width, height, &config);
    encoder.set_loop_count(loop_count);
    let expected_len = usize::try_from(u64::from(width) * u64::from(height) * 4).ok()?;
    let mut timestamp: i32 = 0;
    for (buffer, delay_ms) in frames {
        // `webp::AnimEncoder` imports `width × height × 4` bytes per frame
        // without checking the slice: make sure they are there.
        if buffer.as_raw().len() != expected_len {
            return None;
        }
        encoder.add_frame(webp::AnimFrame::from_rgba(
            buffer.as_raw(),
            width,
            height,
            timestamp,
        ));
        timestamp = timestamp.saturating_add(i32::try_from(*delay_ms).unwrap_or(i32::MAX));
    }
    let encoded = encoder.try_encode().ok()?;
    let bytes = encoded.to_vec();
    (bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP").then_some(bytes)
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

    #[test]
    fn scan_gif_survives_garbage() {
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

    #[test]
    fn sniff_text_and_bmp_false_positives() {
        assert_eq!(
            sniff(b"BMW is a car maker and this text is long"),
            Sniffed::Unknown
        );
        assert_eq!(sniff(b"P1ease"), Sniffed::Unknown);
        assert_eq!(sniff(b"  \n"), Sniffed::Empty);
        assert_eq!(
            sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Sniffed::Unknown
        );
    }
}
