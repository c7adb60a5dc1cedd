#!/usr/bin/env python3
"""Pillow's WebP encoder on the same images, for VaultStream's image benchmark.

One process, one core: for each file the same stages as our media step —
decode (open + load), transform (EXIF orientation, conversion to RGB or
RGBA), encode (save as WebP in memory with the given quality and method,
Pillow's `Image.save(..., "WEBP")`), hash (SHA-256 of the output, the blob's
name) — for `--passes` passes over the files. Prints one JSON object:
{"images", "seconds", "images_per_s", "mp_per_s", "cpu_seconds",
"out_bytes", "stages_s",
"pillow", "libwebp", "libjpeg_turbo"} where out_bytes is the output of one
pass and stages_s the seconds spent in each stage over all passes.

    python3 bench/pillow_baseline.py --quality 80 --method 4 --passes 3 a.jpg b.png ...
"""
import argparse
import hashlib
import io
import json
import sys
import time

from PIL import Image, ImageOps, features

STAGES = ("decode", "transform", "encode", "hash")


def encode(data, quality, method, stages):
    clock = time.perf_counter
    t0 = clock()
    im = Image.open(io.BytesIO(data))
    im.load()
    t1 = clock()
    ImageOps.exif_transpose(im, in_place=True)
    if im.im.mode != im.mode:
        # Pillow 13 opens a GIF whose palette is all greys as mode "L" while
        # its pixels stay palette indices ("P"), and converting that to RGB
        # gives a black picture (measured: a 2 MP grey GIF became a 3.6 KB
        # black WebP and made Pillow's output 4.5 % smaller than ours).
        # Rebuild the image from the grey values it reports.
        im = Image.frombytes(im.mode, im.size, im.tobytes())
    if im.mode not in ("RGB", "RGBA"):
        has_alpha = im.mode in ("LA", "PA") or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
    t2 = clock()
    out = io.BytesIO()
    im.save(out, "WEBP", quality=quality, method=method)
    t3 = clock()
    hashlib.sha256(out.getbuffer()).digest()
    t4 = clock()
    for name, spent in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
        stages[name] += spent
    return len(out.getvalue()), im.width * im.height


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quality", type=int, default=80)
    ap.add_argument("--method", type=int, default=4)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    blobs = [open(f, "rb").read() for f in a.files]
    stages = dict.fromkeys(STAGES, 0.0)
    encode(blobs[0], a.quality, a.method, dict(stages))  # warm-up, like the Rust side
    start = time.perf_counter()
    cpu_start = time.process_time()
    images = 0
    pixels = 0
    out_bytes = 0
    for _ in range(a.passes):
        out_bytes = 0
        for b in blobs:
            n, px = encode(b, a.quality, a.method, stages)
            out_bytes += n
            pixels += px
            images += 1
    secs = time.perf_counter() - start
    cpu_secs = time.process_time() - cpu_start
    json.dump(
        {
            "images": images,
            "seconds": round(secs, 3),
            "images_per_s": images / secs,
            "mp_per_s": pixels / 1e6 / secs,
            "cpu_seconds": round(cpu_secs, 3),
            "out_bytes": out_bytes,
            "stages_s": {k: round(v, 4) for k, v in stages.items()},
            "pillow": Image.__version__ if hasattr(Image, "__version__") else "?",
            "libwebp": features.version("webp"),
            "libjpeg_turbo": features.version("libjpeg_turbo"),
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
