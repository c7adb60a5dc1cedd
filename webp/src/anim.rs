//! Frames with timestamps → an animated WebP, through libwebp's
//! `WebPAnimEncoder` (which keeps only what changed between frames).

use std::ffi::{CStr, c_int};
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use libwebp_sys as sys;

use crate::picture::{Layout, Picture};
use crate::{Error, MAX_DIMENSION, Settings};

/// An animation being encoded: [`AnimEncoder::add_frame`] each full-canvas
/// RGBA frame at its start time, then [`AnimEncoder::finish`] at the end
/// time of the last one (so every frame, the last included, keeps its
/// exact duration).
pub struct AnimEncoder {
    enc: NonNull<sys::WebPAnimEncoder>,
    config: sys::WebPConfig,
    width: u32,
    height: u32,
    last_timestamp: Option<i32>,
}

impl AnimEncoder {
    /// A `width × height` canvas; `loop_count` 0 plays forever.
    pub fn new(
        width: u32,
        height: u32,
        settings: &Settings,
        loop_count: u16,
    ) -> Result<Self, Error> {
        if width == 0 || height == 0 || width > MAX_DIMENSION || height > MAX_DIMENSION {
            return Err(Error::Dimensions { width, height });
        }
        let config = settings.config()?;
        let mut options = MaybeUninit::<sys::WebPAnimEncoderOptions>::uninit();
        // SAFETY: fills every field of the options (ABI version of these
        // bindings).
        let ok = unsafe {
            sys::WebPAnimEncoderOptionsInitInternal(
                options.as_mut_ptr(),
                sys::WEBP_MUX_ABI_VERSION as c_int,
            )
        };
        if ok == 0 {
            return Err(Error::Config);
        }
        // SAFETY: initialised just above (ok != 0).
        let mut options = unsafe { options.assume_init() };
        options.anim_params.loop_count = c_int::from(loop_count);
        // SAFETY: valid options; the sides were checked to fit WebP (and so
        // a c_int). A null return is handled below.
        let enc = unsafe {
            sys::WebPAnimEncoderNewInternal(
                width as c_int,
                height as c_int,
                &options,
                sys::WEBP_MUX_ABI_VERSION as c_int,
            )
        };
        let enc = NonNull::new(enc).ok_or(Error::OutOfMemory)?;
        Ok(Self {
            enc,
            config,
            width,
            height,
            last_timestamp: None,
        })
    }

    /// Add a full-canvas frame (`width × height × 4` RGBA bytes) shown from
    /// `timestamp_ms` on; timestamps must not decrease.
    pub fn add_frame(&mut self, rgba: &[u8], timestamp_ms: i32) -> Result<(), Error> {
        self.check_timestamp(timestamp_ms)?;
        // The animation encoder works on ARGB pictures.
        let mut picture = Picture::import(rgba, Layout::Rgba, self.width, self.height, true)?;
        // SAFETY: the encoder is live (owned by `self`); the picture has the
        // canvas size and is only read; `config` was validated.
        let ok = unsafe {
            sys::WebPAnimEncoderAdd(
                self.enc.as_ptr(),
                &mut picture.raw,
                timestamp_ms,
                &self.config,
            )
        };
        if ok == 0 {
            return Err(self.error());
        }
        self.last_timestamp = Some(timestamp_ms);
        Ok(())
    }

    /// The animated WebP file; `end_ms` is when the last frame ends.
    pub fn finish(self, end_ms: i32) -> Result<Vec<u8>, Error> {
        if self.last_timestamp.is_none() {
            return Err(Error::Encode("an animation needs a frame".into()));
        }
        self.check_timestamp(end_ms)?;
        // SAFETY: a null frame is libwebp's "no more frames, the last one
        // ends at `end_ms`"; the encoder is live.
        let ok = unsafe {
            sys::WebPAnimEncoderAdd(
                self.enc.as_ptr(),
                std::ptr::null_mut(),
                end_ms,
                std::ptr::null(),
            )
        };
        if ok == 0 {
            return Err(self.error());
        }
        let mut data = sys::WebPData::default();
        // SAFETY: the encoder is live; on success `data` receives a buffer
        // allocated by libwebp, which we copy and then free exactly once.
        let ok = unsafe { sys::WebPAnimEncoderAssemble(self.enc.as_ptr(), &mut data) };
        if ok == 0 || data.bytes.is_null() {
            return Err(self.error());
        }
        // SAFETY: `data` describes `size` bytes owned by libwebp until freed.
        let bytes = unsafe { std::slice::from_raw_parts(data.bytes, data.size) }.to_vec();
        // SAFETY: frees the buffer assembled above (allocated by WebPMalloc).
        unsafe { sys::WebPDataClear(&mut data) };
        Ok(bytes)
    }

    fn check_timestamp(&self, timestamp_ms: i32) -> Result<(), Error> {
        match self.last_timestamp {
            Some(last) if timestamp_ms < last => Err(Error::Encode(format!(
                "frame timestamps must not decrease ({timestamp_ms} ms after {last} ms)"
            ))),
            _ => Ok(()),
        }
    }

    /// The encoder's last error message.
    fn error(&self) -> Error {
        // SAFETY: the encoder is live; the returned string (or null) is owned
        // by it and read before any further call.
        let msg = unsafe {
            let ptr = sys::WebPAnimEncoderGetError(self.enc.as_ptr());
            if ptr.is_null() {
                String::new()
            } else {
                CStr::from_ptr(ptr).to_string_lossy().into_owned()
            }
        };
        if msg.contains("memory") {
            Error::OutOfMemory
        } else if msg.is_empty() {
            Error::Encode("the animation encoder failed".into())
        } else {
            Error::Encode(msg)
        }
    }
}

impl Drop for AnimEncoder {
    fn drop(&mut self) {
        // SAFETY: created by `WebPAnimEncoderNewInternal`, deleted once.
        unsafe { sys::WebPAnimEncoderDelete(self.enc.as_ptr()) };
    }
}
