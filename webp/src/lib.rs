//! A small, safe WebP encoder over libwebp (the `libwebp-sys` crate, which
//! vendors libwebp 1.6 and compiles it with `cc`; the workspace enables its
//! SSE4.1 paths). This crate holds the workspace's only `unsafe` code: every
//! block says why it is sound, and nothing unsafe leaks out of it.
//!
//! - [`picture`]: pixels in — 8-bit RGB or RGBA rows checked against the
//!   declared size and imported into a `WebPPicture` that frees itself, and
//!   the writer that collects libwebp's output in a `Vec`;
//! - [`still`]: one picture → a WebP file ([`encode`]);
//! - [`anim`]: frames with timestamps → an animated WebP ([`AnimEncoder`]).
//!
//! The settings are the media step's: lossy at a quality (0..=99) and a
//! method (0..=6), lossless at quality 100 ([`Settings`]).

pub mod anim;
pub mod picture;
pub mod still;

pub use anim::AnimEncoder;
pub use picture::Layout;
pub use still::encode;

use std::ffi::c_int;
use std::mem::MaybeUninit;

use libwebp_sys as sys;

/// WebP's largest width or height.
pub const MAX_DIMENSION: u32 = sys::WEBP_MAX_DIMENSION;

/// How to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// 0..=100 (higher is clamped); 100 encodes lossless.
    pub quality: u8,
    /// libwebp's method 0..=6 (higher is clamped): speed against size.
    pub method: u8,
    /// Let libwebp use a second thread inside one encode (`thread_level`).
    /// Off when callers already run one encode per core.
    pub threads: bool,
}

/// Why an encode failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("libwebp rejected the encoder settings")]
    Config,
    #[error("{width}×{height} pixels cannot be a WebP (1 to {MAX_DIMENSION} pixels a side)")]
    Dimensions { width: u32, height: u32 },
    #[error("the pixel buffer holds {got} bytes where {expected} were declared")]
    BufferSize { expected: usize, got: usize },
    #[error("libwebp ran out of memory")]
    OutOfMemory,
    #[error("libwebp failed: {0}")]
    Encode(String),
}

/// The version of the libwebp linked in, as "1.6.0".
pub fn libwebp_version() -> String {
    // SAFETY: a pure function of libwebp without arguments.
    let v = unsafe { sys::WebPGetEncoderVersion() };
    format!("{}.{}.{}", (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
}

impl Settings {
    /// libwebp's configuration for these settings, validated by libwebp.
    pub(crate) fn config(&self) -> Result<sys::WebPConfig, Error> {
        let mut config = MaybeUninit::<sys::WebPConfig>::uninit();
        // SAFETY: `WebPConfigInitInternal` writes every field of the struct
        // it is given (the ABI version tells it the layout is 1.6's, which
        // is the one these bindings describe).
        let ok = unsafe {
            sys::WebPConfigInitInternal(
                config.as_mut_ptr(),
                sys::WebPPreset::WEBP_PRESET_DEFAULT,
                75.0,
                sys::WEBP_ENCODER_ABI_VERSION as c_int,
            )
        };
        if ok == 0 {
            return Err(Error::Config);
        }
        // SAFETY: initialised just above (ok != 0).
        let mut config = unsafe { config.assume_init() };
        config.method = c_int::from(self.method.min(6));
        config.thread_level = c_int::from(self.threads);
        if self.quality >= 100 {
            config.lossless = 1;
            // For lossless, `quality` is the compression effort (cwebp's default).
            config.quality = 75.0;
        } else {
            config.lossless = 0;
            config.quality = f32::from(self.quality);
            config.alpha_compression = 1;
        }
        // SAFETY: `config` is a valid, initialised configuration.
        if unsafe { sys::WebPValidateConfig(&config) } == 0 {
            return Err(Error::Config);
        }
        Ok(config)
    }
}

/// libwebp's encoding error as text ("VP8_ENC_ERROR_OUT_OF_MEMORY" …).
pub(crate) fn encoding_error(code: sys::WebPEncodingError) -> Error {
    match code {
        sys::WebPEncodingError::VP8_ENC_ERROR_OUT_OF_MEMORY
        | sys::WebPEncodingError::VP8_ENC_ERROR_BITSTREAM_OUT_OF_MEMORY => Error::OutOfMemory,
        other => Error::Encode(format!("{other:?}")),
    }
}
