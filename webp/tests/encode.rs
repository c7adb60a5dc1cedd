//! The safe wrapper against the real libwebp: stills (lossy, lossless,
//! alpha), animations (delays, loop count), and every way a caller can get
//! the arguments wrong — an error each time, never undefined behaviour.

use std::io::Cursor;

use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, ImageDecoder, ImageFormat};
use vaultstream_webp::{AnimEncoder, Error, Layout, MAX_DIMENSION, Settings, encode};

fn lossy(method: u8) -> Settings {
    Settings {
        quality: 80,
        method,
        threads: false,
    }
}

/// A smooth photo-like RGB image.
fn gradient(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            out.extend_from_slice(&[
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x + y) % 256) as u8,
            ]);
        }
    }
    out
}

/// The bitstream chunk after the RIFF header (and a VP8X/ALPH if any).
fn bitstream(bytes: &[u8]) -> &[u8] {
    let mut pos = 12;
    while let Some(head) = bytes.get(pos..pos + 8) {
        let size = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
        if &head[..4] == b"VP8 " || &head[..4] == b"VP8L" {
            return &head[..4];
        }
        pos += 8 + size + (size & 1);
    }
    b""
}

#[test]
fn links_libwebp_1_6_or_newer() {
    let v = vaultstream_webp::libwebp_version();
    let parts: Vec<u32> = v.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(
        parts[0] > 1 || (parts[0] == 1 && parts[1] >= 6),
        "libwebp {v}"
    );
}

#[test]
fn lossy_rgb_decodes_to_the_same_picture() {
    let (w, h) = (320, 200);
    let rgb = gradient(w, h);
    for method in [0, 4, 6] {
        let out = encode(&rgb, Layout::Rgb, w, h, &lossy(method)).unwrap();
        assert_eq!(&out[..4], b"RIFF");
        assert_eq!(&out[8..12], b"WEBP");
        let riff = u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff + 8, out.len(), "RIFF length matches");
        assert_eq!(bitstream(&out), b"VP8 ");
        assert!(out.len() < rgb.len() / 4, "compressed: {} bytes", out.len());
        let back = image::load_from_memory_with_format(&out, ImageFormat::WebP)
            .unwrap()
            .to_rgb8();
        assert_eq!(back.dimensions(), (w, h));
        let diff: u64 = back
            .as_raw()
            .iter()
            .zip(&rgb)
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        let mean = diff as f64 / rgb.len() as f64;
        assert!(mean < 4.0, "method {method}: mean error {mean}");
    }
}

#[test]
fn higher_methods_are_not_larger() {
    let (w, h) = (400, 300);
    let rgb = gradient(w, h);
    let m0 = encode(&rgb, Layout::Rgb, w, h, &lossy(0)).unwrap().len();
    let m6 = encode(&rgb, Layout::Rgb, w, h, &lossy(6)).unwrap().len();
    assert!(m6 <= m0, "method 6 {m6} bytes, method 0 {m0} bytes");
}

#[test]
fn quality_100_is_lossless_and_exact_with_alpha() {
    let (w, h) = (64, 48);
    let rgba: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            [
                (i % 251) as u8,
                (i % 13) as u8 * 19,
                (i / 64) as u8,
                (i % 7) as u8 * 36,
            ]
        })
        .collect();
    let settings = Settings {
        quality: 100,
        method: 4,
        threads: false,
    };
    let out = encode(&rgba, Layout::Rgba, w, h, &settings).unwrap();
    assert_eq!(bitstream(&out), b"VP8L");
    let back = image::load_from_memory_with_format(&out, ImageFormat::WebP).unwrap();
    // Fully transparent pixels may lose their colour; compare the visible ones.
    let back = back.to_rgba8();
    for (a, b) in back.as_raw().chunks(4).zip(rgba.chunks(4)) {
        if b[3] != 0 {
            assert_eq!(a, b);
        } else {
            assert_eq!(a[3], 0);
        }
    }
}

#[test]
fn lossy_alpha_is_kept() {
    let (w, h) = (40, 40);
    let rgba: Vec<u8> = (0..w * h)
        .flat_map(|i| [200, 100, 50, if i % w < w / 2 { 0 } else { 255 }])
        .collect();
    let out = encode(&rgba, Layout::Rgba, w, h, &lossy(4)).unwrap();
    let back = image::load_from_memory_with_format(&out, ImageFormat::WebP)
        .unwrap()
        .to_rgba8();
    assert_eq!(back.get_pixel(2, 5)[3], 0);
    assert_eq!(back.get_pixel(w - 2, 5)[3], 255);
}

#[test]
fn threaded_and_parallel_encodes_give_the_same_bytes() {
    let (w, h) = (300, 200);
    let rgb = gradient(w, h);
    let one = encode(&rgb, Layout::Rgb, w, h, &lossy(4)).unwrap();
    let threaded = Settings {
        threads: true,
        ..lossy(4)
    };
    assert_eq!(encode(&rgb, Layout::Rgb, w, h, &threaded).unwrap(), one);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| encode(&rgb, Layout::Rgb, w, h, &lossy(4)).unwrap()))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), one);
        }
    });
}

#[test]
fn wrong_arguments_are_errors() {
    let rgb = gradient(10, 10);
    assert_eq!(
        encode(&rgb[..299], Layout::Rgb, 10, 10, &lossy(4)),
        Err(Error::BufferSize {
            expected: 300,
            got: 299
        })
    );
    assert_eq!(
        encode(&rgb, Layout::Rgba, 10, 10, &lossy(4)),
        Err(Error::BufferSize {
            expected: 400,
            got: 300
        })
    );
    assert_eq!(
        encode(&[], Layout::Rgb, 0, 10, &lossy(4)),
        Err(Error::Dimensions {
            width: 0,
            height: 10
        })
    );
    assert_eq!(
        encode(&rgb, Layout::Rgb, MAX_DIMENSION + 1, 1, &lossy(4)),
        Err(Error::Dimensions {
            width: MAX_DIMENSION + 1,
            height: 1
        })
    );
    // Out-of-range settings are clamped, not refused.
    let wild = Settings {
        quality: 250,
        method: 99,
        threads: false,
    };
    assert!(encode(&rgb, Layout::Rgb, 10, 10, &wild).is_ok());
}

fn frame(w: u32, h: u32, rgba: [u8; 4]) -> Vec<u8> {
    rgba.repeat((w * h) as usize)
}

#[test]
fn animation_keeps_every_delay_and_the_loop_count() {
    let (w, h) = (24, 16);
    let mut enc = AnimEncoder::new(w, h, &lossy(4), 3).unwrap();
    enc.add_frame(&frame(w, h, [255, 0, 0, 255]), 0).unwrap();
    enc.add_frame(&frame(w, h, [0, 255, 0, 255]), 100).unwrap();
    enc.add_frame(&frame(w, h, [0, 0, 255, 255]), 150).unwrap();
    let out = enc.finish(450).unwrap();
    // ANIM chunk: background colour (4 bytes), then the loop count.
    let anim = out.windows(4).position(|c| c == b"ANIM").unwrap();
    assert_eq!(u16::from_le_bytes([out[anim + 12], out[anim + 13]]), 3);
    let dec = WebPDecoder::new(Cursor::new(&out)).unwrap();
    assert!(dec.has_animation());
    assert_eq!(dec.dimensions(), (w, h));
    let frames = dec.into_frames().collect_frames().unwrap();
    let delays: Vec<u32> = frames
        .iter()
        .map(|f| {
            let (n, d) = f.delay().numer_denom_ms();
            n / d
        })
        .collect();
    assert_eq!(delays, [100, 50, 300], "the last frame keeps its own delay");
    let reds: Vec<u8> = frames
        .iter()
        .map(|f| f.buffer().get_pixel(3, 3)[0])
        .collect();
    assert!(reds[0] > 200 && reds[1] < 50 && reds[2] < 50, "{reds:?}");
}

#[test]
fn animation_misuse_is_an_error() {
    let (w, h) = (8, 8);
    assert!(matches!(
        AnimEncoder::new(0, 8, &lossy(4), 0),
        Err(Error::Dimensions { .. })
    ));
    let mut enc = AnimEncoder::new(w, h, &lossy(4), 0).unwrap();
    assert!(matches!(
        enc.add_frame(&frame(w, h - 1, [0, 0, 0, 255]), 0),
        Err(Error::BufferSize { .. })
    ));
    enc.add_frame(&frame(w, h, [0, 0, 0, 255]), 100).unwrap();
    assert!(matches!(
        enc.add_frame(&frame(w, h, [9, 9, 9, 255]), 50),
        Err(Error::Encode(_))
    ));
    assert!(matches!(enc.finish(20), Err(Error::Encode(_))));
    let empty = AnimEncoder::new(w, h, &lossy(4), 0).unwrap();
    assert!(empty.finish(100).is_err());
}
