/**
 * Source notebooks are committed clean: no outputs, no execution counts, the tslab kernel; and exactly as Jupyter
 * Notebook 6.4 writes them with the tslab kernel, so opening and saving an unchanged notebook leaves it byte-identical
 * (the browser test, test/browser/, checks that against a real Notebook).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const dirs = [path.join(ROOT, "notebooks"), path.join(ROOT, "notebooks", "drafts"), path.join(__dirname, "fixtures")];
// notebooks/drafts/ holds chapters not yet in the course; it may not exist.
/** What Notebook copies from tslab's kernel_info reply (node_modules/tslab/dist/jupyter.js handleKernel) into the metadata. */
const LANGUAGE_INFO = {
  codemirror_mode: { mode: "typescript", name: "javascript", typescript: true },
  file_extension: ".ts",
  mimetype: "text/typescript",
  name: "typescript",
  version: "3.7.2",
};
const KERNELSPEC = { display_name: "TypeScript", language: "typescript", name: "tslab" };

/** nbformat.write's text: json.dumps(indent=1, sort_keys=True, ensure_ascii=False) plus a newline. */
function nbformatText(nb: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted) : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sorted(nb), null, 1) + "\n";
}

const notebooks = dirs.filter((d) => fs.existsSync(d)).flatMap((d) => fs.readdirSync(d).filter((f) => f.endsWith(".ipynb")).map((f) => path.join(d, f)));

describe("source notebooks", () => {
  it("exist", () => {
    expect(notebooks.filter((f) => f.includes(`${path.sep}notebooks${path.sep}`) && !f.includes("fixtures")).length).toBeGreaterThan(0);
  });
  for (const file of notebooks) {
    it(`${path.relative(ROOT, file)} has no outputs or execution counts and uses the tslab kernel`, () => {
      const nb = JSON.parse(fs.readFileSync(file, "utf8"));
      expect(nb.metadata.kernelspec?.name).toBe("tslab");
      const dirty = nb.cells
        .map((c: any, i: number) => ({ i: i + 1, c }))
        .filter(({ c }: any) => c.cell_type === "code" && ((c.outputs ?? []).length > 0 || c.execution_count != null));
      expect(dirty.map((d: any) => `cell ${d.i}`), "clear outputs before committing (Jupyter: Edit > Clear All Outputs)").toEqual([]);
    });

    it(`${path.relative(ROOT, file)} is nbformat 4.5 with an id on every cell and the metadata Notebook writes, in Notebook's exact format`, () => {
      const text = fs.readFileSync(file, "utf8");
      const nb = JSON.parse(text);
      expect([nb.nbformat, nb.nbformat_minor]).toEqual([4, 5]);
      const ids = nb.cells.map((c: any) => c.id);
      expect(nb.cells.map((c: any, i: number) => (typeof c.id === "string" && /^[a-zA-Z0-9-_]{1,64}$/.test(c.id) ? null : `cell ${i + 1}`)).filter(Boolean), "cells without a valid id").toEqual([]);
      expect(new Set(ids).size, "cell ids must be unique").toBe(ids.length);
      expect(nb.metadata.kernelspec).toEqual(KERNELSPEC);
      expect(nb.metadata.language_info, "Notebook rewrites language_info from the kernel on open: commit exactly tslab's").toEqual(LANGUAGE_INFO);
      expect(text === nbformatText(nb), "write notebooks with nbformat.write (json indent=1, sorted keys, trailing newline)").toBe(true);
    });
  }
});
