//! Animated GIF → animated WebP: the block walk that counts frames before
//! anything is decoded, the bounded decoding of every frame, and libwebp's
//! `WebPAnimEncoder` (through `vaultstream_webp::AnimEncoder`).
//!
//! - Frame delays of 10 ms or less become 100 ms, as browsers play them.
//! - The loop count comes from the GIF's NETSCAPE2.0 extension (absent: play
//!   once).
//! - Every frame keeps its own delay, the last one included.
//! - All frames are held decoded at once, so the caller gives a frame budget
//!   (its memory bound over `width × height × 4`); past it, on a damaged
//!   frame after the first or a frame of another size, the original GIF is
//!   kept ([`Frames::Keep`]).
//!
//! Nothing here knows the image step's options or errors: [`super::image`]
//! decides limits and what each outcome becomes.

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::{AnimationDecoder, RgbaImage};

/// What a walk over the GIF block structure found (no LZW decoding).
#[derive(Debug, Default)]
pub(super) struct GifScan {
    pub(super) frames: u32,
    /// From the NETSCAPE2.0 / ANIMEXTS1.0 application extension.
    pub(super) loop_count: Option<u16>,
}

pub(super) fn scan_gif(b: &[u8]) -> GifScan {
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

/// The frames of an animated GIF, decoded.
pub(super) enum Frames {
    /// Full-canvas RGBA frames with their delays in milliseconds.
    Decoded(Vec<(RgbaImage, u32)>),
    /// Keep the original bytes: more frames than the budget, a damaged
    /// frame after the first, or a frame of another size.
    Keep,
}

/// Decode every frame of a `width × height` GIF, at most `budget_frames`.
/// An error is the first frame's: there is nothing to keep then.
pub(super) fn decode_frames(
    decoder: GifDecoder<Cursor<&[u8]>>,
    width: u32,
    height: u32,
    budget_frames: u64,
) -> Result<Frames, image::ImageError> {
    let mut frames: Vec<(RgbaImage, u32)> = Vec::new();
    for frame in decoder.into_frames() {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) if frames.is_empty() => return Err(e),
            // A damaged tail: browsers play what they can; so does the original.
            Err(_) => return Ok(Frames::Keep),
        };
        // The block walk may undercount a malformed file: re-check the budget.
        if frames.len() as u64 >= budget_frames {
            return Ok(Frames::Keep);
        }
        let (num, den) = frame.delay().numer_denom_ms();
        let delay_ms = num.checked_div(den).unwrap_or(0);
        let delay_ms = if delay_ms <= 10 { 100 } else { delay_ms };
        let buffer = frame.into_buffer();
        if buffer.dimensions() != (width, height) {
            return Ok(Frames::Keep);
        }
        frames.push((buffer, delay_ms));
    }
    Ok(Frames::Decoded(frames))
}

/// Animated WebP from full-canvas RGBA frames; None on any encoder failure.
/// Every frame keeps its delay, the last one included.
pub(super) fn encode_animation(
    frames: &[(RgbaImage, u32)],
    width: u32,
    height: u32,
    loop_count: u16,
    settings: &vaultstream_webp::Settings,
) -> Option<Vec<u8>> {
    let mut encoder =
        vaultstream_webp::AnimEncoder::new(width, height, settings, loop_count).ok()?;
    let mut timestamp: i32 = 0;
    for (buffer, delay_ms) in frames {
        // The encoder checks the buffer against the canvas size.
        encoder.add_frame(buffer.as_raw(), timestamp).ok()?;
        timestamp = timestamp.saturating_add(i32::try_from(*delay_ms).unwrap_or(i32::MAX));
    }
    let bytes = encoder.finish(timestamp).ok()?;
    (bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP").then_some(bytes)
}
