//! One picture → a WebP file.

use libwebp_sys as sys;

use crate::picture::{Layout, Picture, write_to_vec};
use crate::{Error, Settings, encoding_error};

/// Encode `width × height` pixels of `layout` (exactly `width × height ×
/// bytes-per-pixel` bytes) as a WebP file.
pub fn encode(
    pixels: &[u8],
    layout: Layout,
    width: u32,
    height: u32,
    settings: &Settings,
) -> Result<Vec<u8>, Error> {
    let config = settings.config()?;
    let mut picture = Picture::import(pixels, layout, width, height, config.lossless != 0)?;
    // A lossy photo comes out around a tenth of its RGB size: start there.
    let mut out: Vec<u8> = Vec::new();
    let _ = out.try_reserve(pixels.len() / 10);
    picture.raw.writer = Some(write_to_vec);
    picture.raw.custom_ptr = (&raw mut out).cast();
    // SAFETY: `config` is validated, `picture` holds imported pixels, and its
    // writer appends to `out`, which outlives this call and is not used
    // elsewhere until it returns.
    let ok = unsafe { sys::WebPEncode(&config, &mut picture.raw) };
    picture.raw.custom_ptr = std::ptr::null_mut();
    picture.raw.writer = None;
    if ok == 0 {
        return Err(encoding_error(picture.raw.error_code));
    }
    if out.len() < 12 || &out[..4] != b"RIFF" || &out[8..12] != b"WEBP" {
        return Err(Error::Encode("libwebp produced no WebP file".into()));
    }
    Ok(out)
}
