#!/usr/bin/env bash
# One idempotent set-up for a fresh Debian/Ubuntu machine: system packages (Jupyter's headless
# runner, Fashion-MNIST, and optionally libtorch for the fast native kernels), npm dependencies,
# the compiled helpers package, the optional native addon, and the `tslab` Jupyter kernelspec.
# Safe to re-run: every step checks first and does nothing when already done.
#
#   kernel-setup/setup.sh            # what `make setup` runs
#   TL_SKIP_APT=1 kernel-setup/setup.sh   # never call apt-get (you installed the packages yourself)
#   TL_WITH_LIBTORCH=0 ...           # don't install libtorch-dev (the native kernels are then skipped)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Node.js ------------------------------------------------------------------------------------
command -v node >/dev/null || die "Node.js is not installed. Install Node.js 20.19 or newer (https://nodejs.org or your distribution's nodejs package), then re-run."
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js $(node --version) is too old: this course needs 20.19 or newer (it loads ESM-only chart libraries from CommonJS)."

# --- System packages (apt) ----------------------------------------------------------------------
SUDO=""
if [ "$(id -u)" != 0 ]; then command -v sudo >/dev/null && SUDO="sudo"; fi
apt_install() { # apt_install REQUIRED|OPTIONAL pkg...
  local need=$1; shift
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${TL_SKIP_APT:-0}" = 1 ] || ! command -v apt-get >/dev/null || { [ "$(id -u)" != 0 ] && [ -z "$SUDO" ]; }; then
    [ "$need" = REQUIRED ] && die "missing system packages: ${missing[*]}. Install them with: sudo apt-get install ${missing[*]}"
    say "optional packages not installed: ${missing[*]} (sudo apt-get install ${missing[*]})"; return 0
  fi
  say "installing ${missing[*]}"
  # `apt-get update` only when the package lists are empty or a first install attempt fails.
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/tl-apt.log 2>&1; then
    $SUDO apt-get update -q >/tmp/tl-apt-update.log 2>&1 || true
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/tl-apt.log 2>&1; then
      [ "$need" = REQUIRED ] && { tail -20 /tmp/tl-apt.log >&2; die "could not install ${missing[*]} (log: /tmp/tl-apt.log)"; }
      say "optional packages could not be installed: ${missing[*]} (log: /tmp/tl-apt.log); continuing without them"
    fi
  fi
}
# Headless notebook execution uses Debian's Python with nbclient/nbconvert (pip cannot be assumed).
apt_install REQUIRED python3 jupyter-core jupyter-client python3-nbclient jupyter-nbconvert
apt_install OPTIONAL dataset-fashion-mnist
# The tests of the torchvision architectures and the .pth importer compare against PyTorch itself (test/helpers/torchvision*).
apt_install OPTIONAL python3-torch python3-torchvision
[ "${TL_WITH_LIBTORCH:-1}" = 1 ] && apt_install OPTIONAL libtorch-dev
[ "${TL_WITH_JUPYTER_UI:-0}" = 1 ] && apt_install REQUIRED jupyter-notebook
# Notebook 6 and Chromium for interactive use and the browser tests (test/browser/: puppeteer-core drives Debian's
# Chromium, since npm packages cannot download one; without them those tests are skipped, and fail in CI).
apt_install OPTIONAL jupyter-notebook
apt_install OPTIONAL chromium

# --- npm dependencies ---------------------------------------------------------------------------
# Only when node_modules is missing or older than the lockfile, so re-runs are instant.
# `npm install --no-save` rather than `npm ci`: npm 11 writes only this platform's optional packages
# (rollup's native builds) into the lockfile and `npm ci` then rejects it as out of sync on a clean
# machine; `install --no-save` follows the lockfile and never rewrites it.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies"
  npm install --no-save --no-audit --no-fund --loglevel=error
fi

# --- Native kernels (optional) and the helpers package ------------------------------------------
if [ -x native/build.sh ]; then bash native/build.sh || say "native kernels not built; the course falls back to the wasm/cpu backends"; fi
say "building @course/helpers"
npx --no-install tsc -p src/helpers/tsconfig.json

# --- Jupyter kernelspec `tslab` -----------------------------------------------------------------
# tslab's own `tslab install` needs IPython; writing the kernelspec ourselves does not.
# argv uses this checkout's tslab binary by absolute path, so the kernel always matches package.json.
spec=$(mktemp -d)/tslab
mkdir -p "$spec"
cat > "$spec/kernel.json" <<JSON
{
  "argv": ["$ROOT/node_modules/.bin/tslab", "kernel", "--config-path", "{connection_file}"],
  "display_name": "TypeScript",
  "language": "typescript",
  "env": {"MALLOC_ARENA_MAX": "1"},
  "metadata": {"course": "transfer-learning-ts", "checkout": "$ROOT"}
}
JSON
existing=$(jupyter kernelspec list --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin)["kernelspecs"]; print(d["tslab"]["resource_dir"] if "tslab" in d else "")' || true)
if [ -n "$existing" ] && cmp -s "$existing/kernel.json" "$spec/kernel.json"; then
  say "kernelspec tslab already registered ($existing)"
else
  if [ -n "${TL_KERNEL_PREFIX:-}" ]; then where=(--prefix "$TL_KERNEL_PREFIX"); else where=(--user); fi
  jupyter kernelspec install "${where[@]}" --name tslab "$spec" >/dev/null 2>&1 \
    || die "could not register the tslab kernelspec (jupyter kernelspec install ${where[*]} --name tslab $spec)"
  say "kernelspec tslab registered: $(jupyter kernelspec list | grep -w tslab)"
fi
rm -rf "$(dirname "$spec")"
# kernel-setup/jupyter.sh skips set-up while this stamp is newer than its inputs.
touch node_modules/.tl-setup-stamp
say "ready"
