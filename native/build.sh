#!/usr/bin/env bash
# Builds the optional libtorch (ATen) addons into native/build/:
#   torch_kernels.node   the `torch` backend's kernels (torch_kernels.cc and its parts in src/)
#   torch_resident.node  the device-resident backend (`torch-cuda` / `torch-resident`: resident.cc and resident/)
# against one libtorch, chosen in this order (both addons link the same one, so they can share a process):
#   1. TL_LIBTORCH=/path/to/torch: a folder with include/ and lib/ (a pip torch's package folder or the libtorch zip);
#   2. a Python torch that ships its headers (`pip install torch`: torch/include, torch/lib), a CUDA build first;
#      the interpreters tried are $TL_PYTHON, `python3` on PATH and /usr/bin/python3;
#   3. Debian's libtorch-dev (/usr/include, /usr/lib/<arch>), the CPU route.
# Never fails the set-up: without any libtorch (or a compiler / Node headers) it prints one "skipped: ..." line and
# exits 0; tfjs then falls back to wasm/cpu. An addon that fails to compile or load is reported and left out.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/build"
skip() { echo "skipped: $*"; exit 0; }

[ "$(uname -s)" = "Linux" ] || skip "native torch kernels are only built on Linux"
cxx="${CXX:-g++}"

# --- which libtorch ----------------------------------------------------------------------------------------------
# Sets: tinc (include flags), tlib (link flags), tdesc (one line for the log), tcuda (CUDA version or empty).
abi_of_lib() {  # 1 when libc10 was built with the C++11 string ABI (Debian's and current pip wheels), else 0
  if nm -DC "$1" 2>/dev/null | grep -q 'std::__cxx11::basic_string'; then echo 1; else echo 0; fi
}
use_torch_dir() {  # $1 = a folder with include/ and lib/, $2 = ABI (0/1 or empty: detect), $3 = CUDA version or empty
  local t="$1" abi="$2"
  [ -f "$t/include/ATen/ATen.h" ] && [ -f "$t/include/torch/csrc/api/include/torch/version.h" ] && ls "$t"/lib/libtorch_cpu.so >/dev/null 2>&1 || return 1
  [ -n "$abi" ] || abi="$(abi_of_lib "$t/lib/libc10.so")"
  tcuda="$3"
  if [ -z "$tcuda" ] && [ -f "$t/lib/libtorch_cuda.so" ]; then tcuda="unknown"; fi
  tinc="-I$t/include -I$t/include/torch/csrc/api/include -D_GLIBCXX_USE_CXX11_ABI=$abi"
  tlib="-L$t/lib -Wl,-rpath,$t/lib -ltorch -ltorch_cpu -lc10"
  # --no-as-needed: nothing in the addon names a CUDA symbol, yet libtorch_cuda must load for ATen's CUDA kernels
  # to register.
  if [ -n "$tcuda" ]; then tlib="$tlib -Wl,--no-as-needed -ltorch_cuda -lc10_cuda -Wl,--as-needed"; fi
  tdesc="$t${tcuda:+ (CUDA $tcuda)}"
}
python_torch() {  # prints "dir|cuda|abi" for the torch of interpreter $1, or nothing
  "$1" -c 'import os, torch; print("%s|%s|%d" % (os.path.dirname(torch.__file__), torch.version.cuda or "", int(torch._C._GLIBCXX_USE_CXX11_ABI)))' 2>/dev/null | tail -1
}
tinc="" tlib="" tdesc="" tcuda=""
if [ -n "${TL_LIBTORCH:-}" ]; then
  use_torch_dir "$TL_LIBTORCH" "" "" \
    || skip "TL_LIBTORCH=$TL_LIBTORCH has no include/ATen/ATen.h and lib/libtorch_cpu.so (point it at a pip torch's package folder or an unpacked libtorch)"
else
  best="" seen=""
  for py in ${TL_PYTHON:-} python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    info="$(python_torch "$py")"
    [ -n "$info" ] || continue
    case " $seen " in *" ${info%%|*} "*) continue ;; esac
    seen="$seen ${info%%|*}"
    dir="${info%%|*}" rest="${info#*|}"
    [ -f "$dir/include/ATen/ATen.h" ] || continue
    # Debian's python3-torch links its headers to libtorch-dev's (/usr/include): that is the Debian route below.
    case "$(readlink -f "$dir/include/ATen")" in /usr/include/*) continue ;; esac
    if [ -z "$best" ] || { [ -n "${rest%%|*}" ] && [ -z "$(echo "$best" | cut -d'|' -f2)" ]; }; then best="$info"; fi
  done
  if [ -n "$best" ]; then
    IFS='|' read -r bdir bcuda babi <<<"$best"
    use_torch_dir "$bdir" "$babi" "$bcuda" || best=""
  fi
  if [ -z "$best" ]; then
    inc="${LIBTORCH_INCLUDE:-/usr/include}"
    libdir=""
    for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib; do
      if ls "$d"/libtorch_cpu.so* >/dev/null 2>&1; then libdir="$d"; break; fi
    done
    { [ -f "$inc/ATen/ATen.h" ] && [ -n "$libdir" ] && [ -f "$inc/torch/csrc/api/include/torch/version.h" ]; } \
      || skip "no libtorch found: install libtorch-dev (apt-get install libtorch-dev), or a Python torch (pip install torch), or set TL_LIBTORCH"
    tinc="-I$inc"
    tlib="-L$libdir -Wl,-rpath,$libdir -ltorch_cpu -lc10"
    tdesc="$libdir/libtorch_cpu.so (libtorch-dev)"
  fi
fi
command -v "$cxx" >/dev/null 2>&1 || skip "no C++ compiler ($cxx) found"

nodeinc=""
for d in "${NODE_INCLUDE_DIR:-}" /usr/include/node /usr/local/include/node \
         "$(dirname "$(dirname "$(command -v node 2>/dev/null || echo /x/x)")")/include/node"; do
  if [ -n "$d" ] && [ -f "$d/node_api.h" ]; then nodeinc="$d"; break; fi
done
[ -n "$nodeinc" ] || skip "Node.js headers (node_api.h) not found; set NODE_INCLUDE_DIR"

mkdir -p "$out"
# The addons are rebuilt when a source, this script or the chosen libtorch changed (FORCE=1 forces).
config="$tdesc $tinc $tlib"
config_file="$out/libtorch.txt"
[ -f "$config_file" ] && [ "$(cat "$config_file")" = "$config" ] || rm -f "$out"/*.node
echo "$config" >"$config_file"
up_to_date() {  # $1 = target, then its sources
  local target="$1" f
  shift
  [ -f "$target" ] && [ "$target" -nt "$0" ] || return 1
  for f in "$@"; do [ "$target" -nt "$f" ] || return 1; done
}
# -fopenmp: ATen's inline at::parallel_for uses OpenMP (the shared loops in src/loops.inc call it). The addons
# are built on the machine that runs them (native/build/ is not shipped), so they use its vector extensions.
arch=""
if [ "$(uname -m)" = "x86_64" ]; then
  if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then arch="-mavx2 -mfma"; else arch="-msse4.2"; fi
fi
# build NAME SOURCE LOAD_CHECK EXTRA_FLAGS SOURCES...: one addon; prints "native: ok, ..." or why it was left out.
build() {
  local name="$1" src="$2" check="$3" extra="$4"
  shift 4
  local target="$out/$name.node"
  if up_to_date "$target" "$src" "$@" && [ "${FORCE:-0}" != 1 ]; then
    echo "native: up to date ($target)"; return 0
  fi
  echo "native: building $target against $tdesc (this takes about a minute)"
  # shellcheck disable=SC2086
  if "$cxx" -O3 $arch -std=c++17 -fPIC -shared $extra -fvisibility=hidden \
       -DNODE_GYP_MODULE_NAME="$name" -I"$nodeinc" $tinc \
       -o "$target.tmp" "$src" $tlib -ldl 2>"$out/$name.log"; then
    mv "$target.tmp" "$target"
    # Load it once so a broken build is reported now, not at first use.
    if node -e "$check" "$target"; then return 0; fi
    rm -f "$target"; echo "native: $name.node failed to load (see above); left out"
  else
    rm -f "$target.tmp"; tail -20 "$out/$name.log"; echo "native: $name.node failed to compile (log: $out/$name.log); left out"
  fi
}
shared_parts=("$here"/src/marshal.inc "$here"/src/allocator.inc "$here"/src/layout.inc "$here"/src/governor.inc "$here"/src/loops.inc)
# The two translation units compile in parallel (each is one g++ process); their messages are printed in order.
build torch_kernels "$here/torch_kernels.cc" \
  "const m=require(process.argv[1]); m.setNumThreads(require('os').cpus().length); console.log('native: ok, ' + m.info())" \
  "-fopenmp" "$here"/src/*.inc >"$out/torch_kernels.msg" 2>&1 &
build torch_resident "$here/resident.cc" \
  "const m=require(process.argv[1]); console.log('native: ok, resident ' + m.info().summary)" \
  "-fopenmp -DRESIDENT_TORCH_CUDA=\"${tcuda}\"" "$here"/resident/*.inc "${shared_parts[@]}" >"$out/torch_resident.msg" 2>&1 &
wait
cat "$out/torch_kernels.msg" "$out/torch_resident.msg"
rm -f "$out"/*.msg
ls "$out"/*.node >/dev/null 2>&1 || skip "no addon could be built against $tdesc (logs in $out); falling back to wasm/cpu"
exit 0
