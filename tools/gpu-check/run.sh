#!/usr/bin/env bash
# The GPU check, run on the lent GPU machine from the repository root with .gpucheck carried (see README.md here):
#   bash tools/gpu-check/run.sh
# 1. unpacks Node.js and sharp from .gpucheck into a scratch folder (the machine has neither);
# 2. builds native/build/torch_resident.node against the machine's python3 torch (a CUDA build: torch-cuda);
# 3. runs the resident kernel cases on the device against tfjs' cpu backend (1e-4 relative, TF32 off);
# 4. times MobileNetV2 α0.35 and α1.0 training steps at 224 px (batch 32) and one chapter 3 fine-tuning epoch through
#    the helpers, then the same rows in the machine's PyTorch (tools/gpu-check/pytorch_twin.py);
# 5. writes table.md and results.json (plus node.json, pytorch.json and build.log) to $OUT.
# Uses only what the GPU machine has: bash, tar, xz, a C++ compiler, python3 with torch/numpy/pillow.
# Try it on a CPU first: GPU_CHECK_DEVICE=cpu OUT=/tmp/gpucheck-out bash tools/gpu-check/run.sh
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
out="${OUT:-$root/build/gpu-check}"
mkdir -p "$out"
bundle="$root/.gpucheck"
[ -f "$bundle/check.cjs" ] || { echo "run.sh: $bundle is missing: run tools/gpu-check/prepare.sh (and carry .gpucheck)"; exit 1; }
export GPU_CHECK_DEVICE="${GPU_CHECK_DEVICE:-cuda}"
scratch="${GPU_CHECK_SCRATCH:-$(mktemp -d /tmp/gpucheck.XXXXXX)}"
mkdir -p "$scratch/bin"
t0=$(date +%s)
say() { echo "[run.sh $(($(date +%s) - t0))s] $*"; }

say "unpacking node and sharp into $scratch"
xz -dc "$bundle/node.xz" >"$scratch/bin/node" && chmod +x "$scratch/bin/node"
tar -xJf "$bundle/node_modules.tar.xz" -C "$scratch" --one-top-level=node_modules
export PATH="$scratch/bin:$PATH" NODE_PATH="$scratch/node_modules"
node --version || { echo "run.sh: the carried node does not run here"; exit 1; }

# The interpreter whose torch the addon is built against and the twin runs on: python3 unless it lacks torch.
py="${GPU_CHECK_PYTHON:-python3}"
"$py" -c "import torch" 2>/dev/null || py=/usr/bin/python3
"$py" -c "import torch, PIL, numpy; print('[run.sh] PyTorch', torch.__version__, 'CUDA', torch.version.cuda, 'available' if torch.cuda.is_available() else 'not available')" \
  || { echo "run.sh: $py cannot import torch, PIL and numpy"; exit 1; }

say "building the addons against $py's torch"
TL_PYTHON="$py" NODE_INCLUDE_DIR="$bundle/node-include" FORCE=1 bash native/build.sh 2>&1 | tee "$out/build.log"
[ -f native/build/torch_resident.node ] || { echo "run.sh: torch_resident.node was not built (see $out/build.log)"; exit 1; }

# The helpers read the carried cache (hymenoptera at shorter side 256, the α0.35 MobileNetV2) and never download.
export TL_CACHE_DIR="$bundle/cache" TL_OFFLINE=1 TL_HEADLESS=1 MALLOC_ARENA_MAX=1
say "tfjs on the resident backend ($GPU_CHECK_DEVICE): kernel cases, then the timed rows"
node "$bundle/check.cjs" "$out" 2>&1 | tee "$out/node.log"
node_rc=${PIPESTATUS[0]}
say "PyTorch: the same rows"
"$py" tools/gpu-check/pytorch_twin.py "$out" 2>&1 | tee "$out/pytorch.log"
"$py" tools/gpu-check/report.py "$out"
say "done (node exit $node_rc); results in $out"
[ "${GPU_CHECK_KEEP_SCRATCH:-0}" = 1 ] || rm -rf "$scratch"
exit "$node_rc"
