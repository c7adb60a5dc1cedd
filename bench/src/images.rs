//! Images: the media step's CPU work per image (our `transcode` — sniff,
//! bounded decode, EXIF orientation, WebP encode — plus the SHA-256 that
//! names the blob) on a corpus of real photos, per core and with every
//! core, beside a bare decode + libwebp encode loop of the same images at
//! the same settings, and beside Pillow (`bench/pillow_baseline.py`, one
//! process) on the same files, in the same run.
//!
//! The corpus: the JPEG photos of `shared/fixtures/media` (0.2–2 MP), plus
//! PNG and GIF re-encodings of some of them, written once to a temp dir so
//! Pillow reads exactly the same files.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use image::{DynamicImage, GenericImageView, ImageFormat};
use sha2::{Digest, Sha256};
use vaultstream_worker::media::image::{ImageOptions, transcode};

use crate::Opts;
use crate::report::Row;

struct Corpus {
    _dir: tempfile::TempDir,
    files: Vec<PathBuf>,
    bytes: Vec<Vec<u8>>,
    /// Megapixels per image, in corpus order.
    mp: Vec<f64>,
}

fn build_corpus(photos: &Path, quick: bool) -> anyhow::Result<Corpus> {
    let dir = tempfile::tempdir()?;
    let mut jpegs: Vec<PathBuf> = std::fs::read_dir(photos)
        .with_context(|| format!("reading the photo corpus {}", photos.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jpg" || e == "jpeg"))
        .collect();
    jpegs.sort();
    anyhow::ensure!(!jpegs.is_empty(), "no JPEG photos in {}", photos.display());
    if quick {
        jpegs.truncate(4);
    }
    let mut files = Vec::new();
    for (i, src) in jpegs.iter().enumerate() {
        let name = src.file_name().map(|n| n.to_owned()).unwrap_or_default();
        let dst = dir.path().join(&name);
        std::fs::copy(src, &dst)?;
        files.push(dst);
        // Every fourth photo also as PNG, every fourth (offset) as a GIF:
        // the formats people share besides JPEG.
        let img = || image::open(src).with_context(|| format!("decoding {}", src.display()));
        if i % 4 == 0 {
            let p = dir.path().join(format!("{}.png", stem(src)));
            img()?.save_with_format(&p, ImageFormat::Png)?;
            files.push(p);
        }
        if i % 4 == 2 {
            let p = dir.path().join(format!("{}.gif", stem(src)));
            // GIF is 8-bit palette: quantised from RGBA by the encoder.
            DynamicImage::ImageRgba8(img()?.to_rgba8()).save_with_format(&p, ImageFormat::Gif)?;
            files.push(p);
        }
    }
    let mut bytes = Vec::new();
    let mut mp = Vec::new();
    for f in &files {
        let b = std::fs::read(f)?;
        let (w, h) = image::load_from_memory(&b)?.dimensions();
        mp.push(f64::from(w) * f64::from(h) / 1e6);
        bytes.push(b);
    }
    Ok(Corpus {
        _dir: dir,
        files,
        bytes,
        mp,
    })
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What one encoder did: images and megapixels per second, output bytes
/// per pass over the corpus.
#[derive(Debug, Clone, Copy, Default)]
struct Rate {
    per_s: f64,
    mp_per_s: f64,
    out_bytes: u64,
}

/// `threads` threads, each encoding the corpus `passes` times with `f`.
fn timed(
    corpus: &Corpus,
    threads: usize,
    passes: usize,
    f: fn(&[u8], &ImageOptions) -> anyhow::Result<u64>,
    opts: &ImageOptions,
) -> anyhow::Result<Rate> {
    let start = Instant::now();
    let outs: Vec<anyhow::Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = 0;
                    for _ in 0..passes {
                        out = 0;
                        for b in &corpus.bytes {
                            out += f(b, opts)?;
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("encoder thread panicked")))
            })
            .collect()
    });
    let secs = start.elapsed().as_secs_f64();
    let mut out_bytes = 0;
    for o in outs {
        out_bytes = o?;
    }
    let images = (corpus.bytes.len() * passes * threads) as f64;
    let mp = corpus.mp.iter().sum::<f64>() * (passes * threads) as f64;
    Ok(Rate {
        per_s: images / secs,
        mp_per_s: mp / secs,
        out_bytes,
    })
}

/// Our media step: transcode and hash the result.
fn ours(bytes: &[u8], opts: &ImageOptions) -> anyhow::Result<u64> {
    let t = transcode(bytes, opts).map_err(|e| anyhow::anyhow!("transcode: {e}"))?;
    let sha = Sha256::digest(&t.bytes);
    std::hint::black_box(sha);
    Ok(t.bytes.len() as u64)
}

/// The bare loop: decode with `image`, encode with libwebp, same settings.
fn bare(bytes: &[u8], opts: &ImageOptions) -> anyhow::Result<u64> {
    let img = image::load_from_memory(bytes)?;
    let img = if img.color().has_alpha() {
        DynamicImage::ImageRgba8(img.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(img.into_rgb8())
    };
    let mut config = webp::WebPConfig::new().map_err(|()| anyhow::anyhow!("WebPConfig"))?;
    config.quality = f32::from(opts.quality);
    config.method = i32::from(opts.method);
    config.alpha_compression = 1;
    let enc = webp::Encoder::from_image(&img).map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = enc
        .encode_advanced(&config)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(out.len() as u64)
}

/// Pillow's rate on the same files (one process), or why not.
fn pillow(opts_: &Opts, corpus: &Corpus, o: &ImageOptions, passes: usize) -> Result<Rate, String> {
    let out = std::process::Command::new(&opts_.python)
        .arg(&opts_.pillow_script)
        .args(["--quality", &o.quality.to_string()])
        .args(["--method", &o.method.to_string()])
        .args(["--passes", &passes.to_string()])
        .args(&corpus.files)
        .output()
        .map_err(|e| format!("{}: {e}", opts_.python))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("pillow output: {e}"))?;
    Ok(Rate {
        per_s: v["images_per_s"].as_f64().unwrap_or(0.0),
        mp_per_s: v["mp_per_s"].as_f64().unwrap_or(0.0),
        out_bytes: v["out_bytes"].as_u64().unwrap_or(0),
    })
}

/// Reset this process's peak resident memory (VmHWM) so the next reading
/// covers only what follows.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub async fn run(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let opts = opts.clone();
    tokio::task::spawn_blocking(move || run_blocking(&opts)).await?
}

fn run_blocking(opts: &Opts) -> anyhow::Result<Vec<Row>> {
    let corpus = build_corpus(&opts.photos, opts.quick)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let passes = if opts.quick { 1 } else { 3 };
    let settings =
        vaultstream_core::Settings::load(&vaultstream_core::settings::SettingsSources::new())?;
    let mut rows = Vec::new();
    let n = corpus.bytes.len();
    let mp_total: f64 = corpus.mp.iter().sum();
    let jpeg = corpus
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "jpg"))
        .count();
    let corpus_desc = format!(
        "{n} images ({jpeg} JPEG, {} PNG, {} GIF; {:.1}–{:.1} MP, {:.1} MP in all)",
        corpus
            .files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "png"))
            .count(),
        corpus
            .files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "gif"))
            .count(),
        corpus.mp.iter().copied().fold(f64::INFINITY, f64::min),
        corpus.mp.iter().copied().fold(0.0, f64::max),
        mp_total,
    );
    // The shipped default (method 4) and the original's setting (method 6).
    let methods: &[u8] = if opts.quick {
        &[settings.media.webp_method]
    } else {
        &[settings.media.webp_method, 6]
    };
    for &method in methods {
        let mut o = ImageOptions::from_settings(&settings.media);
        o.method = method;
        // Warm up caches and lazy statics.
        ours(&corpus.bytes[0], &o)?;
        bare(&corpus.bytes[0], &o)?;

        reset_peak();
        let ours1 = timed(&corpus, 1, passes, ours, &o)?;
        let peak_mb = crate::deploy::peak_kb(std::process::id()) as f64 / 1024.0;
        let bare1 = timed(&corpus, 1, passes, bare, &o)?;
        let ours_n = timed(&corpus, cores, passes, ours, &o)?;
        let bare_n = timed(&corpus, cores, passes, bare, &o)?;
        let pil = pillow(opts, &corpus, &o, passes);

        let settings_desc = format!("q{} m{}", o.quality, method);
        let (pil_desc, pil_rate) = match &pil {
            Ok(p) => (
                format!(
                    "; Pillow 1 process {:.1} img/s ({:.1} MP/s), {} KiB out",
                    p.per_s,
                    p.mp_per_s,
                    p.out_bytes / 1024
                ),
                Some(*p),
            ),
            Err(e) => (format!("; Pillow unavailable: {e}"), None),
        };
        let vs_bare1 = ours1.per_s / bare1.per_s;
        let mut row1 = Row::new("images", format!("{settings_desc}, 1 core, {corpus_desc}"))
            .num("per_s", ours1.per_s)
            .num("mp_per_s", ours1.mp_per_s)
            .metric("out_bytes", ours1.out_bytes)
            .metric(
                "in_bytes",
                corpus.bytes.iter().map(|b| b.len() as u64).sum::<u64>(),
            )
            .num("peak_rss_mb", peak_mb)
            .num("bare_per_s", bare1.per_s)
            .num("vs_bare", vs_bare1)
            .result(format!(
                "{:.1} img/s, {:.1} MP/s, {} KiB out, peak RSS {:.0} MiB",
                ours1.per_s,
                ours1.mp_per_s,
                ours1.out_bytes / 1024,
                peak_mb
            ))
            .baseline(
                format!("bare decode+libwebp {:.1} img/s{pil_desc}", bare1.per_s),
                Some(vs_bare1),
            );
        let mut row_n = Row::new(
            "images",
            format!("{settings_desc}, {cores} cores, same corpus"),
        )
        .num("per_s", ours_n.per_s)
        .num("mp_per_s", ours_n.mp_per_s)
        .num("bare_per_s", bare_n.per_s)
        .num("vs_bare", ours_n.per_s / bare_n.per_s)
        .result(format!(
            "{:.1} img/s, {:.1} MP/s",
            ours_n.per_s, ours_n.mp_per_s
        ))
        .baseline(
            format!(
                "bare {:.1} img/s{}",
                bare_n.per_s,
                pil_rate
                    .map(|p| format!("; Pillow 1 process {:.1} img/s", p.per_s))
                    .unwrap_or_default()
            ),
            Some(ours_n.per_s / bare_n.per_s),
        );
        match pil_rate {
            Some(p) => {
                let r1 = ours1.per_s / p.per_s;
                let rn = ours_n.per_s / p.per_s;
                row1 = row1
                    .num("pillow_per_s", p.per_s)
                    .num("vs_pillow", r1)
                    .target("≥ 0.9× bare, ≥ 1.0× Pillow", vs_bare1 >= 0.9 && r1 >= 1.0);
                row_n = row_n
                    .num("pillow_per_s", p.per_s)
                    .num("vs_pillow", rn)
                    .target(
                        "≥ 0.9× bare, ≥ 1.8× Pillow (1 process)",
                        ours_n.per_s / bare_n.per_s >= 0.9 && rn >= 1.8,
                    );
            }
            None => {
                row1 = row1.target("≥ 0.9× bare, ≥ 1.0× Pillow (Pillow missing)", false);
                row_n = row_n.target("≥ 0.9× bare, ≥ 1.8× Pillow (Pillow missing)", false);
            }
        }
        rows.push(row1);
        rows.push(row_n);
    }
    Ok(rows)
}
