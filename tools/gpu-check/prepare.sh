#!/usr/bin/env bash
# Prepares .gpucheck/ (gitignored) for the GPU check: everything the lent GPU machine lacks, within the device tool's
# 64 MiB carry limit. That machine has python3 with torch (CUDA), torchvision, numpy and pillow, a C++ compiler, bash,
# tar and xz, but no Node.js, no npm and no internet. Run here, from the repository root:
#   bash tools/gpu-check/prepare.sh
# It writes:
#   .gpucheck/node.xz               this machine's node binary (an official self-contained build), xz-compressed
#   .gpucheck/node-include/         the four N-API headers native/build.sh compiles the addon with
#   .gpucheck/check.cjs             tools/gpu-check/check.mjs bundled with tfjs and the helpers it uses (esbuild)
#   .gpucheck/node_modules.tar.xz   what the bundle loads at run time: sharp and its libvips (image decoding)
#   .gpucheck/cache/                a TL_CACHE_DIR: hymenoptera re-encoded with shorter side 256, the α0.35 MobileNetV2
# and prints the total size.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$root/.gpucheck"
cache="${TL_CACHE_DIR:-$root/../shared/cache}"
node_bin="$(command -v node)"
[ -d "$root/node_modules/@tensorflow/tfjs" ] || { echo "prepare: run npm install first (node_modules is missing)"; exit 1; }
[ -d "$cache/datasets/hymenoptera_data/train" ] || { echo "prepare: $cache/datasets/hymenoptera_data is missing; set TL_CACHE_DIR to a cache that has it"; exit 1; }
[ -f "$cache/models/mobilenet_v2_0.35_224_no_top/model.json" ] || { echo "prepare: $cache/models/mobilenet_v2_0.35_224_no_top is missing"; exit 1; }
rm -rf "$dest"
mkdir -p "$dest/node-include" "$dest/cache/models" "$dest/cache/datasets"

echo "prepare: node $("$node_bin" --version) → node.xz"
xz -T0 -9 -c "$node_bin" >"$dest/node.xz"
nodeinc="$(dirname "$(dirname "$(readlink -f "$node_bin")")")/include/node"
[ -f "$nodeinc/node_api.h" ] || nodeinc=/usr/include/node
cp "$nodeinc"/{node_api.h,node_api_types.h,js_native_api.h,js_native_api_types.h} "$dest/node-include/"

echo "prepare: bundling tools/gpu-check/check.mjs"
# Native and unused packages stay out of the bundle: sharp is carried in node_modules, the rest is never loaded by
# the check (charts, canvas, the browser backends).
"$root/node_modules/.bin/esbuild" "$root/tools/gpu-check/check.mjs" --bundle --platform=node --target=node20 --format=cjs \
  --outfile="$dest/check.cjs" --log-level=warning --minify-whitespace \
  --external:sharp --external:@napi-rs/canvas --external:vega --external:vega-lite --external:@tensorflow/tfjs-node \
  --external:@tensorflow/tfjs-node-gpu --external:@tensorflow/tfjs-backend-wasm --external:@tensorflow/tfjs-backend-webgl

echo "prepare: node_modules (sharp and libvips)"
(cd "$root/node_modules" && tar -cf - sharp @img/colour @img/sharp-linux-x64 @img/sharp-libvips-linux-x64 detect-libc semver) \
  | xz -T0 -9 >"$dest/node_modules.tar.xz"

echo "prepare: hymenoptera (shorter side 256) and the α0.35 MobileNetV2"
cp -r "$cache/models/mobilenet_v2_0.35_224_no_top" "$dest/cache/models/"
/usr/bin/python3 - "$cache/datasets/hymenoptera_data" "$dest/cache/datasets/hymenoptera_data" <<'EOF'
import os, sys
from PIL import Image
src, dst = sys.argv[1], sys.argv[2]
n = 0
for split in ("train", "val"):
    for cls in sorted(os.listdir(os.path.join(src, split))):
        os.makedirs(os.path.join(dst, split, cls), exist_ok=True)
        for f in sorted(os.listdir(os.path.join(src, split, cls))):
            if not f.lower().endswith((".jpg", ".jpeg", ".png")):
                continue
            try:
                img = Image.open(os.path.join(src, split, cls, f)).convert("RGB")
            except OSError:
                continue  # the set has one undecodable file; the loaders skip it too
            s = 256 / min(img.size)
            if s < 1:
                img = img.resize((max(256, round(img.width * s)), max(256, round(img.height * s))), Image.BILINEAR)
            img.save(os.path.join(dst, split, cls, os.path.splitext(f)[0] + ".jpg"), quality=90)
            n += 1
print(f"prepare: {n} images re-encoded")
EOF
total=$(du -sb "$dest" | cut -f1)
echo "prepare: .gpucheck is $((total / 1024 / 1024)) MiB ($total bytes); the device tool carries at most 64 MiB"
[ "$total" -lt $((64 * 1024 * 1024)) ] || { echo "prepare: too large for the device tool"; exit 1; }
