#!/usr/bin/python3
"""Execute the course notebooks headlessly on the `tslab` kernel and render HTML handouts.

    /usr/bin/python3 tools/run_notebooks.py [--profile quick|full|full-rehearsal] [--keep-going] [FILTER ...]

Writes executed notebooks to <out>/notebooks/, HTML handouts to <out>/handouts/ (with index.html),
and a run summary to <out>/notebooks/run-summary.json. Each notebook publishes its own measured
numbers to <out>/results/<stem>.json through the helpers (see src/helpers/results).

Why a custom loop instead of `jupyter nbconvert --execute`: tslab reports a failed cell only as reply
status `error` with the message on stderr (no `error` output, no traceback), so nbconvert prints just
`<Error>:` and drops the rest. Here every cell runs through nbclient one at a time, and a failure is
reported with notebook, cell number, the cell's first line and the stderr text; the partial executed
notebook is still written.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "tslab"
PROFILES = ("quick", "full", "full-rehearsal")
# Labels that run another profile's code paths on stand-in data (make rehearsal): every handout opens with this warning.
REHEARSAL_NOTE = ("**Rehearsal, not results.** This handout ran the `full` profile's code on `make rehearsal`'s miniature "
                  "stand-ins (a few random images per class, random network weights) served from a loopback mirror. "
                  "It shows that every cell of the full path runs; none of its numbers, plots or timings mean anything "
                  "about transfer learning. Profile label: `full-rehearsal`.")


def fail_setup(message: str) -> None:
    print(f"run_notebooks: {message}", file=sys.stderr)
    sys.exit(2)


try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
except ImportError as e:  # pragma: no cover - depends on the machine
    fail_setup(
        f"Jupyter's Python packages are missing ({e.name}). Run `make setup` "
        "(or: sudo apt-get install python3-nbclient jupyter-nbconvert jupyter-client) and use /usr/bin/python3."
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("filters", nargs="*", help="run only notebooks whose file name contains one of these")
    p.add_argument("--profile", default=os.environ.get("TL_PROFILE", "quick"),
                   help="quick (default), full, or full-rehearsal (the full code on stand-in data; set by make rehearsal)")
    p.add_argument("--notebooks", default=str(ROOT / "notebooks"), help="folder of source notebooks")
    p.add_argument("--out", default=os.environ.get("TL_BUILD_DIR", str(ROOT / "build")), help="build folder")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds per notebook (default: the notebook's metadata course.timeout_s, else 1200)")
    p.add_argument("--keep-going", action="store_true", help="after a failing notebook, run the rest; exit non-zero at the end")
    p.add_argument("--no-html", action="store_true", help="skip rendering HTML handouts")
    return p.parse_args(argv)


def first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:120]
    return "(empty cell)"


def cell_stderr(cell) -> str:
    """The text tslab printed for a failing cell: stderr streams plus any error outputs."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            parts.append(f"{out.get('ename', '')}: {out.get('evalue', '')}")
    return "".join(parts).strip()


def message_summary(msg) -> str:
    """One line per kernel message: its type and the start of its content."""
    content = json.dumps(msg.get("content", {}))
    return f"{msg.get('msg_type') or msg.get('header', {}).get('msg_type')}: {content[:300]}"


def silent_failure_report(recent: list[str]) -> str:
    """tslab ended the cell with status `error` but printed nothing: say so, with the kernel's last messages."""
    lines = "\n".join(f"  {m}" for m in recent) or "  (none)"
    return f"(the kernel reported an error but printed no message; its last messages:)\n{lines}"


def notebook_title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


def execute(path: Path, args: argparse.Namespace) -> dict:
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("course", {})
    budget = args.timeout or float(meta.get("timeout_s", 1200))
    started = time.time()
    status = {"notebook": path.name, "title": notebook_title(nb), "profile": args.profile, "ok": True,
              "error": None, "wall_s": None}
    client = NotebookClient(nb, kernel_name=KERNEL, timeout=int(budget), allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    # The running cell's last kernel messages, for a failure that printed nothing (see silent_failure_report).
    recent: list[tuple[int, str]] = []
    process_message = client.process_message

    def recording(msg, cell, cell_index):
        recent.append((cell_index, message_summary(msg)))
        del recent[:-12]
        return process_message(msg, cell, cell_index)
    client.process_message = recording
    failed_at = None
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = budget - (time.time() - started)
                if remaining <= 0:
                    raise CellTimeoutError(f"notebook exceeded its {budget:.0f} s budget")
                client.timeout = max(1, int(remaining))
                failed_at = (index, cell)
                client.execute_cell(cell, index)
                failed_at = None
    except (CellExecutionError, CellTimeoutError, DeadKernelError, RuntimeError) as e:
        status["ok"] = False
        if failed_at is None:
            status["error"] = {"cell": None, "first_line": "", "message": f"{type(e).__name__}: {e}"}
        else:
            index, cell = failed_at
            if isinstance(e, CellTimeoutError):
                message = f"timed out: the notebook's budget of {budget:.0f} s ran out in this cell"
            elif isinstance(e, DeadKernelError):
                message = f"the kernel died: {e}\n{cell_stderr(cell)}"
            elif isinstance(e, CellExecutionError):
                message = cell_stderr(cell) or silent_failure_report([m for i, m in recent if i == index])
            else:
                message = f"{type(e).__name__}: {e}\n{cell_stderr(cell)}".strip()
            status["error"] = {"cell": index + 1, "first_line": first_line(cell.source), "message": message}
    status["wall_s"] = round(time.time() - started, 1)
    if args.profile == "full-rehearsal":
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(REHEARSAL_NOTE, id="rehearsal-note"))
    nb.metadata.setdefault("course", {})["run"] = {k: status[k] for k in ("profile", "ok", "wall_s")}
    out_nb = Path(args.out) / "notebooks" / path.name
    out_nb.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out_nb)  # written even after a failure: the partial notebook shows what ran
    status["executed"] = str(out_nb)
    if not args.no_html:
        status["handout"] = render_html(nb, Path(args.out) / "handouts" / (path.stem + ".html"))
    return status


def render_html(nb, dest: Path) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    # tslab's kernel info names no Pygments lexer; without one nbconvert falls back to IPython's.
    info = nb.metadata.setdefault("language_info", {"name": "typescript"})
    info.setdefault("pygments_lexer", "typescript")
    body, _ = exporter.from_notebook_node(nb)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(body, encoding="utf-8")
    return str(dest)


def write_index(results: list[dict], out: Path, profile: str, demo_built: bool = False) -> None:
    demo = ('<h2>In your browser</h2><p><a href="demo/index.html">The classifiers of chapters 3 and 4 as a web page</a>: '
            'run <code>make demo</code> and open the URL it prints (the page loads its model over HTTP).</p>') if demo_built else ""
    rows = []
    for r in results:
        state = "ok" if r["ok"] else "FAILED"
        link = f'<a href="{html.escape(Path(r["notebook"]).stem)}.html">{html.escape(r["title"] or r["notebook"])}</a>'
        rows.append(f"<tr><td>{link}</td><td>{html.escape(r['notebook'])}</td><td>{state}</td><td>{r['wall_s']}</td></tr>")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Transfer learning in TypeScript — handouts</title>
<style>body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}}</style></head>
<body><h1>Transfer learning for image classification, in TypeScript</h1>
{'<p><strong>' + html.escape(REHEARSAL_NOTE.replace('**', '').replace('`', '')) + '</strong></p>' if profile == 'full-rehearsal' else ''}
<p>Executed handouts, profile <code>{html.escape(profile)}</code>, built {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.</p>
<table><tr><th>Chapter</th><th>Notebook</th><th>Status</th><th>Wall time (s)</th></tr>{''.join(rows)}</table>
{demo}</body></html>"""
    (out / "handouts").mkdir(parents=True, exist_ok=True)
    (out / "handouts" / "index.html").write_text(page, encoding="utf-8")


def build_demo(out: Path) -> bool:
    """Build the browser demo (build/handouts/demo/) from the classifiers the notebooks exported; a failure is reported, not fatal."""
    import subprocess
    r = subprocess.run(["node", str(ROOT / "tools" / "build_demo.mjs"), "--out", str(out / "handouts" / "demo"),
                        "--models", str(out / "models")], capture_output=True, text=True)
    print((r.stdout + r.stderr).strip(), flush=True)
    return r.returncode == 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.profile not in PROFILES:
        fail_setup(f"unknown profile '{args.profile}'; use --profile quick or --profile full")
    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        fail_setup("the Jupyter kernel 'tslab' is not installed. Run `make setup` (kernel-setup/setup.sh) "
                   "and check with `jupyter kernelspec list`.")
    folder = Path(args.notebooks)
    notebooks = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    if args.filters:
        notebooks = [p for p in notebooks if any(f in p.name for f in args.filters)]
    if not notebooks:
        fail_setup(f"no notebooks in {folder} match {args.filters or '*'}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # The kernel inherits this environment: the helpers read the profile and build folder from it,
    # and TL_HEADLESS switches progress bars to compact line output.
    os.environ.update({"TL_PROFILE": args.profile, "TL_BUILD_DIR": str(out.resolve()), "TL_HEADLESS": "1"})

    results = []
    for path in notebooks:
        print(f"[course] {path.name} (profile {args.profile}) ...", flush=True)
        r = execute(path, args)
        results.append(r)
        if r["ok"]:
            print(f"[course] {path.name}: ok in {r['wall_s']} s", flush=True)
        else:
            e = r["error"]
            where = f"cell {e['cell']} ({e['first_line']})" if e["cell"] else "before any cell ran"
            print(f"[course] {path.name}: FAILED at {where} after {r['wall_s']} s\n{e['message']}\n"
                  f"[course] partial executed notebook: {r['executed']}", file=sys.stderr, flush=True)
            if not args.keep_going:
                break
    summary = out / "notebooks" / "run-summary.json"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps({"profile": args.profile, "notebooks": results}, indent=2))
    if not args.no_html:
        write_index(results, out, args.profile, demo_built=build_demo(out))
        print(f"[course] handouts: {out / 'handouts' / 'index.html'}", flush=True)
    failed = [r["notebook"] for r in results if not r["ok"]]
    if failed:
        print(f"[course] {len(failed)} notebook(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
