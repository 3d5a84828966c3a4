/** Source notebooks are committed clean: no outputs, no execution counts, the tslab kernel. */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const dirs = [path.join(ROOT, "notebooks"), path.join(ROOT, "notebooks", "drafts"), path.join(__dirname, "fixtures")];
// notebooks/drafts/ holds chapters not yet in the course; it may not exist.
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
  }
});
