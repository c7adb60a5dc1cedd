//! The image step: sniffing, decompression-bomb refusal, WebP output.
//!
//! Real photos come from /work/shared/fixtures/media (see its README); every
//! other input is generated here. No timing assertions.

use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

use image::codecs::gif::{GifEncoder, Repeat};
use image::{
    AnimationDecoder, DynamicImage, Frame, GenericImageView, ImageBuffer, ImageDecoder,
    ImageFormat, Luma, LumaA, Rgb, Rgba,
};
use vaultstream_core::settings::Settings;
use vaultstream_worker::media::image::{
    ImageError, ImageOptions, Sniffed, Transcoded, sniff, transcode,
};

const FIXTURES: &str = "/work/shared/fixtures/media";

fn opts() -> ImageOptions {
    let settings = Settings::defaults().expect("default settings");
    ImageOptions::from_settings(&settings.media)
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

fn assert_webp(t: &Transcoded) -> DynamicImage {
    assert_eq!(t.ext, "webp");
    assert_eq!(t.mime, "image/webp");
    assert!(t.bytes.len() > 12, "empty output");
    assert_eq!(&t.bytes[..4], b"RIFF");
    assert_eq!(&t.bytes[8..12], b"WEBP");
    let riff_len = u32::from_le_bytes(t.bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(
        riff_len + 8,
        t.bytes.len(),
        "RIFF length matches the output"
    );
    let back = image::load_from_memory_with_format(&t.bytes, ImageFormat::WebP)
        .expect("output decodes as WebP");
    assert_eq!(back.dimensions(), (t.width, t.height));
    back
}

/// A smooth, photo-like RGB test image.
fn gradient(w: u32, h: u32) -> image::RgbImage {
    ImageBuffer::from_fn(w, h, |x, y| {
        Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            ((x + y) % 256) as u8,
        ])
    })
}

/// "lossy" or "lossless", from the bitstream chunk of the RIFF container
/// ("VP8 " or "VP8L", after a "VP8X" header and an "ALPH" chunk if any).
fn webp_format(bytes: &[u8]) -> &'static str {
    let mut pos = 12;
    while let Some(head) = bytes.get(pos..pos + 8) {
        let size = u32::from_le_bytes(head[4..8].try_into().unwrap()) as usize;
        match &head[..4] {
            b"VP8 " => return "lossy",
            b"VP8L" => return "lossless",
            _ => pos += 8 + size + (size & 1),
        }
    }
    "undefined"
}

// ------------------------------------------------------------------ photos

#[test]
fn real_photos_become_smaller_lossy_webp() {
    let opts = opts();
    let lossless = ImageOptions {
        quality: 100,
        method: 0,
        ..opts
    };
    let mut photos: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("fixtures dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    photos.sort();
    assert_eq!(photos.len(), 16, "sixteen fixture photos");
    for path in photos {
        let bytes = std::fs::read(&path).unwrap();
        let dims = image::ImageReader::with_format(Cursor::new(&bytes), ImageFormat::Jpeg)
            .into_dimensions()
            .unwrap();
        assert_eq!(sniff(&bytes), Sniffed::Image(ImageFormat::Jpeg));

        let t = transcode(&bytes, &opts).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_webp(&t);
        assert_eq!((t.width, t.height), dims, "{path:?}");
        assert_eq!(t.source_format, "jpeg");
        assert_eq!((t.animated, t.frames), (false, 1));
        assert_eq!(webp_format(&t.bytes), "lossy");

        let big = transcode(&bytes, &lossless).unwrap();
        assert_eq!(webp_format(&big.bytes), "lossless");
        assert!(
            t.bytes.len() < big.bytes.len(),
            "{path:?}: lossy {} B is not smaller than lossless {} B",
            t.bytes.len(),
            big.bytes.len()
        );
        println!(
            "{}: {}×{} jpeg {} KiB → webp q{} {} KiB (lossless {} KiB)",
            path.file_name().unwrap().to_string_lossy(),
            t.width,
            t.height,
            bytes.len() / 1024,
            opts.quality,
            t.bytes.len() / 1024,
            big.bytes.len() / 1024
        );
    }
}

// ------------------------------------------------------- colour types, formats

#[test]
fn png_with_alpha_keeps_alpha() {
    let img = ImageBuffer::from_fn(64, 48, |x, y| {
        let a = if x < 32 { 0 } else { 255 };
        Rgba([(x * 4) as u8, (y * 5) as u8, 128, a])
    });
    let png = encode(&DynamicImage::ImageRgba8(img), ImageFormat::Png);
    let t = transcode(&png, &opts()).unwrap();
    assert_eq!(t.source_format, "png");
    let back = assert_webp(&t);
    assert!(back.color().has_alpha(), "alpha survives");
    let back = back.to_rgba8();
    assert_eq!(
        back.get_pixel(5, 5)[3],
        0,
        "transparent half stays transparent"
    );
    assert_eq!(back.get_pixel(60, 40)[3], 255, "opaque half stays opaque");
}

#[test]
fn opaque_images_have_no_alpha() {
    let jpeg = encode(
        &DynamicImage::ImageRgb8(gradient(80, 60)),
        ImageFormat::Jpeg,
    );
    let back = assert_webp(&transcode(&jpeg, &opts()).unwrap());
    assert!(!back.color().has_alpha());
}

#[test]
fn sixteen_bit_png() {
    let img = ImageBuffer::from_fn(50, 40, |x, y| {
        Rgb([(x * 1300) as u16, (y * 1600) as u16, 40000])
    });
    let png = encode(&DynamicImage::ImageRgb16(img), ImageFormat::Png);
    let t = transcode(&png, &opts()).unwrap();
    let back = assert_webp(&t).to_rgb8();
    assert_eq!((t.width, t.height), (50, 40));
    // 40000/65535 ≈ 156/255 in blue, within lossy error.
    let b = back.get_pixel(25, 20)[2];
    assert!((140..=172).contains(&b), "blue {b}");

    let rgba16 = ImageBuffer::from_fn(30, 20, |x, _| Rgba([65535u16, 0, 0, (x * 2000) as u16]));
    let png = encode(&DynamicImage::ImageRgba16(rgba16), ImageFormat::Png);
    let back = assert_webp(&transcode(&png, &opts()).unwrap());
    assert!(back.color().has_alpha());
}

#[test]
fn grayscale_jpeg_and_png() {
    let gray = ImageBuffer::from_fn(70, 30, |x, _| Luma([(x * 3) as u8]));
    let jpeg = encode(&DynamicImage::ImageLuma8(gray.clone()), ImageFormat::Jpeg);
    let t = transcode(&jpeg, &opts()).unwrap();
    assert_eq!((t.width, t.height, t.source_format), (70, 30, "jpeg"));
    assert_webp(&t);

    let png = encode(&DynamicImage::ImageLuma8(gray), ImageFormat::Png);
    let t = transcode(&png, &opts()).unwrap();
    assert_eq!((t.width, t.height, t.source_format), (70, 30, "png"));
    assert_webp(&t);

    let gray_alpha = ImageBuffer::from_fn(20, 20, |x, y| LumaA([(x * 10) as u8, (y * 12) as u8]));
    let png = encode(&DynamicImage::ImageLumaA8(gray_alpha), ImageFormat::Png);
    let back = assert_webp(&transcode(&png, &opts()).unwrap());
    assert!(back.color().has_alpha());

    let gray16 = ImageBuffer::from_fn(20, 20, |x, _| Luma([(x * 3000) as u16]));
    let png = encode(&DynamicImage::ImageLuma16(gray16), ImageFormat::Png);
    assert_webp(&transcode(&png, &opts()).unwrap());
}

#[test]
fn bmp_and_still_webp_sources() {
    let bmp = encode(&DynamicImage::ImageRgb8(gradient(33, 17)), ImageFormat::Bmp);
    assert_eq!(sniff(&bmp), Sniffed::Image(ImageFormat::Bmp));
    let t = transcode(&bmp, &opts()).unwrap();
    assert_eq!((t.width, t.height, t.source_format), (33, 17, "bmp"));
    assert_webp(&t);

    // A still WebP (lossless, from `image`) is re-encoded at the configured quality.
    let src = encode(
        &DynamicImage::ImageRgb8(gradient(40, 30)),
        ImageFormat::WebP,
    );
    let t = transcode(&src, &opts()).unwrap();
    assert_eq!((t.width, t.height, t.source_format), (40, 30, "webp"));
    assert!(!t.animated);
    assert_webp(&t);
    assert_eq!(webp_format(&t.bytes), "lossy");
}

#[test]
fn quality_100_is_lossless_and_exact() {
    let img = gradient(64, 64);
    let png = encode(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::Png);
    let opts = ImageOptions {
        quality: 100,
        ..opts()
    };
    let t = transcode(&png, &opts).unwrap();
    assert_eq!(webp_format(&t.bytes), "lossless");
    let back = assert_webp(&t).to_rgb8();
    assert_eq!(back, img, "lossless round trip is pixel-exact");

    let lossy = transcode(
        &png,
        &ImageOptions {
            quality: 80,
            ..opts
        },
    )
    .unwrap();
    assert_eq!(webp_format(&lossy.bytes), "lossy");
}

#[test]
fn every_method_and_quality_extreme_encodes() {
    let png = encode(&DynamicImage::ImageRgb8(gradient(48, 32)), ImageFormat::Png);
    for method in 0..=6 {
        for quality in [0, 1, 50, 99, 100] {
            let opts = ImageOptions {
                quality,
                method,
                ..opts()
            };
            let t = transcode(&png, &opts).unwrap_or_else(|e| panic!("q{quality} m{method}: {e}"));
            assert_webp(&t);
        }
    }
}

// --------------------------------------------------------------------- EXIF

/// An APP1 Exif segment (big-endian TIFF) holding only an Orientation tag.
fn exif_app1(orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // header, IFD0 at 8
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes()); // count
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // value padding
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    seg.extend_from_slice(&payload);
    seg
}

fn jpeg_with_orientation(img: &image::RgbImage, orientation: u16) -> Vec<u8> {
    let jpeg = encode(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::Jpeg);
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&exif_app1(orientation));
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn near(p: Rgb<u8>, want: [u8; 3]) -> bool {
    p.0.iter().zip(want).all(|(&a, b)| a.abs_diff(b) < 60)
}

#[test]
fn exif_orientation_is_applied() {
    // Stored 40×20: left half red, right half blue.
    let stored = ImageBuffer::from_fn(40, 20, |x, _| {
        if x < 20 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    });
    // The JPEG really carries the tag.
    let tagged = jpeg_with_orientation(&stored, 6);
    let mut dec = image::ImageReader::with_format(Cursor::new(&tagged), ImageFormat::Jpeg)
        .into_decoder()
        .unwrap();
    assert_eq!(
        dec.orientation().unwrap(),
        image::metadata::Orientation::Rotate90
    );

    // 6 = rotate 90° clockwise to display: the left (red) column becomes the top.
    let t = transcode(&tagged, &opts()).unwrap();
    assert_eq!((t.width, t.height), (20, 40));
    let back = assert_webp(&t).to_rgb8();
    assert!(
        near(*back.get_pixel(10, 5), [255, 0, 0]),
        "top is red: {:?}",
        back.get_pixel(10, 5)
    );
    assert!(near(*back.get_pixel(10, 35), [0, 0, 255]), "bottom is blue");

    // 3 = rotate 180°: red moves to the right.
    let t = transcode(&jpeg_with_orientation(&stored, 3), &opts()).unwrap();
    assert_eq!((t.width, t.height), (40, 20));
    let back = assert_webp(&t).to_rgb8();
    assert!(near(*back.get_pixel(35, 10), [255, 0, 0]), "right is red");
    assert!(near(*back.get_pixel(5, 10), [0, 0, 255]), "left is blue");

    // 1 = as stored.
    let t = transcode(&jpeg_with_orientation(&stored, 1), &opts()).unwrap();
    let back = assert_webp(&t).to_rgb8();
    assert!(near(*back.get_pixel(5, 10), [255, 0, 0]));
}

// ---------------------------------------------------------------- too large

/// CRC-32 (IEEE), bitwise.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A zlib stream (one stored deflate block) of `n` zero bytes.
fn zlib_zeros(n: u16) -> Vec<u8> {
    let mut z = vec![0x78, 0x01, 0x01];
    z.extend_from_slice(&n.to_le_bytes());
    z.extend_from_slice(&(!n).to_le_bytes());
    z.extend(std::iter::repeat_n(0u8, usize::from(n)));
    // Adler-32 of n zero bytes: a = 1, b = n.
    z.extend_from_slice(&((u32::from(n) << 16) | 1).to_be_bytes());
    z
}

/// A PNG declaring `w`×`h` RGB pixels, with a tiny IDAT.
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(&mut png, b"IDAT", &zlib_zeros(4096));
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// A real small JPEG whose SOF0 claims `w`×`h`.
fn jpeg_bomb(w: u16, h: u16) -> Vec<u8> {
    let mut jpeg = encode(
        &DynamicImage::ImageRgb8(gradient(16, 16)),
        ImageFormat::Jpeg,
    );
    let sof = jpeg
        .windows(2)
        .position(|m| m == [0xFF, 0xC0])
        .expect("baseline SOF0");
    jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpeg
}

/// A BMP header declaring `w`×`h` 24-bit pixels, followed by a few bytes.
fn bmp_bomb(w: i32, h: i32) -> Vec<u8> {
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&(54u32 + 64).to_le_bytes()); // file size (a lie)
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&54u32.to_le_bytes()); // pixel data offset
    bmp.extend_from_slice(&40u32.to_le_bytes()); // BITMAPINFOHEADER
    bmp.extend_from_slice(&w.to_le_bytes());
    bmp.extend_from_slice(&h.to_le_bytes());
    bmp.extend_from_slice(&1u16.to_le_bytes()); // planes
    bmp.extend_from_slice(&24u16.to_le_bytes()); // bpp
    bmp.extend_from_slice(&[0; 24]); // BI_RGB, sizes, resolution, colours
    bmp.extend_from_slice(&[0; 64]);
    bmp
}

/// A GIF whose logical screen is `w`×`h`, with one 1×1 frame.
fn gif_bomb(w: u16, h: u16) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&w.to_le_bytes());
    gif.extend_from_slice(&h.to_le_bytes());
    gif.extend_from_slice(&[0x80, 0, 0]); // 2-colour global table
    gif.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0]); // 1×1 frame
    gif.extend_from_slice(&[2, 2, 0x44, 0x01, 0]); // LZW data
    gif.push(0x3B);
    gif
}

fn assert_too_large(bytes: &[u8], opts: &ImageOptions, want: (u32, u32)) {
    match transcode(bytes, opts) {
        Err(
            e @ ImageError::TooLarge {
                width,
                height,
                max_pixels,
            },
        ) => {
            assert_eq!((width, height), want, "{e}");
            assert_eq!(max_pixels, opts.max_pixels);
            assert_eq!(e.code(), "image_too_large");
        }
        other => panic!("expected TooLarge {want:?}, got {other:?}"),
    }
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn bombs_are_refused_from_the_header() {
    let opts = opts();
    assert_too_large(&png_bomb(30000, 30000), &opts, (30000, 30000));
    assert_too_large(&jpeg_bomb(60000, 60000), &opts, (60000, 60000));
    assert_too_large(&bmp_bomb(30000, 30000), &opts, (30000, 30000));
    assert_too_large(&bmp_bomb(30000, -30000), &opts, (30000, 30000));
    assert_too_large(&gif_bomb(65535, 65535), &opts, (65535, 65535));

    // Over max_pixels but under WebP's limit: the configured limit applies.
    let small = ImageOptions {
        max_pixels: 399,
        ..opts
    };
    let png = encode(&DynamicImage::ImageRgb8(gradient(20, 20)), ImageFormat::Png);
    assert_too_large(&png, &small, (20, 20));
    // One side over the limit: refused by `image::Limits` while reading the
    // header, and the size is still reported.
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Bmp,
        ImageFormat::Gif,
    ] {
        let wide = encode(&DynamicImage::ImageRgb8(gradient(500, 1)), format);
        assert_too_large(&wide, &small, (500, 1));
    }
    assert!(
        transcode(
            &png,
            &ImageOptions {
                max_pixels: 400,
                ..opts
            }
        )
        .is_ok()
    );
}

/// Runs `png_bomb_peak_memory` in a fresh process so that no other test's
/// allocations show in its peak RSS.
#[test]
fn png_bomb_peak_memory_is_bounded() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "png_bomb_peak_memory",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .args(["--test-threads=1"])
        .output()
        .expect("re-run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the child test ran:\n{stdout}");
}

#[test]
#[ignore = "run in its own process by png_bomb_peak_memory_is_bounded"]
fn png_bomb_peak_memory() {
    let opts = opts();
    let bombs = [
        ("png 30000×30000", png_bomb(30000, 30000), (30000, 30000)),
        ("jpeg 60000×60000", jpeg_bomb(60000, 60000), (60000, 60000)),
        ("bmp 30000×30000", bmp_bomb(30000, 30000), (30000, 30000)),
        ("gif 65535×65535", gif_bomb(65535, 65535), (65535, 65535)),
    ];
    for (name, bytes, dims) in bombs {
        let before = vm_hwm_kib();
        assert_too_large(&bytes, &opts, dims);
        let after = vm_hwm_kib();
        println!("{name}: VmHWM {before} KiB → {after} KiB");
        assert!(
            after.saturating_sub(before) < 100 * 1024,
            "{name}: peak RSS grew by {} KiB",
            after - before
        );
    }
    // The measurement itself works: touching 200 MiB shows up.
    let before = vm_hwm_kib();
    let block = vec![1u8; 200 << 20];
    assert_eq!(
        block
            .iter()
            .step_by(4096)
            .map(|&b| u64::from(b))
            .sum::<u64>(),
        51200
    );
    drop(block);
    let after = vm_hwm_kib();
    assert!(after - before > 150 * 1024, "VmHWM {before} → {after} KiB");
}

/// Informational: how long one 2 MP photo takes (debug build of this crate,
/// dependencies at the workspace's dev opt-level). Run with
/// `cargo test -p vaultstream-worker --test transcode -- --ignored --nocapture timing`.
#[test]
#[ignore = "informational timing, no assertion on time"]
fn timing_one_2mp_photo() {
    let bytes = std::fs::read(format!("{FIXTURES}/coffee_2mp.jpg")).unwrap();
    let opts = ImageOptions {
        quality: 80,
        method: 4,
        ..opts()
    };
    let _ = transcode(&bytes, &opts).unwrap(); // warm up
    let rgb = image::load_from_memory(&bytes).unwrap().to_rgb8();
    let (w, h) = rgb.dimensions();
    let settings = vaultstream_webp::Settings {
        quality: 80,
        method: 4,
        threads: false,
    };
    for _ in 0..3 {
        let start = std::time::Instant::now();
        let t = transcode(&bytes, &opts).unwrap();
        let total = start.elapsed();
        let start = std::time::Instant::now();
        let encoded =
            vaultstream_webp::encode(rgb.as_raw(), vaultstream_webp::Layout::Rgb, w, h, &settings)
                .unwrap();
        let encode = start.elapsed();
        println!(
            "{w}×{h}: transcode {total:?} (libwebp encode alone {encode:?}), \
             {} KiB → {} KiB",
            bytes.len() / 1024,
            t.bytes.len() / 1024
        );
        assert_eq!(encoded.len(), t.bytes.len());
    }
}

// ------------------------------------------------------------- not images

#[test]
fn html_json_and_empty_bodies_are_not_images() {
    let opts = opts();
    for html in [
        &b"<!DOCTYPE html><html><head><title>403</title></head></html>"[..],
        b"\xEF\xBB\xBF\r\n  <!doctype HTML>\n<html>",
        b"\n\n<html lang=en><body>Not found</body></html>",
        b"<HEAD><TITLE>Moved</TITLE></HEAD>",
        b"<!-- cache miss --><html></html>",
    ] {
        assert_eq!(
            sniff(html),
            Sniffed::Html,
            "{:?}",
            String::from_utf8_lossy(html)
        );
        match transcode(html, &opts) {
            Err(e @ ImageError::NotAnImage(_)) => {
                assert!(e.to_string().contains("HTML"), "{e}");
                assert_eq!(e.code(), "not_an_image");
            }
            other => panic!("expected NotAnImage, got {other:?}"),
        }
    }
    for json in [
        &b"{\"error\":\"not found\"}"[..],
        b"  \n[1, 2]",
        b"\xEF\xBB\xBF{ }",
        b"[{\"a\":1}]",
    ] {
        assert_eq!(sniff(json), Sniffed::Json);
        let err = transcode(json, &opts).unwrap_err();
        assert!(
            matches!(err, ImageError::NotAnImage(ref m) if m.contains("JSON")),
            "{err}"
        );
    }
    assert_eq!(sniff(b""), Sniffed::Empty);
    let err = transcode(b"", &opts).unwrap_err();
    assert!(
        matches!(err, ImageError::NotAnImage(ref m) if m.contains("empty")),
        "{err}"
    );

    let mp4 = b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41\0\0\0\x08free";
    let err = transcode(mp4, &opts).unwrap_err();
    assert!(
        matches!(err, ImageError::NotAnImage(ref m) if m.contains("mp4")),
        "{err}"
    );
}

#[test]
fn unsupported_formats() {
    let opts = opts();
    for (bytes, word) in [
        (
            &b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>"[..],
            "SVG",
        ),
        (b"<svg width=\"10\" height=\"10\"></svg>", "SVG"),
        (b"II*\0\x08\0\0\0\0\0\0\0", "TIF"),
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "HEIC"),
        (b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf", "AVIF"),
    ] {
        match transcode(bytes, &opts) {
            Err(e @ ImageError::Unsupported(_)) => {
                assert!(e.to_string().contains(word), "{e}");
                assert_eq!(e.code(), "unsupported_image");
            }
            other => panic!("{word}: expected Unsupported, got {other:?}"),
        }
    }
}

/// xorshift noise, deterministic.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn corrupt_input_is_an_error_not_a_panic() {
    let opts = opts();
    for seed in 1..50u64 {
        let bytes = noise(4096, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        match transcode(&bytes, &opts) {
            Err(
                ImageError::NotAnImage(_) | ImageError::Corrupt(_) | ImageError::Unsupported(_),
            ) => {}
            other => panic!("noise seed {seed}: {other:?}"),
        }
    }

    // Right magic, garbage after it.
    for magic in [
        &b"\xFF\xD8\xFF\xE0"[..],
        b"\x89PNG\r\n\x1a\n",
        b"GIF89a",
        b"RIFF\x00\x10\x00\x00WEBPVP8 ",
        b"BM\x00\x10\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00",
    ] {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&noise(2048, 7));
        let err = transcode(&bytes, &opts).expect_err("garbage must not decode");
        // (Random GIF/BMP header fields may also declare a huge size.)
        assert!(
            matches!(
                err,
                ImageError::Corrupt(_) | ImageError::Unsupported(_) | ImageError::TooLarge { .. }
            ),
            "{magic:?}: {err:?}"
        );
    }

    // A JPEG cut before its image data, and one cut mid-scan.
    let photo = std::fs::read(format!("{FIXTURES}/coffee_small.jpg")).unwrap();
    let sos = photo.windows(2).position(|m| m == [0xFF, 0xDA]).unwrap();
    let err = transcode(&photo[..sos], &opts).unwrap_err();
    assert!(matches!(err, ImageError::Corrupt(_)), "{err:?}");
    assert_eq!(err.code(), "corrupt_image");
    for cut in [
        sos + 10,
        photo.len() / 2,
        photo.len() - 100,
        photo.len() - 2,
    ] {
        // zune-jpeg alone would decode a partial scan (grey fill).
        let err = transcode(&photo[..cut], &opts).unwrap_err();
        assert!(
            matches!(err, ImageError::Corrupt(ref m) if m.contains("truncated")),
            "{err:?}"
        );
    }
    // Bytes after the end-of-image marker are harmless.
    let mut trailing = photo.clone();
    trailing.extend_from_slice(b"\xFF\xD8 appended junk \x00\x01");
    assert_webp(&transcode(&trailing, &opts).unwrap());

    // The other formats' decoders notice truncation themselves.
    let img = DynamicImage::ImageRgb8(gradient(64, 64));
    for format in [
        ImageFormat::Png,
        ImageFormat::WebP,
        ImageFormat::Bmp,
        ImageFormat::Gif,
    ] {
        let full = encode(&img, format);
        let cut = &full[..full.len() * 6 / 10];
        match transcode(cut, &opts) {
            Err(ImageError::Corrupt(m)) => println!("{format:?} cut at 60%: {m}"),
            other => panic!("{format:?} cut at 60%: {other:?}"),
        }
    }
}

/// Truncations and bit flips of every supported format: any outcome but a panic.
#[test]
fn mangled_images_never_panic() {
    let opts = opts();
    let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_fn(24, 16, |x, y| {
        Rgba([(x * 10) as u8, (y * 15) as u8, 99, (x * y) as u8])
    }));
    let mut sources = vec![
        encode(&rgba, ImageFormat::Png),
        encode(&DynamicImage::ImageRgb8(rgba.to_rgb8()), ImageFormat::Jpeg),
        encode(&rgba, ImageFormat::Gif),
        encode(&rgba, ImageFormat::WebP),
        encode(&DynamicImage::ImageRgb8(rgba.to_rgb8()), ImageFormat::Bmp),
        animated_gif(3, 24, 16),
    ];
    sources.push(
        transcode(
            &sources[0],
            &ImageOptions {
                quality: 60,
                ..opts
            },
        )
        .unwrap()
        .bytes,
    );
    for src in &sources {
        for cut in (0..src.len()).step_by((src.len() / 40).max(1)) {
            let _ = transcode(&src[..cut], &opts);
        }
        let mut bytes_noise = noise(1024, src.len() as u64 | 1).into_iter().cycle();
        let mut rng = move || usize::from(bytes_noise.next().unwrap_or(1));
        for _ in 0..100 {
            let mut bytes = src.clone();
            for _ in 0..3 {
                let pos = (rng() * 7919 + rng() * 31 + rng()) % bytes.len();
                bytes[pos] ^= (rng() as u8) | 1;
            }
            if let Ok(t) = transcode(&bytes, &opts) {
                assert!(t.ext == "webp" || t.ext == "gif");
            }
        }
    }
}

#[test]
fn zero_sized_images_are_corrupt() {
    let opts = opts();
    let err = transcode(&png_bomb(0, 10), &opts).unwrap_err();
    assert!(matches!(err, ImageError::Corrupt(_)), "{err:?}");
    // The BMP decoder itself calls a 0×0 header unsupported.
    let err = transcode(&bmp_bomb(0, 0), &opts).unwrap_err();
    assert!(
        matches!(err, ImageError::Corrupt(_) | ImageError::Unsupported(_)),
        "{err:?}"
    );
    let err = transcode(&gif_bomb(0, 0), &opts).unwrap_err();
    assert!(matches!(err, ImageError::Corrupt(_)), "{err:?}");
}

// -------------------------------------------------------------- animations

fn animated_gif(frames: u32, w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut out);
        enc.set_repeat(Repeat::Infinite).unwrap();
        let colours = [
            [255, 0, 0, 255],
            [0, 255, 0, 255],
            [0, 0, 255, 255],
            [255, 255, 0, 255],
        ];
        for i in 0..frames {
            let c = colours[i as usize % colours.len()];
            let buf = ImageBuffer::from_fn(w, h, |x, _| {
                if x < w / 2 {
                    Rgba(c)
                } else {
                    Rgba([0, 0, 0, 255])
                }
            });
            let delay = image::Delay::from_numer_denom_ms(80, 1);
            enc.encode_frame(Frame::from_parts(buf, 0, 0, delay))
                .unwrap();
        }
    }
    out
}

#[test]
fn animated_gif_becomes_animated_webp() {
    let gif = animated_gif(3, 40, 30);
    assert_eq!(sniff(&gif), Sniffed::Image(ImageFormat::Gif));
    let t = transcode(&gif, &opts()).unwrap();
    assert!(t.animated);
    assert_eq!(t.frames, 3);
    assert_eq!((t.width, t.height, t.source_format), (40, 30, "gif"));
    assert_eq!(t.ext, "webp", "the animation encoder worked: {t:?}");
    assert_eq!(t.mime, "image/webp");
    assert_eq!(&t.bytes[..4], b"RIFF");
    assert_eq!(&t.bytes[8..12], b"WEBP");
    assert_eq!(anim_loop_count(&t.bytes), 0, "loops forever, like the GIF");

    let dec = image::codecs::webp::WebPDecoder::new(Cursor::new(&t.bytes)).unwrap();
    assert!(dec.has_animation());
    assert_eq!(dec.dimensions(), (40, 30));
    let frames = dec.into_frames().collect_frames().unwrap();
    assert_eq!(frames.len(), 3);
    let mut total_ms = 0;
    for (i, f) in frames.iter().enumerate() {
        let (n, d) = f.delay().numer_denom_ms();
        total_ms += n / d;
        let px = f.buffer().get_pixel(5, 5);
        let want = [[255, 0, 0], [0, 255, 0], [0, 0, 255]][i];
        assert!(near(Rgb([px[0], px[1], px[2]]), want), "frame {i}: {px:?}");
    }
    assert_eq!(total_ms, 240, "delays survive");
}

/// The loop count in a WebP's ANIM chunk (background colour, then loop count).
fn anim_loop_count(webp: &[u8]) -> u16 {
    let at = webp
        .windows(4)
        .position(|c| c == b"ANIM")
        .expect("an ANIM chunk");
    u16::from_le_bytes([webp[at + 12], webp[at + 13]])
}

#[test]
fn animated_gif_loop_count_is_kept() {
    let mut gif = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut gif);
        enc.set_repeat(Repeat::Finite(2)).unwrap();
        for c in [[255, 0, 0, 255], [0, 0, 255, 255]] {
            let delay = image::Delay::from_numer_denom_ms(50, 1);
            let buf = ImageBuffer::from_pixel(8, 8, Rgba(c));
            enc.encode_frame(Frame::from_parts(buf, 0, 0, delay))
                .unwrap();
        }
    }
    let t = transcode(&gif, &opts()).unwrap();
    assert_eq!((t.ext, t.frames), ("webp", 2));
    assert_eq!(anim_loop_count(&t.bytes), 2);
}

#[test]
fn animated_gif_over_the_memory_budget_is_kept() {
    let gif = animated_gif(3, 64, 64);
    let opts = ImageOptions {
        max_alloc_bytes: 2 * 64 * 64 * 4,
        ..opts()
    };
    let t = transcode(&gif, &opts).unwrap();
    assert_eq!((t.ext, t.mime), ("gif", "image/gif"));
    assert!(t.animated);
    assert_eq!(t.frames, 3);
    assert_eq!((t.width, t.height), (64, 64));
    assert_eq!(t.bytes, gif, "kept byte for byte");
}

#[test]
fn single_frame_gif_is_a_still_image() {
    let gif = animated_gif(1, 20, 10);
    let t = transcode(&gif, &opts()).unwrap();
    assert!(!t.animated);
    assert_eq!((t.frames, t.source_format), (1, "gif"));
    assert_webp(&t);
}

#[test]
fn animated_webp_is_kept_as_is() {
    let settings = vaultstream_webp::Settings {
        quality: 75,
        method: 4,
        threads: false,
    };
    let a = vec![200u8; 16 * 8 * 4];
    let b = vec![50u8; 16 * 8 * 4];
    let mut enc = vaultstream_webp::AnimEncoder::new(16, 8, &settings, 0).unwrap();
    enc.add_frame(&a, 0).unwrap();
    enc.add_frame(&b, 100).unwrap();
    let src = enc.finish(200).unwrap();
    assert_eq!(sniff(&src), Sniffed::Image(ImageFormat::WebP));

    let t = transcode(&src, &opts()).unwrap();
    assert_eq!(
        (t.ext, t.mime, t.source_format),
        ("webp", "image/webp", "webp")
    );
    assert!(t.animated);
    assert_eq!(t.frames, 2);
    assert_eq!((t.width, t.height), (16, 8));
    assert_eq!(t.bytes, src);
}

// ------------------------------------------------------------- dimensions

#[test]
fn tall_image_is_scaled_to_fit_webp() {
    let png = encode(
        &DynamicImage::ImageRgb8(gradient(1000, 20000)),
        ImageFormat::Png,
    );
    let t = transcode(&png, &opts()).unwrap();
    assert_eq!((t.width, t.height), (819, 16383));
    assert_webp(&t);

    // Wide, and with a memory bound that forces the cheap resampler.
    let png = encode(
        &DynamicImage::ImageRgb8(gradient(17000, 50)),
        ImageFormat::Png,
    );
    let t = transcode(&png, &opts()).unwrap();
    assert_eq!((t.width, t.height), (16383, 48));
    let tight = ImageOptions {
        max_alloc_bytes: 4 << 20,
        ..opts()
    };
    let t = transcode(&png, &tight).unwrap();
    assert_eq!((t.width, t.height), (16383, 48));
    assert_webp(&t);
}

// ------------------------------------------------------------------ sniff

#[test]
fn sniff_magic_bytes() {
    let png = encode(&DynamicImage::ImageRgb8(gradient(4, 4)), ImageFormat::Png);
    let jpeg = encode(&DynamicImage::ImageRgb8(gradient(4, 4)), ImageFormat::Jpeg);
    let gif = encode(&DynamicImage::ImageRgb8(gradient(4, 4)), ImageFormat::Gif);
    let webp = encode(&DynamicImage::ImageRgb8(gradient(4, 4)), ImageFormat::WebP);
    let bmp = encode(&DynamicImage::ImageRgb8(gradient(4, 4)), ImageFormat::Bmp);
    assert_eq!(sniff(&png), Sniffed::Image(ImageFormat::Png));
    assert_eq!(sniff(&jpeg), Sniffed::Image(ImageFormat::Jpeg));
    assert_eq!(sniff(&gif), Sniffed::Image(ImageFormat::Gif));
    assert_eq!(sniff(&webp), Sniffed::Image(ImageFormat::WebP));
    assert_eq!(sniff(&bmp), Sniffed::Image(ImageFormat::Bmp));
    assert_eq!(sniff(&png[..8]), Sniffed::Image(ImageFormat::Png));

    assert_eq!(
        sniff(b"\0\0\0\x20ftypisom\0\0\x02\0isomiso2avc1mp41"),
        Sniffed::Video("mp4")
    );
    assert_eq!(
        sniff(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"),
        Sniffed::Video("mp4")
    );
    assert_eq!(
        sniff(b"\0\0\0\x14ftypqt  \0\0\0\0qt  "),
        Sniffed::Video("mov")
    );
    assert_eq!(
        sniff(b"\0\0\x01\x00moov\0\0\0\x6cmvhd"),
        Sniffed::Video("mov")
    );
    assert_eq!(
        sniff(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm"),
        Sniffed::Video("webm")
    );
    assert_eq!(
        sniff(b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska"),
        Sniffed::Video("mkv")
    );
    assert_eq!(sniff(b"FLV\x01\x05\0\0\0\x09"), Sniffed::Video("flv"));
    let mut ts = vec![0u8; 188 * 3];
    for p in 0..3 {
        ts[p * 188] = 0x47;
    }
    assert_eq!(sniff(&ts), Sniffed::Video("ts"));
    assert_eq!(sniff(&ts[..189]), Sniffed::Video("ts"));
    assert_eq!(
        sniff(&ts[..100]),
        Sniffed::Unknown,
        "one sync byte is not enough"
    );
    let mut m2ts = vec![0u8; 192 * 3];
    for p in 0..3 {
        m2ts[4 + p * 192] = 0x47;
    }
    assert_eq!(sniff(&m2ts), Sniffed::Video("ts"));
    // A GIF ("GIF8" starts with 0x47) is not a transport stream, whatever byte 188 is.
    let mut gif_like = gif.clone();
    gif_like.resize(400, 0);
    gif_like[188] = 0x47;
    gif_like[376] = 0x47;
    assert_eq!(sniff(&gif_like), Sniffed::Image(ImageFormat::Gif));
    assert_eq!(
        sniff(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"),
        Sniffed::Image(ImageFormat::Avif)
    );
    assert_eq!(
        sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
        Sniffed::Unknown
    );

    assert_eq!(sniff(b"<!DOCTYPE html>"), Sniffed::Html);
    assert_eq!(sniff(b"  \t\r\n<html>"), Sniffed::Html);
    assert_eq!(sniff(b"\xEF\xBB\xBF<!doctype html>"), Sniffed::Html);
    assert_eq!(
        sniff(b"<?xml version=\"1.0\"?><html xmlns=\"x\">"),
        Sniffed::Html
    );
    assert_eq!(sniff(b"{\"ok\":false}"), Sniffed::Json);
    assert_eq!(sniff(b"[]"), Sniffed::Json);
    assert_eq!(sniff(b""), Sniffed::Empty);
    assert_eq!(sniff(b"hello world"), Sniffed::Unknown);
    assert_eq!(sniff(b"GET / HTTP/1.1"), Sniffed::Unknown);
    assert_eq!(sniff(b"{not json"), Sniffed::Unknown);
}

#[test]
fn error_codes_are_stable() {
    let cases = [
        (ImageError::NotAnImage(String::new()), "not_an_image"),
        (ImageError::Unsupported(String::new()), "unsupported_image"),
        (
            ImageError::TooLarge {
                width: 1,
                height: 1,
                max_pixels: 0,
            },
            "image_too_large",
        ),
        (ImageError::Corrupt(String::new()), "corrupt_image"),
        (ImageError::Encode(String::new()), "encode_failed"),
    ];
    for (err, code) in cases {
        assert_eq!(err.code(), code);
    }
}

#[test]
fn options_from_settings() {
    let settings = Settings::defaults().unwrap();
    let o = ImageOptions::from_settings(&settings.media);
    assert_eq!(o.quality, settings.media.webp_quality);
    assert_eq!(o.method, settings.media.webp_method);
    assert_eq!(o.max_pixels, settings.media.max_pixels);
    assert_eq!(
        o.max_alloc_bytes,
        settings.media.max_pixels * 8 + (64 << 20)
    );
}
