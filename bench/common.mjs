// Shared by the bench drivers (run.mjs, chapters.mjs): one measurement per fresh process, medians.
import { spawnSync } from "node:child_process";

/** Median of a list of numbers (NaN when empty). */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

/**
 * Run one worker process and return the last JSON line it printed, or `{ error }` naming why there was none.
 * The torch backend is measured as the course runs it: one malloc arena (kernel spec env, Makefile).
 */
export function runWorker(file, args, { cwd, env = process.env, timeoutMs, torch = false }) {
  const e = { ...env };
  if (torch && e.MALLOC_ARENA_MAX === undefined) e.MALLOC_ARENA_MAX = "1";
  const r = spawnSync(file, args, { encoding: "utf8", timeout: timeoutMs, cwd, maxBuffer: 1 << 24, env: e });
  const line = (r.stdout ?? "").split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) return { error: r.error ? String(r.error.message) : `exit ${r.status}: ${(r.stderr ?? "").trim().split("\n").pop()}` };
  return JSON.parse(line);
}
