//! Pixels in: a `WebPPicture` imported from checked 8-bit RGB or RGBA rows,
//! freed on drop, and the writer that collects libwebp's output in a `Vec`.

use std::ffi::c_int;
use std::mem::MaybeUninit;

use libwebp_sys as sys;

use crate::{Error, MAX_DIMENSION};

/// How the pixel bytes are laid out (rows top to bottom, no padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 3 bytes a pixel: R, G, B.
    Rgb,
    /// 4 bytes a pixel: R, G, B, A (not premultiplied).
    Rgba,
}

impl Layout {
    pub fn bytes_per_pixel(self) -> usize {
        match self {
            Self::Rgb => 3,
            Self::Rgba => 4,
        }
    }
}

/// A `WebPPicture` that owns libwebp's copy of the pixels.
pub(crate) struct Picture {
    pub(crate) raw: sys::WebPPicture,
}

impl Picture {
    /// Copy `pixels` (`width × height`, `layout`) into a new picture: as
    /// YUV(A) for lossy encoding (`argb` false), as ARGB for lossless and
    /// for the animation encoder (`argb` true).
    pub(crate) fn import(
        pixels: &[u8],
        layout: Layout,
        width: u32,
        height: u32,
        argb: bool,
    ) -> Result<Self, Error> {
        if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
            return Err(Error::Dimensions { width, height });
        }
        // Both sides are at most 16383, so none of this overflows.
        let stride = width as usize * layout.bytes_per_pixel();
        let expected = stride * height as usize;
        if pixels.len() != expected {
            return Err(Error::BufferSize {
                expected,
                got: pixels.len(),
            });
        }
        let mut raw = MaybeUninit::<sys::WebPPicture>::uninit();
        // SAFETY: `WebPPictureInitInternal` zeroes and fills the whole struct
        // (the ABI version matches these bindings' layout).
        let ok = unsafe {
            sys::WebPPictureInitInternal(raw.as_mut_ptr(), sys::WEBP_ENCODER_ABI_VERSION as c_int)
        };
        if ok == 0 {
            return Err(Error::Config);
        }
        // SAFETY: initialised just above (ok != 0).
        let raw = unsafe { raw.assume_init() };
        // From here on `Drop` frees whatever libwebp allocates in it.
        let mut picture = Self { raw };
        picture.raw.use_argb = c_int::from(argb);
        // Both fit: at most 16383 and 16383 × 4.
        picture.raw.width = width as c_int;
        picture.raw.height = height as c_int;
        let stride = stride as c_int;
        // SAFETY: `pixels` holds exactly `height` rows of `stride` bytes
        // (checked above); libwebp reads only those and copies them into
        // buffers it allocates inside the picture.
        let ok = unsafe {
            match layout {
                Layout::Rgb => sys::WebPPictureImportRGB(&mut picture.raw, pixels.as_ptr(), stride),
                Layout::Rgba => {
                    sys::WebPPictureImportRGBA(&mut picture.raw, pixels.as_ptr(), stride)
                }
            }
        };
        if ok == 0 {
            // The import fails only when its allocation does.
            return Err(Error::OutOfMemory);
        }
        Ok(picture)
    }
}

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture was initialised by `WebPPictureInitInternal`;
        // `WebPPictureFree` releases what libwebp allocated in it (nothing
        // if the import failed) and is called once.
        unsafe { sys::WebPPictureFree(&mut self.raw) };
    }
}

/// libwebp's output callback: append to the `Vec<u8>` that `custom_ptr`
/// points at. Returns 0 (libwebp then stops with `BAD_WRITE`) when the
/// vector cannot grow.
pub(crate) unsafe extern "C" fn write_to_vec(
    data: *const u8,
    size: usize,
    picture: *const sys::WebPPicture,
) -> c_int {
    if size == 0 {
        return 1;
    }
    // SAFETY: `still::encode` sets `custom_ptr` to a `Vec<u8>` that lives
    // (and is not otherwise touched) for the whole `WebPEncode` call, the
    // only time libwebp calls this writer; `picture` is that call's picture.
    let out = unsafe { &mut *(*picture).custom_ptr.cast::<Vec<u8>>() };
    if out.try_reserve(size).is_err() {
        return 0;
    }
    // SAFETY: libwebp hands over `size` readable bytes at `data`.
    out.extend_from_slice(unsafe { std::slice::from_raw_parts(data, size) });
    1
}
