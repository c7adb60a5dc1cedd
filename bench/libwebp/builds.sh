#!/usr/bin/env bash
# Issue 22: can a build of libwebp beat the one we ship? Builds the libwebp
# 1.6 sources that libwebp-sys vendors (the ones our binary compiles) into
# a small encoder (encode.c: q80, one thread, encode time only) several
# ways, and times each on the photo corpus at method 6:
#   plain    -O3 -msse4.1, as libwebp-sys builds it
#   pgo      the same, profile-guided (trained on the small photos at
#            methods 4 and 6, measured on the 2 MP ones)
#   o2       -O2
#   unroll   -O3 -funroll-loops
#   lto      -O3 -flto
# Usage: bench/libwebp/builds.sh [WORKDIR]   (needs gcc and Pillow)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
media="$here/../../../shared/fixtures/media"
work=${1:-/tmp/vaultstream-libwebp-builds}
V=$(ls -d "$HOME"/.cargo/registry/src/*/libwebp-sys-0.14.4/vendor | head -n1)
mkdir -p "$work/raw" && cd "$work"
python3 - "$media" "$work/raw" <<'PY'
import glob, os, struct, sys
from PIL import Image
for f in sorted(glob.glob(os.path.join(sys.argv[1], '*.jpg'))):
    im = Image.open(f).convert('RGB')
    out = os.path.join(sys.argv[2], os.path.basename(f) + '.rgb')
    open(out, 'wb').write(struct.pack('<II', *im.size) + im.tobytes())
PY
base="-march=x86-64 -msse4.1 -DWEBP_HAVE_SSE2=1 -DWEBP_HAVE_SSE41=1 -DNDEBUG=1 -D_THREAD_SAFE=1 -DWEBP_USE_THREAD=1 -fvisibility=hidden -I$V -I$V/src"
srcs=$(ls "$V"/src/*/*.c "$V"/sharpyuv/*.c | grep -v "demux\|/mux/")
build() { # NAME FLAGS
  # Objects under a relative path: the profile files are named after it.
  local d="obj-$1"; rm -rf "$d"; mkdir -p "$d"
  for s in $srcs "$here/encode.c"; do
    echo "$s"
  done | FLAGS="$base $2" D="$d" xargs -P "$(nproc)" -I{} sh -c \
    'gcc $FLAGS -c {} -o "$D/$(echo {} | tr / _).o" 2>/dev/null'
  gcc $2 "$d"/*.o -o "$work/enc-$1" -lpthread -lm
}
build plain "-O3"
build o2 "-O2"
build unroll "-O3 -funroll-loops"
build lto "-O3 -flto=auto"
rm -rf prof
build gen "-O3 -fprofile-generate -fprofile-update=single -fprofile-dir=$work/prof"
"$work/enc-gen" 6 1 raw/*_small.jpg.rgb >/dev/null
"$work/enc-gen" 4 1 raw/*_small.jpg.rgb >/dev/null
for f in prof/*; do mv "$f" "${f//obj-gen/obj-pgo}"; done
build pgo "-O3 -fprofile-use -fprofile-partial-training -fprofile-dir=$work/prof -Wno-missing-profile"
for round in 1 2 3; do
  for b in plain pgo o2 unroll lto; do
    printf '%-7s ' "$b"; "$work/enc-$b" 6 1 raw/*_2mp.jpg.rgb
  done
done
