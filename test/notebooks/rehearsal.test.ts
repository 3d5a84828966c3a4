/**
 * The full-profile rehearsal (make rehearsal): every notebook's full path on miniature stand-ins served from a loopback
 * mirror, from an empty cache, through the real runner. REHEARSAL_NOTEBOOKS narrows it (a space-separated filter list).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./run-notebook";

const OUT = path.join(ROOT, "build", "test-rehearsal");
const ALL = "00 01 02 03 04 05";
const FILTERS = (process.env.REHEARSAL_NOTEBOOKS ?? ALL).split(/\s+/).filter(Boolean);
const BUDGET_S = 1500;

let log = "";
let code: number | null = null;
let summary: { profile: string; notebooks: { notebook: string; ok: boolean; error: unknown; wall_s: number }[] };
let fetchReport: { fetched: string[]; not_fetched: string[]; fetched_twice: string[] };

beforeAll(async () => {
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

describe("full-profile rehearsal", () => {
  it("executes every selected notebook's full path without a failing cell", () => {
    const failed = summary.notebooks.filter((n) => !n.ok).map((n) => `${n.notebook}: ${JSON.stringify(n.error)}`);
    expect(failed, log).toEqual([]);
    expect(summary.notebooks.length).toBe(FILTERS.length);
    expect(code, log).toBe(0);
  });

  it("fetched its stand-ins through the mirror, each once, and every registered one was used", () => {
    expect(fetchReport.fetched_twice).toEqual([]);
    // With every notebook selected, an unfetched stand-in means the rehearsal builds something nothing downloads.
    if (FILTERS.join(" ") === ALL) expect(fetchReport.not_fetched).toEqual([]);
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
      if (stem.startsWith("02")) expect(banner).toMatch(/MNIST and Fashion-MNIST cut to the first \d+ images per class and split \(TL_REHEARSAL_PER_CLASS\)/);
      const handout = fs.readFileSync(path.join(OUT, "handouts", `${stem}.html`), "utf8");
      expect(handout.indexOf("Rehearsal, not results")).toBeGreaterThan(0);
      expect(handout.indexOf("Rehearsal, not results")).toBeLessThan(handout.indexOf("profile: full-rehearsal"));
    }
  });
});
