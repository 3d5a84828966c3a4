/**
 * Chapter 5 (quick profile) on the real hymenoptera set: the targets, read from the published results.
 * 153 validation images: one image is 0.65 points, so "head-only - 1 point" allows one image, not a noise margin.
 * The per-group learning-rate unit tests are in test/helpers/transfer/ops.test.ts and test/helpers/transfer/weightChange.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { outputsByMime, runNotebook, type NotebookRunOutput } from "./run-notebook";

const TIMEOUT_S = 1500;
let nb: NotebookRunOutput;
beforeAll(async () => {
  nb = await runNotebook("05-transfer-learning-basics", TIMEOUT_S);
}, (TIMEOUT_S + 120) * 1000); // two whole-network fine-tunes at 224: minutes on a shared 2-core CPU

const GROUPS = ["stem", "early", "middle", "late", "head"];

describe("05-transfer-learning-basics (quick)", () => {
  it("publishes the three runs' best validation accuracies and the wall time", () => {
    const m = nb.results.metrics;
    for (const k of ["head_only_val_acc", "discriminative_val_acc", "single_lr_val_acc"]) {
      expect(m[k], k).toBeGreaterThanOrEqual(0);
      expect(m[k], k).toBeLessThanOrEqual(1);
    }
    expect(nb.results.wall_s).toBeGreaterThan(0);
    expect(nb.results.runs.map((r: any) => r.method)).toEqual(["head_only", "discriminative", "single_lr"]);
  });

  it("discriminative fine-tuning is within 1 point of head-only training", () => {
    const m = nb.results.metrics;
    expect(m.discriminative_val_acc).toBeGreaterThanOrEqual(m.head_only_val_acc - 0.01);
  });

  it("discriminative fine-tuning is at least as good as single-LR fine-tuning", () => {
    const m = nb.results.metrics;
    expect(m.discriminative_val_acc).toBeGreaterThanOrEqual(m.single_lr_val_acc);
  });

  it("trains the head alone vs all layers, and the per-group rates order the weight changes", () => {
    const [head, disc, single] = nb.results.runs as any[];
    expect(head.trainable_params).toBe(2562); // 1280 x 2 + 2
    expect(disc.trainable_params).toBe(single.trainable_params);
    expect(disc.trainable_params).toBeGreaterThan(100 * head.trainable_params);
    expect(disc.history.length).toBe(single.history.length);
    expect(Object.keys(disc.weight_change)).toEqual(GROUPS);
    const d = (g: string) => disc.weight_change[g].mean_abs_change;
    const s = (g: string) => single.weight_change[g].mean_abs_change;
    for (const g of GROUPS) expect(d(g), g).toBeGreaterThan(0);
    // stem and early blocks get 10x smaller rates than with the single rate (1e-4 vs 1e-3), the head 10x larger
    expect(d("stem")).toBeLessThan(s("stem"));
    expect(d("early")).toBeLessThan(s("early"));
    expect(d("head")).toBeGreaterThan(s("head"));
    expect(d("head")).toBeGreaterThan(d("late"));
  });

  it("shows the settings, the groups, the comparison table, the curves and the weight-change chart", () => {
    const out = outputsByMime(nb.executed);
    expect((out.get("image/png") ?? []).length).toBeGreaterThanOrEqual(2);
    const html = (out.get("text/html") ?? []).join("");
    for (const s of ["trainable params", "val accuracy", "wall time", "block_6_expand"]) expect(html).toContain(s);
    // the training progress bars' final states (one per run), not a line per epoch
    expect(html.match(/epoch <progress value="(\d+)" max="\1"[^>]*><\/progress> \d+\/\d+ \[done in [^\]]+\]  loss [\d.]+/g) ?? []).toHaveLength(3);
    expect(nb.handout).toContain("discriminative fine-tune");
  });
});
