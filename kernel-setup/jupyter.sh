#!/usr/bin/env bash
# Interactive Jupyter on the course notebooks (what `make jupyter` runs): loopback only, with Jupyter's
# default token authentication (the URL with the token is printed on start). From another machine, use
# an SSH tunnel (ssh -L 8888:127.0.0.1:8888 host) rather than listening on a public interface.
#
#   kernel-setup/jupyter.sh [jupyter notebook options]     e.g. --port 9999, --notebook-dir=/tmp/copy
#   make jupyter ARGS="--port 9999"
# Set-up runs only when something it builds is out of date (TL_SKIP_SETUP=1 skips it, TL_FORCE_SETUP=1 forces it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
dir_given=0
for a in "$@"; do
  case "$a" in
    --ip*|--*.ip=*|--*token*|--*password*|--*allow_remote*|--*allow-remote*)
      echo "jupyter.sh: refusing '$a': this server listens on 127.0.0.1 with a token; use an SSH tunnel to reach it remotely." >&2
      exit 2 ;;
    --notebook-dir*|--*notebook_dir*) dir_given=1 ;;
  esac
done

# Fast currency check (milliseconds): the set-up stamp is newer than everything set-up builds from, and the
# tslab kernelspec Jupyter will find points at this checkout. Anything else re-runs the (idempotent) set-up.
setup_current() {
  local stamp=node_modules/.tl-setup-stamp
  [ -f "$stamp" ] && [ -f src/helpers/dist/index.js ] && command -v jupyter-notebook >/dev/null || return 1
  [ -z "$(find package-lock.json kernel-setup src/helpers native -newer "$stamp" \( -name '*.ts' -o -name '*.json' -o -name '*.sh' -o -name '*.cc' -o -name '*.cpp' -o -name '*.h' -o -name 'CMakeLists.txt' \) -not -path '*/dist/*' -not -path '*/build/*' -print -quit 2>/dev/null)" ] || return 1
  [ -z "${TL_KERNEL_PREFIX:-}" ] || return 1
  grep -qF "\"$ROOT/node_modules/.bin/tslab\"" "${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}/kernels/tslab/kernel.json" 2>/dev/null
}
if [ "${TL_SKIP_SETUP:-0}" = 1 ]; then :
elif [ "${TL_FORCE_SETUP:-0}" != 1 ] && setup_current; then echo "[jupyter] set-up is current (make setup to redo it)"
else TL_WITH_JUPYTER_UI=1 bash kernel-setup/setup.sh
fi
command -v jupyter >/dev/null || { echo "jupyter.sh: 'jupyter' is not installed; run: make setup (or sudo apt-get install jupyter-notebook)" >&2; exit 1; }

extra=()
if [ "$(id -u)" = 0 ]; then
  # Containers, cloud VMs and CI run as root; Jupyter refuses that without the flag.
  echo "[jupyter] running as root: adding --allow-root"
  extra+=(--allow-root)
fi
[ "$dir_given" = 1 ] || extra+=(--notebook-dir=notebooks)
exec jupyter notebook --ip=127.0.0.1 --no-browser "${extra[@]}" "$@"
