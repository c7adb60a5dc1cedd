//! Where an image's time goes: [`StageTimes`] adds up the decode, the
//! transform (EXIF orientation, 8-bit conversion, fitting to WebP's size
//! limit) and the WebP encode of the images passed through
//! `transcode_timed` of the image step (the benchmark's stage split).

use std::time::{Duration, Instant};

/// Time spent per stage, summed over calls.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StageTimes {
    /// Sniffing, header checks and decoding to pixels (all frames of an
    /// animation).
    pub decode: Duration,
    /// EXIF orientation, conversion to 8-bit RGB(A), downscaling to fit.
    pub transform: Duration,
    /// libwebp (still or animation).
    pub encode: Duration,
}

/// One stage of [`StageTimes`].
#[derive(Debug, Clone, Copy)]
pub(super) enum Stage {
    Decode,
    Transform,
    Encode,
}

/// Charges the time since the last mark to a stage.
pub(super) struct Clock<'a> {
    times: &'a mut StageTimes,
    last: Instant,
}

impl<'a> Clock<'a> {
    pub(super) fn start(times: &'a mut StageTimes) -> Self {
        Self {
            times,
            last: Instant::now(),
        }
    }

    /// The time since the last mark was spent in `stage`.
    pub(super) fn mark(&mut self, stage: Stage) {
        let now = Instant::now();
        let spent = now - self.last;
        self.last = now;
        let slot = match stage {
            Stage::Decode => &mut self.times.decode,
            Stage::Transform => &mut self.times.transform,
            Stage::Encode => &mut self.times.encode,
        };
        *slot += spent;
    }
}
