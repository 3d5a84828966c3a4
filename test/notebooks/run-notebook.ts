/** Shared by the notebook tests: execute one course notebook (quick profile) through the real runner. */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { NotebookResults } from "../../src/helpers/results";

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

export function runNotebook(stem: string, timeoutS = 1500): NotebookRunOutput {
  process.env.TL_CACHE_DIR ??= path.resolve(ROOT, "../shared/cache");
  const r = spawnSync("/usr/bin/python3", [path.join(ROOT, "tools/run_notebooks.py"), "--profile", "quick", "--out", TEST_BUILD, stem], {
    cwd: ROOT,
    env: process.env,
    encoding: "utf8",
    timeout: (timeoutS + 60) * 1000,
  });
  const log = `${r.stdout}\n${r.stderr}`;
  if (r.status !== 0) throw new Error(`notebook ${stem} failed (exit ${r.status}):\n${log}`);
  const read = (p: string) => fs.readFileSync(path.join(TEST_BUILD, p), "utf8");
  return {
    code: r.status,
    log,
    results: JSON.parse(read(`results/${stem}.json`)),
    executed: JSON.parse(read(`notebooks/${stem}.ipynb`)),
    handout: read(`handouts/${stem}.html`),
  };
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
