/**
 * The headless runner (tools/run_notebooks.py) on fixture notebooks: failures are reported with
 * notebook, cell, first line and message; partial notebooks are kept; --keep-going runs the rest;
 * hangs time out; missing Jupyter pieces give one actionable message.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const FIXTURES = path.join(__dirname, "fixtures");
const out = fs.mkdtempSync(path.join(os.tmpdir(), "tl-runner-"));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}, python = ["/usr/bin/python3"]) {
  const r = spawnSync(python[0], [...python.slice(1), path.join(ROOT, "tools/run_notebooks.py"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 180_000,
  });
  return { code: r.status, text: `${r.stdout}\n${r.stderr}` };
}
const readNb = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"));

describe("headless runner", () => {
  it("reports a failing cell with notebook, cell number, first line and message, keeps the partial notebook, and goes on with --keep-going", () => {
    const dest = path.join(out, "keep");
    const r = run(["--notebooks", FIXTURES, "--out", dest, "--keep-going", "a-fails", "b-passes"]);
    expect(r.code).not.toBe(0);
    expect(r.text).toMatch(/a-fails\.ipynb: FAILED at cell 3 \(const answer: number = 41;\)/);
    expect(r.text).toContain("expected 42 but got 41");
    expect(r.text).toMatch(/b-passes\.ipynb: ok/);
    expect(r.text).toMatch(/1 notebook\(s\) failed: a-fails\.ipynb/);

    const partial = readNb(path.join(dest, "notebooks", "a-fails.ipynb"));
    const texts = partial.cells.map((c: any) => (c.outputs ?? []).map((o: any) => [o.text].flat().join("")).join(""));
    expect(texts[1]).toContain("first cell ran");
    expect(texts[3]).toBe(""); // the cell after the failure did not run
    const passed = readNb(path.join(dest, "notebooks", "b-passes.ipynb"));
    expect(JSON.stringify(passed.cells[1].outputs)).toContain("b ran: 2,4,6");

    const index = fs.readFileSync(path.join(dest, "handouts", "index.html"), "utf8");
    expect(index).toContain("a-fails.html");
    expect(index).toContain("FAILED");
    expect(fs.existsSync(path.join(dest, "handouts", "b-passes.html"))).toBe(true);
    const summary = JSON.parse(fs.readFileSync(path.join(dest, "notebooks", "run-summary.json"), "utf8"));
    expect(summary.notebooks.map((n: any) => [n.notebook, n.ok])).toEqual([["a-fails.ipynb", false], ["b-passes.ipynb", true]]);
  });

  it("loses no output of a cell that prints and updates a display 1,500 times without yielding (the helpers queue zeromq's EBUSY)", () => {
    const dest = path.join(out, "many");
    const r = run(["--notebooks", FIXTURES, "--out", dest, "--no-html", "d-many-outputs"]);
    expect(r.text).toMatch(/d-many-outputs\.ipynb: ok/);
    expect(r.code).toBe(0);
    const nb = readNb(path.join(dest, "notebooks", "d-many-outputs.ipynb"));
    const display = nb.cells[1].outputs.filter((o: any) => o.output_type === "display_data");
    expect(display.map((o: any) => [o.data["text/plain"]].flat().join(""))).toEqual(["update 1499"]);
    const lines = nb.cells[2].outputs.map((o: any) => [o.text].flat().join("")).join("").trimEnd().split("\n");
    expect(lines).toEqual(Array.from({ length: 1500 }, (_, i) => `line ${i}`));
  });

  it("reports a cell that failed without printing anything, with the kernel's last messages", () => {
    const dest = path.join(out, "silent");
    const r = run(["--notebooks", FIXTURES, "--out", dest, "--no-html", "e-silent-failure"]);
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/e-silent-failure\.ipynb: FAILED at cell 3 \(process\.stderr\.write = \(\) => true;/);
    expect(r.text).toContain("the kernel reported an error but printed no message; its last messages:");
    expect(r.text).toContain('  status: {"execution_state": "busy"}');
    expect(r.text).not.toContain("before"); // only the failing cell's messages
  });

  it("stops at the first failing notebook without --keep-going", () => {
    const dest = path.join(out, "stop");
    const r = run(["--notebooks", FIXTURES, "--out", dest, "--no-html", "a-fails", "b-passes"]);
    expect(r.code).toBe(1);
    expect(fs.existsSync(path.join(dest, "notebooks", "b-passes.ipynb"))).toBe(false);
  });

  it("times out a hanging cell, kills the kernel and says so", () => {
    const dest = path.join(out, "hang");
    const t0 = Date.now();
    const r = run(["--notebooks", FIXTURES, "--out", dest, "--no-html", "--timeout", "6", "c-hangs"]);
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/c-hangs\.ipynb: FAILED at cell 2 .*\n.*timed out/);
    expect(Date.now() - t0).toBeLessThan(90_000);
  });

  it("names the fix when the tslab kernel is not registered", () => {
    const empty = fs.mkdtempSync(path.join(out, "jupyter-data-"));
    const r = run(["--notebooks", FIXTURES, "--out", path.join(out, "nokernel"), "b-passes"], { JUPYTER_DATA_DIR: empty, HOME: empty });
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/kernel 'tslab' is not installed\. Run `make setup`/);
  });

  it("names the fix when Jupyter's Python packages are missing", () => {
    // -S drops site/dist-packages from sys.path: the same as a Python without nbclient installed.
    const r = run(["b-passes"], {}, ["/usr/bin/python3", "-S"]);
    expect(r.code).toBe(2);
    expect(r.text).toMatch(/Jupyter's Python packages are missing .*make setup/);
  });

  it("rejects an unknown profile", () => {
    const r = run(["--profile", "fast", "b-passes"]);
    expect(r.code).toBe(2);
    expect(r.text).toContain("unknown profile 'fast'");
  });
});
