/** Shared by the notebook tests: execute one course notebook (quick profile) through the real runner. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { NotebookResults } from "../../src/helpers/results/notebookRun";

export const ROOT = path.resolve(__dirname, "../..");
/** Notebook tests write under build/test-run so they never clobber a `make course` build, yet reuse its caches across runs. */
export const TEST_BUILD = path.join(ROOT, "build", "test-run");

export interface NotebookRunOutput {
  code: number | null;
  log: string;
  results: NotebookResults;
  /** Executed notebook JSON. */
  executed: any;
  /** Rendered HTML handout. */
  handout: string;
}


/** All outputs of an executed notebook, flattened: MIME type -> list of payloads. */
export function outputsByMime(executed: any): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const cell of executed.cells) {
    for (const out of cell.outputs ?? []) {
      if (out.output_type === "stream") push(m, `stream/${out.name}`, [out.text].flat().join(""));
      for (const [mime, v] of Object.entries(out.data ?? {})) push(m, mime, [v as string | string[]].flat().join(""));
    }
  }
  return m;
}
function push(m: Map<string, string[]>, k: string, v: string) {
  m.set(k, [...(m.get(k) ?? []), v]);
}

/**
 * Execute one notebook (quick profile) through the real runner. Asynchronous on purpose: a notebook that runs for
 * minutes under spawnSync starves vitest's worker RPC ("Timeout calling onTaskUpdate"), which fails the file.
 */
export async function runNotebook(stem: string, timeoutS = 1500): Promise<NotebookRunOutput> {
  process.env.TL_CACHE_DIR ??= path.resolve(ROOT, "../shared/cache");
  const { spawn } = await import("node:child_process");
  const child = spawn("/usr/bin/python3", [path.join(ROOT, "tools/run_notebooks.py"), "--profile", "quick", "--out", TEST_BUILD, stem], {
    cwd: ROOT,
    env: process.env,
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const timer = setTimeout(() => child.kill("SIGTERM"), (timeoutS + 60) * 1000);
  const code: number | null = await new Promise((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`notebook ${stem} failed (exit ${code}):\n${log}`);
  const read = (p: string) => fs.readFileSync(path.join(TEST_BUILD, p), "utf8");
  return {
    code,
    log,
    results: JSON.parse(read(`results/${stem}.json`)),
    executed: JSON.parse(read(`notebooks/${stem}.ipynb`)),
    handout: read(`handouts/${stem}.html`),
  };
}

/**
 * Run a notebook whose results publish `features_cached`; when the first run had to compute its features, run it
 * again so the test can check that the rerun reads them from the disk cache. `rerun` is `first` when the first run
 * already hit the cache (e.g. another chapter extracted the same features earlier in the suite).
 */
export async function runNotebookAndRerun(stem: string, timeoutS: number, rerunTimeoutS: number): Promise<{ first: NotebookRunOutput; rerun: NotebookRunOutput }> {
  const first = await runNotebook(stem, timeoutS);
  const rerun = first.results.metrics.features_cached === 1 ? first : await runNotebook(stem, rerunTimeoutS);
  return { first, rerun };
}
