#!/usr/bin/env bash
# Builds the optional libtorch (ATen) kernels addon (torch_kernels.cc and its parts in src/) into native/build/torch_kernels.node.
# Never fails the set-up: without libtorch-dev (or a compiler / Node headers) it
# prints one "skipped: ..." line and exits 0; tfjs then falls back to wasm/cpu.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/build"
skip() { echo "skipped: $*"; exit 0; }

[ "$(uname -s)" = "Linux" ] || skip "native torch kernels are only built on Linux (libtorch-dev from Debian/Ubuntu)"
inc="${LIBTORCH_INCLUDE:-/usr/include}"
libdir=""
for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib; do
  if ls "$d"/libtorch_cpu.so* >/dev/null 2>&1; then libdir="$d"; break; fi
done
{ [ -f "$inc/ATen/ATen.h" ] && [ -n "$libdir" ] && [ -f "$inc/torch/csrc/api/include/torch/version.h" ]; } \
  || skip "libtorch-dev not installed (apt-get install libtorch-dev)"
cxx="${CXX:-g++}"
command -v "$cxx" >/dev/null 2>&1 || skip "no C++ compiler ($cxx) found"

nodeinc=""
for d in "${NODE_INCLUDE_DIR:-}" /usr/include/node /usr/local/include/node \
         "$(dirname "$(dirname "$(command -v node 2>/dev/null || echo /x/x)")")/include/node"; do
  if [ -n "$d" ] && [ -f "$d/node_api.h" ]; then nodeinc="$d"; break; fi
done
[ -n "$nodeinc" ] || skip "Node.js headers (node_api.h) not found; set NODE_INCLUDE_DIR"

mkdir -p "$out"
# One translation unit: torch_kernels.cc includes the per-concern parts in src/ (see its comment).
src="$here/torch_kernels.cc"
target="$out/torch_kernels.node"
up_to_date() {
  [ -f "$target" ] && [ "$target" -nt "$0" ] || return 1
  local f
  for f in "$src" "$here"/src/*.inc; do [ "$target" -nt "$f" ] || return 1; done
}
if up_to_date && [ "${FORCE:-0}" != 1 ]; then
  echo "native: up to date ($target)"; exit 0
fi
echo "native: building $target against $libdir/libtorch_cpu.so (this takes about a minute)"
# -fopenmp: ATen's inline at::parallel_for uses OpenMP in Debian's build. The addon is built on
# the machine that runs it (native/build/ is not shipped), so use its vector extensions.
arch=""
if [ "$(uname -m)" = "x86_64" ]; then
  if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then arch="-mavx2 -mfma"; else arch="-msse4.2"; fi
fi
if "$cxx" -O3 $arch -std=c++17 -fPIC -shared -fopenmp -fvisibility=hidden \
     -DNODE_GYP_MODULE_NAME=torch_kernels -I"$nodeinc" -I"$inc" \
     -o "$target.tmp" "$src" -L"$libdir" -Wl,-rpath,"$libdir" -ltorch_cpu -lc10 2>"$out/build.log"; then
  mv "$target.tmp" "$target"
  # Load it once so a broken build is reported now, not at first use.
  if node -e "const m=require(process.argv[1]); m.setNumThreads(require('os').cpus().length); console.log('native: ok, ' + m.info())" "$target"; then exit 0; fi
  rm -f "$target"; skip "built addon failed to load (see above); falling back to wasm/cpu"
else
  rm -f "$target.tmp"; tail -20 "$out/build.log"; skip "compile failed (log: $out/build.log); falling back to wasm/cpu"
fi
