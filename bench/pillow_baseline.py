#!/usr/bin/env python3
"""Pillow's WebP encoder on the same images, for VaultStream's image benchmark.

One process, one core: open each file, decode it, save it as WebP in memory
with the given quality and method (Pillow's `Image.save(..., "WEBP")`), for
`--passes` passes over the files. Prints one JSON object:
{"images", "seconds", "images_per_s", "mp_per_s", "out_bytes", "pillow", "libwebp"}
where out_bytes is the output of one pass.

    python3 bench/pillow_baseline.py --quality 80 --method 4 --passes 3 a.jpg b.png ...
"""
import argparse
import io
import json
import sys
import time

from PIL import Image, features


def encode(data, quality, method):
    im = Image.open(io.BytesIO(data))
    im.load()
    if im.mode not in ("RGB", "RGBA"):
        has_alpha = im.mode in ("LA", "PA") or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
    out = io.BytesIO()
    im.save(out, "WEBP", quality=quality, method=method)
    return len(out.getvalue()), im.width * im.height


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quality", type=int, default=80)
    ap.add_argument("--method", type=int, default=4)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    blobs = [open(f, "rb").read() for f in a.files]
    encode(blobs[0], a.quality, a.method)  # warm-up, like the Rust side
    start = time.perf_counter()
    images = 0
    pixels = 0
    out_bytes = 0
    for _ in range(a.passes):
        out_bytes = 0
        for b in blobs:
            n, px = encode(b, a.quality, a.method)
            out_bytes += n
            pixels += px
            images += 1
    secs = time.perf_counter() - start
    json.dump(
        {
            "images": images,
            "seconds": round(secs, 3),
            "images_per_s": images / secs,
            "mp_per_s": pixels / 1e6 / secs,
            "out_bytes": out_bytes,
            "pillow": Image.__version__ if hasattr(Image, "__version__") else "?",
            "libwebp": features.version("webp"),
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
