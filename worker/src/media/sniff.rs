//! What a downloaded file really is, judged from its first bytes: an image
//! (and which format), a video container, or an HTML/JSON error page.
//!
//! The format is decided from **magic bytes only**, never from a
//! `Content-Type` header: servers send HTML error pages, JSON and videos with
//! `image/*` types. The image step refuses what is not an image from this
//! verdict, and the media job names a video file's extension by it.
//!
//! Also the byte walks the image step makes without decoding: whether a
//! JPEG ends early, how many frames an animated WebP holds.

use image::ImageFormat;

/// What a body is, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// Any format `image` recognises (including ones
    /// [`transcode`](super::image::transcode) refuses, such as TIFF or AVIF).
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

pub(super) fn is_heif(head: &[u8]) -> bool {
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

pub(super) fn looks_like_svg(head: &[u8]) -> bool {
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

// ------------------------------------------- walking a file's structure

/// True when a JPEG clearly ends early: the marker segments run out before
/// the first scan, or no EOI marker (FF D9) follows it. Inside entropy-coded
/// data a 0xFF byte is always stuffed (FF 00) or a marker, so FF D9 after the
/// first SOS can only be the end (or a later scan's EOI in a progressive
/// file). Bytes after the EOI are ignored. A structure we cannot walk is left
/// to the decoder.
pub(super) fn jpeg_is_truncated(b: &[u8]) -> bool {
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

/// Count the top-level ANMF chunks of a RIFF WebP, without decoding.
pub(super) fn webp_frame_count(bytes: &[u8]) -> u32 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
