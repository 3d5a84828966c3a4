/**
 * The helpers' architecture, read from the tree: each folder imports only from the layers below it, no
 * import cycle between files, and no source file over 500 lines.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const HELPERS = path.resolve(__dirname, "../../../src/helpers");

/** Lowest first; a folder may import from any folder in an earlier entry, never a later one or its own entry's peers. */
const LAYERS: string[][] = [
  ["config", "types.ts"],
  ["display"],
  ["backend", "fetch", "pipeline", "eval", "plot"],
  ["sets", "models", "results"],
  ["train"],
  ["transfer"],
];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === "dist" || e.name === "node_modules" ? [] : sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = fs.readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.[^"']+)["']/g)) {
    const base = path.resolve(path.dirname(file), m[1]);
    const hit = [`${base}.ts`, path.join(base, "index.ts")].find((c) => fs.existsSync(c));
    if (hit) out.push(hit);
  }
  return out;
}

const top = (file: string) => path.relative(HELPERS, file).split(path.sep)[0];
const layerOf = (name: string) => LAYERS.findIndex((l) => l.includes(name));

describe("helpers structure", () => {
  const files = sources(HELPERS);
  const graph = new Map(files.map((f) => [f, imports(f)]));

  it("every folder imports only from lower layers", () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      const from = top(file);
      if (from === "index.ts") continue; // the facade re-exports everything
      expect(layerOf(from), `${from} is in no layer of LAYERS`).toBeGreaterThanOrEqual(0);
      for (const d of deps) {
        const to = top(d);
        if (to !== from && layerOf(to) >= layerOf(from)) wrong.push(`${path.relative(HELPERS, file)} -> ${path.relative(HELPERS, d)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("has no import cycle between files", () => {
    const state = new Map<string, "open" | "done">();
    const cycles: string[] = [];
    const visit = (f: string, stack: string[]) => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "open") {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map((x) => path.relative(HELPERS, x)).join(" -> "));
        return;
      }
      state.set(f, "open");
      for (const d of graph.get(f) ?? []) visit(d, [...stack, f]);
      state.set(f, "done");
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it("keeps every source file under 500 lines", () => {
    const long = files.map((f) => [path.relative(HELPERS, f), fs.readFileSync(f, "utf8").split("\n").length] as const).filter(([, n]) => n > 500);
    expect(long).toEqual([]);
  });
});
