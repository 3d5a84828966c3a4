#!/usr/bin/env bash
# Interactive Jupyter on the course notebooks (what `make jupyter` runs): loopback only, with Jupyter's
# default token authentication (the URL with the token is printed on start). From another machine, use
# an SSH tunnel (ssh -L 8888:127.0.0.1:8888 host) rather than listening on a public interface.
set -euo pipefail
cd "$(dirname "$0")/.."
for a in "$@"; do
  case "$a" in
    --ip*|--*.ip=*|--*token*|--*password*|--*allow_remote*|--*allow-remote*)
      echo "jupyter.sh: refusing '$a': this server listens on 127.0.0.1 with a token; use an SSH tunnel to reach it remotely." >&2
      exit 2 ;;
  esac
done
[ "${TL_SKIP_SETUP:-0}" = 1 ] || TL_WITH_JUPYTER_UI=1 bash kernel-setup/setup.sh
command -v jupyter >/dev/null || { echo "jupyter.sh: 'jupyter' is not installed; run: make setup (or sudo apt-get install jupyter-notebook)" >&2; exit 1; }
exec jupyter notebook --ip=127.0.0.1 --no-browser --notebook-dir=notebooks "$@"
