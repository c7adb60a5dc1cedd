//! Images: the media step's CPU work per image (our `transcode` — sniff,
//! bounded decode, EXIF orientation, WebP encode — plus the SHA-256 that
//! names the blob) on a corpus of real photos, per core and with every
//! core, beside a bare decode + libwebp encode loop of the same images at
//! the same settings, and beside Pillow (`bench/pillow_baseline.py`, one
//! process) on the same files, in the same run. Each 1-core row splits the
//! time into stages (decode, transform, encode, hash; Pillow's script
//! times the same four) and gives the rate per CPU-second beside the
//! wall-clock rate (steadier when other work shares the cores).
//!
//! The corpus: the JPEG photos of `shared/fixtures/media` (0.2–2 MP), plus
//! PNG and GIF re-encodings of some of them, written once to a temp dir so
//! Pillow reads exactly the same files.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use image::{DynamicImage, GenericImageView, ImageFormat};
use sha2::{Digest, Sha256};
use vaultstream_worker::media::image::{ImageOptions, transcode_timed};
use vaultstream_worker::media::stages::StageTimes;

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

/// Seconds spent per stage, summed over every image of a measurement.
#[derive(Debug, Clone, Copy, Default)]
struct Stages {
    /// Sniffing, header checks, decoding to pixels.
    decode: f64,
    /// EXIF orientation, 8-bit RGB(A) conversion, fitting WebP's size limit.
    transform: f64,
    /// libwebp.
    encode: f64,
    /// SHA-256 of the output (the blob's name).
    hash: f64,
}

impl Stages {
    fn add(&mut self, o: &Stages) {
        self.decode += o.decode;
        self.transform += o.transform;
        self.encode += o.encode;
        self.hash += o.hash;
    }

    /// Milliseconds per image, "decode 12.1 / transform 0.4 / encode 80.2 /
    /// hash 0.3 ms".
    fn per_image(&self, images: f64) -> String {
        let ms = |s: f64| s * 1000.0 / images.max(1.0);
        format!(
            "decode {:.1} / transform {:.1} / encode {:.1} / hash {:.1} ms per image",
            ms(self.decode),
            ms(self.transform),
            ms(self.encode),
            ms(self.hash)
        )
    }
}

/// What one encoder did: images and megapixels per second, output bytes
/// per pass over the corpus, where the time went.
#[derive(Debug, Clone, Copy, Default)]
struct Rate {
    per_s: f64,
    mp_per_s: f64,
    out_bytes: u64,
    images: f64,
    stages: Stages,
    /// Images per second of CPU time (user + system) of the measuring
    /// process: steadier than `per_s` when other work shares the cores.
    per_cpu_s: f64,
}

/// An encoder under test: output bytes of one image, its stages added to
/// the `Stages`.
type EncodeFn = fn(&[u8], &ImageOptions, &mut Stages) -> anyhow::Result<u64>;

/// `threads` threads, each encoding the corpus `passes` times with `f`.
fn timed(
    corpus: &Corpus,
    threads: usize,
    passes: usize,
    f: EncodeFn,
    opts: &ImageOptions,
) -> anyhow::Result<Rate> {
    let start = Instant::now();
    let cpu_start = cpu_secs();
    let outs: Vec<anyhow::Result<(u64, Stages)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut out = 0;
                    let mut stages = Stages::default();
                    for _ in 0..passes {
                        out = 0;
                        for b in &corpus.bytes {
                            out += f(b, opts, &mut stages)?;
                        }
                    }
                    Ok((out, stages))
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
    let cpu = cpu_secs() - cpu_start;
    let mut out_bytes = 0;
    let mut stages = Stages::default();
    for o in outs {
        let (out, s) = o?;
        out_bytes = out;
        stages.add(&s);
    }
    let images = (corpus.bytes.len() * passes * threads) as f64;
    let mp = corpus.mp.iter().sum::<f64>() * (passes * threads) as f64;
    Ok(Rate {
        per_s: images / secs,
        mp_per_s: mp / secs,
        out_bytes,
        images,
        stages,
        per_cpu_s: images / cpu.max(0.01),
    })
}

/// Our media step: transcode and hash the result.
fn ours(bytes: &[u8], opts: &ImageOptions, stages: &mut Stages) -> anyhow::Result<u64> {
    let mut times = StageTimes::default();
    let t =
        transcode_timed(bytes, opts, &mut times).map_err(|e| anyhow::anyhow!("transcode: {e}"))?;
    let start = Instant::now();
    let sha = Sha256::digest(&t.bytes);
    std::hint::black_box(sha);
    stages.add(&Stages {
        decode: times.decode.as_secs_f64(),
        transform: times.transform.as_secs_f64(),
        encode: times.encode.as_secs_f64(),
        hash: start.elapsed().as_secs_f64(),
    });
    Ok(t.bytes.len() as u64)
}

/// The bare loop: decode with `image`, encode with libwebp, same settings.
fn bare(bytes: &[u8], opts: &ImageOptions, stages: &mut Stages) -> anyhow::Result<u64> {
    let start = Instant::now();
    let img = image::load_from_memory(bytes)?;
    let decoded = Instant::now();
    let img = if img.color().has_alpha() {
        DynamicImage::ImageRgba8(img.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(img.into_rgb8())
    };
    let converted = Instant::now();
    let settings = vaultstream_webp::Settings {
        quality: opts.quality,
        method: opts.method,
        threads: false,
    };
    let (w, h) = img.dimensions();
    let (pixels, layout) = match &img {
        DynamicImage::ImageRgba8(b) => (b.as_raw(), vaultstream_webp::Layout::Rgba),
        DynamicImage::ImageRgb8(b) => (b.as_raw(), vaultstream_webp::Layout::Rgb),
        _ => anyhow::bail!("not 8-bit RGB(A)"),
    };
    let out = vaultstream_webp::encode(pixels, layout, w, h, &settings)?;
    stages.add(&Stages {
        decode: (decoded - start).as_secs_f64(),
        transform: (converted - decoded).as_secs_f64(),
        encode: converted.elapsed().as_secs_f64(),
        hash: 0.0,
    });
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
    let stage = |name: &str| v["stages_s"][name].as_f64().unwrap_or(0.0);
    Ok(Rate {
        per_s: v["images_per_s"].as_f64().unwrap_or(0.0),
        mp_per_s: v["mp_per_s"].as_f64().unwrap_or(0.0),
        out_bytes: v["out_bytes"].as_u64().unwrap_or(0),
        images: v["images"].as_f64().unwrap_or(0.0),
        per_cpu_s: v["images"].as_f64().unwrap_or(0.0)
            / v["cpu_seconds"].as_f64().unwrap_or(f64::NAN).max(0.01),
        stages: Stages {
            decode: stage("decode"),
            transform: stage("transform"),
            encode: stage("encode"),
            hash: stage("hash"),
        },
    })
}

/// CPU time (user + system) of this process so far, in seconds, from
/// `/proc/self/stat` (clock ticks of 1/100 s, Linux's `USER_HZ`); 0 where
/// there is no procfs.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) in parentheses;
    // utime and stime are fields 14 and 15, the 12th and 13th after it.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

fn ms_per_image(secs: f64, images: f64) -> f64 {
    secs * 1000.0 / images.max(1.0)
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
        ours(&corpus.bytes[0], &o, &mut Stages::default())?;
        bare(&corpus.bytes[0], &o, &mut Stages::default())?;

        reset_peak();
        let ours1 = timed(&corpus, 1, passes, ours, &o)?;
        let peak_mb = crate::deploy::peak_kb(std::process::id()) as f64 / 1024.0;
        let bare1 = timed(&corpus, 1, passes, bare, &o)?;
        let ours_n = timed(&corpus, cores, passes, ours, &o)?;
        let bare_n = timed(&corpus, cores, passes, bare, &o)?;
        let pil = pillow(opts, &corpus, &o, passes);

        let settings_desc = format!("q{} m{}", o.quality, method);
        let pil_rate = pil.as_ref().ok().copied();
        let pil_desc = match &pil {
            Ok(p) => format!(
                "Pillow 1 process {:.1} img/s ({:.1} per CPU-second, {:.1} MP/s), {} KiB out; {}",
                p.per_s,
                p.per_cpu_s,
                p.mp_per_s,
                p.out_bytes / 1024,
                p.stages.per_image(p.images)
            ),
            Err(e) => format!("Pillow unavailable: {e}"),
        };
        let vs_bare1 = ours1.per_s / bare1.per_s;
        let scaling = ours_n.per_s / ours1.per_s;
        let mut row1 = Row::new("images", format!("{settings_desc}, 1 core, {corpus_desc}"))
            .num("per_s", ours1.per_s)
            .num("per_cpu_s", ours1.per_cpu_s)
            .num("mp_per_s", ours1.mp_per_s)
            .metric("out_bytes", ours1.out_bytes)
            .metric(
                "in_bytes",
                corpus.bytes.iter().map(|b| b.len() as u64).sum::<u64>(),
            )
            .num("peak_rss_mb", peak_mb)
            .num("bare_per_s", bare1.per_s)
            .num("vs_bare", vs_bare1)
            .num("decode_ms", ms_per_image(ours1.stages.decode, ours1.images))
            .num(
                "transform_ms",
                ms_per_image(ours1.stages.transform, ours1.images),
            )
            .num("encode_ms", ms_per_image(ours1.stages.encode, ours1.images))
            .num("hash_ms", ms_per_image(ours1.stages.hash, ours1.images))
            .result(format!(
                "{:.1} img/s ({:.1} per CPU-second), {:.1} MP/s, {} KiB out, peak RSS {:.0} MiB; {}",
                ours1.per_s,
                ours1.per_cpu_s,
                ours1.mp_per_s,
                ours1.out_bytes / 1024,
                peak_mb,
                ours1.stages.per_image(ours1.images)
            ));
        let mut row_n = Row::new(
            "images",
            format!("{settings_desc}, {cores} cores, same corpus"),
        )
        .num("per_s", ours_n.per_s)
        .num("mp_per_s", ours_n.mp_per_s)
        .num("bare_per_s", bare_n.per_s)
        .num("vs_bare", ours_n.per_s / bare_n.per_s)
        .num("vs_one_core", scaling)
        .result(format!(
            "{:.1} img/s, {:.1} MP/s ({scaling:.2}× one core)",
            ours_n.per_s, ours_n.mp_per_s
        ));
        match pil_rate {
            Some(p) => {
                let r1 = ours1.per_s / p.per_s;
                let rn = ours_n.per_s / p.per_s;
                let size = ours1.out_bytes as f64 / p.out_bytes.max(1) as f64;
                row1 = row1
                    .num("pillow_per_s", p.per_s)
                    .num("pillow_per_cpu_s", p.per_cpu_s)
                    .num("vs_pillow", r1)
                    .num("vs_pillow_cpu", ours1.per_cpu_s / p.per_cpu_s)
                    .num("size_vs_pillow", size)
                    .num("pillow_decode_ms", ms_per_image(p.stages.decode, p.images))
                    .num(
                        "pillow_transform_ms",
                        ms_per_image(p.stages.transform, p.images),
                    )
                    .num("pillow_encode_ms", ms_per_image(p.stages.encode, p.images))
                    .num("pillow_hash_ms", ms_per_image(p.stages.hash, p.images))
                    .baseline(
                        format!(
                            "{pil_desc}; bare decode+libwebp {:.1} img/s ({vs_bare1:.2}×)",
                            bare1.per_s
                        ),
                        Some(r1),
                    )
                    .target(
                        "≥ 1.1× Pillow, output within 2 % of Pillow's, ≥ 0.9× bare",
                        r1 >= 1.1 && (size - 1.0).abs() <= 0.02 && vs_bare1 >= 0.9,
                    );
                row_n = row_n
                    .num("pillow_per_s", p.per_s)
                    .num("vs_pillow", rn)
                    .baseline(
                        format!(
                            "Pillow 1 process {:.1} img/s; bare {:.1} img/s",
                            p.per_s, bare_n.per_s
                        ),
                        Some(rn),
                    )
                    .target(
                        "≥ 1.9× Pillow (1 process), ≥ 1.9× one core",
                        rn >= 1.9 && scaling >= 1.9,
                    );
            }
            None => {
                row1 = row1
                    .baseline(
                        format!("bare decode+libwebp {:.1} img/s; {pil_desc}", bare1.per_s),
                        Some(vs_bare1),
                    )
                    .target("≥ 1.1× Pillow (Pillow missing)", false);
                row_n = row_n
                    .baseline(
                        format!("bare {:.1} img/s", bare_n.per_s),
                        Some(ours_n.per_s / bare_n.per_s),
                    )
                    .target("≥ 1.9× Pillow (Pillow missing)", false);
            }
        }
        rows.push(row1);
        rows.push(row_n);
    }
    Ok(rows)
}
