/**
 * Chapter 3 (quick profile) on the real hymenoptera set: the targets, read from the published results.
 * 153 validation images: one image is 0.65 points, so the bands below are whole images, not noise margins.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputsByMime, runNotebook, TEST_BUILD, type NotebookRunOutput } from "../../../test/notebooks/run-notebook";

let nb: NotebookRunOutput;
beforeAll(async () => {
  nb = await runNotebook("03-fine-tuning", 1500);
}, (1500 + 120) * 1000);

describe("03-fine-tuning (quick)", () => {
  it("publishes the three runs' best validation accuracies", () => {
    const m = nb.results.metrics;
    for (const k of ["finetune_val_acc", "frozen_val_acc", "scratch_val_acc"]) {
      expect(m[k], k).toBeGreaterThanOrEqual(0);
      expect(m[k], k).toBeLessThanOrEqual(1);
    }
    expect(nb.results.runs.map((r: any) => r.name)).toEqual(["fine-tune all layers", "frozen backbone, head only", "from scratch (random init)"]);
  });

  it("pretrained (best of fine-tune and frozen) reaches at least 92% on the 153 validation images", () => {
    const m = nb.results.metrics;
    expect(Math.max(m.finetune_val_acc, m.frozen_val_acc)).toBeGreaterThanOrEqual(0.92);
  });

  it("pretrained beats training from scratch by at least 15 points", () => {
    const m = nb.results.metrics;
    expect(Math.max(m.finetune_val_acc, m.frozen_val_acc) - m.scratch_val_acc).toBeGreaterThanOrEqual(0.15);
  });

  it("caches the frozen backbone's features on disk for the next run", () => {
    const root = path.join(TEST_BUILD, "cache", "features");
    const entries = fs.readdirSync(root).filter((d) => d.startsWith("mobilenet_v2_0.35-"));
    expect(entries.length).toBeGreaterThanOrEqual(2); // train and val
    for (const d of entries) expect(fs.existsSync(path.join(root, d, "meta.json"))).toBe(true);
    expect(["computed", "cached"]).toContain(nb.results.runs[1].features);
  });

  it("shows the sample grid, augmentations, one prediction, the curves and the table", () => {
    const out = outputsByMime(nb.executed);
    expect((out.get("image/png") ?? []).length).toBeGreaterThanOrEqual(4);
    expect((out.get("text/html") ?? []).join("")).toContain("best_val_acc");
    expect(nb.handout).toContain("fine-tune all layers");
  });
});
