"""Merges the GPU check's node.json (tfjs through the resident libtorch backend) and pytorch.json (the same machine's
PyTorch) into table.md and results.json.

usage: python3 tools/gpu-check/report.py <out dir>
"""
import json
import os
import platform
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"error": f"{os.path.basename(path)}: {e}"}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    node, py = load(os.path.join(out, "node.json")), load(os.path.join(out, "pytorch.json"))
    reg = node.get("registration", {})
    kernels = node.get("kernels", {})
    rows = []
    for i, r in enumerate(node.get("rows", [])):
        p = (py.get("rows") or [{}] * 3)[i] if i < len(py.get("rows", [])) else {}
        ratio = r.get("imagesPerSecond") / p["imagesPerSecond"] if r.get("imagesPerSecond") and p.get("imagesPerSecond") else None
        rows.append({"row": r.get("row") or p.get("row") or f"row {i}", "tfjs": r, "pytorch": p, "ratio": ratio,
                     "fallbacks": sorted((r.get("fallbacks") or {}).keys())})
    results = {"machine": platform.node(), "device": node.get("device"), "backend": node.get("backend"), "gpu": reg.get("gpu"),
               "libtorch": reg.get("detail"), "pytorch": {k: py.get(k) for k in ("torch", "cuda", "gpu")},
               "kernels": {"passed": kernels.get("passed"), "failed": kernels.get("failed"),
                           "failures": [c for c in kernels.get("cases", []) if not c.get("ok")]},
               "rows": rows, "errors": [e for e in (node.get("error"), py.get("error")) if e]}
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    fmt = lambda v, d=1: "–" if v is None else f"{v:.{d}f}"  # noqa: E731
    lines = [
        f"# GPU check: tfjs on the resident libtorch backend vs PyTorch, same machine",
        "",
        f"- backend: {node.get('backend')} ({reg.get('gpu') or 'CPU'}), {reg.get('detail')}",
        f"- PyTorch: {py.get('torch')}, CUDA {py.get('cuda')}, {py.get('gpu') or py.get('device')}",
        f"- kernel cases on {node.get('backend')} vs tfjs cpu (1e-4 relative, TF32 off): {kernels.get('passed')} passed, {kernels.get('failed')} failed",
        f"- timings: median of {node.get('steps')} steps after {node.get('warmup')} warm-up steps; TF32 as PyTorch's defaults (convolutions on, matmuls off)",
        "",
        "| row | tfjs img/s | PyTorch img/s | tfjs ÷ PyTorch | tfjs ms/step | PyTorch ms/step | cpu fallbacks |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        t, p = r["tfjs"], r["pytorch"]
        note = t.get("error") or p.get("error") or (", ".join(r["fallbacks"]) if r["fallbacks"] else "none")
        lines.append(f"| {r['row']} | {fmt(t.get('imagesPerSecond'))} | {fmt(p.get('imagesPerSecond'))} | {fmt(r['ratio'], 2)} | "
                     f"{fmt(t.get('msPerStep') or (t.get('seconds') and 1000 * t['seconds']), 0)} | "
                     f"{fmt(p.get('msPerStep') or (p.get('seconds') and 1000 * p['seconds']), 0)} | {note} |")
    for c in results["kernels"]["failures"]:
        lines.append(f"\n- kernel case failed: {c['name']}: {c.get('error')}")
    for e in results["errors"]:
        lines.append(f"\n- error: {e}")
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
