/**
 * Chapter 4 (quick profile): two frozen ImageNet backbones (MobileNetV2 alpha 0.35, MobileNet v1 alpha 0.75) side by
 * side on CIFAR-10 + a linear classifier; the main run uses the one with the better validation accuracy.
 * Issue 21's target: the main run reaches 76% top-1, held with a band of two binomial standard errors of the
 * 10,000-image test batch (about 0.9 points).
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { outputsByMime, runNotebookAndRerun, TEST_BUILD, type NotebookRunOutput } from "./run-notebook";
import { arrayImage, classifyPixels, loadCifar10, loadImageClassifier } from "../../src/helpers";

const STEM = "04-image-classification-principles";
let nb: NotebookRunOutput;
let rerun: NotebookRunOutput;
beforeAll(async () => {
  // A rerun needs no backbone pass, so it is cheap.
  ({ first: nb, rerun } = await runNotebookAndRerun(STEM, 900, 600));
}, 1_800_000);

describe(`${STEM} (quick)`, () => {
  it("publishes the main run's test accuracy (76% target) and top-5 on the full CIFAR-10 test batch", () => {
    const r = nb.results;
    expect(r.notebook).toBe(STEM);
    expect(r.profile).toBe("quick");
    expect(r.metrics.test_images).toBe(10000);
    expect(r.metrics.test_acc).toBeGreaterThanOrEqual(0.76 - 2 * Math.sqrt((0.76 * 0.24) / 10000));
    expect(r.metrics.top5_acc).toBeGreaterThanOrEqual(r.metrics.test_acc);
    expect(r.metrics.top5_acc).toBeLessThanOrEqual(1);
  });

  it("says which dataset ran and shows the training progress's final state (every epoch done, with its metrics)", () => {
    const text = (outputsByMime(nb.executed).get("stream/stdout") ?? []).join("");
    expect(text).toMatch(/dataset: CIFAR-10/);
    const html = (outputsByMime(nb.executed).get("text/html") ?? []).join("");
    const epochs = nb.results.metrics.epochs;
    const done = new RegExp(`epoch <progress value="${epochs}" max="${epochs}"[^>]*></progress> ${epochs}/${epochs} \\[done in [^\\]]+\\]  loss [\\d.]+  lr \\S+  acc [\\d.]+  val_loss [\\d.]+  val_acc [\\d.]+`, "g");
    // one finished bar per backbone's classifier
    expect((html.match(done) ?? []).length).toBe(nb.results.metrics.backbones);
  });

  it("sets the two backbones side by side and runs the main experiment on the one better on validation", () => {
    const m = nb.results.metrics;
    const rows = (nb.results.runs.find((r) => "side_by_side" in r) as { side_by_side: { backbone: string; imagenet_top1: number; parameters: number; images_per_s: number; val_acc: number; test_top1: number; test_top5: number }[] }).side_by_side;
    expect(rows.map((r) => r.backbone)).toEqual(["mobilenet_v2_0.35", "mobilenet_v1_0.75"]);
    for (const r of rows) {
      expect(r.imagenet_top1).toBeGreaterThan(0.5);
      expect(r.parameters).toBeGreaterThan(100_000);
      expect(r.images_per_s).toBeGreaterThan(0);
      expect(r.test_top5).toBeGreaterThanOrEqual(r.test_top1);
    }
    expect([m.v2_test_acc, m.v1_test_acc]).toEqual(rows.map((r) => r.test_top1));
    const main = rows.reduce((a, b) => (b.val_acc > a.val_acc ? b : a));
    expect(m.test_acc).toBe(main.test_top1);
    expect((nb.results.runs[0] as { backbone: string }).backbone).toBe(main.backbone);
    const text = (outputsByMime(nb.executed).get("stream/stdout") ?? []).join("");
    expect(text).toMatch(/better on ImageNet than .*: (yes|no|no measurable difference)/);
  });

  it("shows the sample grid, curves, per-class chart and prediction grid, and a sweep table", () => {
    const out = outputsByMime(nb.executed);
    expect((out.get("image/png") ?? []).length).toBeGreaterThanOrEqual(4);
    expect(nb.handout.match(/<img src="data:image\/png;base64,/g)?.length ?? 0).toBeGreaterThanOrEqual(4);
    const html = (out.get("text/html") ?? []).join("");
    expect(html).toContain("<table");
    expect(html).toMatch(/learning_rate/);
    const sweep = nb.results.runs.find((r) => "lr_sweep" in r) as { lr_sweep: unknown[] } | undefined;
    expect(sweep?.lr_sweep.length).toBeGreaterThanOrEqual(2);
  });

  it("exports the classifier in TF.js layers format with its metadata", () => {
    const dir = path.join(TEST_BUILD, "models", "ch4");
    const model = JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8"));
    expect(model.modelTopology).toBeDefined();
    expect(model.weightsManifest[0].paths.every((p: string) => fs.existsSync(path.join(dir, p)))).toBe(true);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, "metadata.json"), "utf8"));
    expect(meta.classes).toHaveLength(10);
    expect(meta.backbone).toBe((nb.results.runs[0] as { backbone: string }).backbone);
  });

  it("exports backbone and classifier as one model that classifies 32-px photos through its own pipeline", async () => {
    const exported = await loadImageClassifier(path.join(TEST_BUILD, "models", "ch4"));
    expect(exported.metadata.pipeline.map((s) => s.op)).toEqual(["resizeShorter", "centerCrop", "upsample", "scale"]);
    const test = await loadCifar10({ split: "test" });
    const n = 300;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      // predict is synchronous: give the event loop a turn per image, or vitest's worker RPC times out (60 s)
      await new Promise((r) => setImmediate(r));
      const p = classifyPixels(exported.model, arrayImage(test, i), exported.metadata.pipeline);
      if (p.indexOf(Math.max(...p)) === test.labels[i]) correct++;
    }
    // the first 300 test images: within three binomial standard errors of the notebook's 10,000-image accuracy
    const acc = nb.results.metrics.test_acc;
    expect(Math.abs(correct / n - acc)).toBeLessThan(3 * Math.sqrt((acc * (1 - acc)) / n));
  }, 300_000);

  it("reuses the on-disk feature cache on a rerun", () => {
    expect(rerun.results.metrics.features_cached).toBe(1);
    expect(rerun.results.metrics.test_acc).toBeCloseTo(nb.results.metrics.test_acc, 6);
  });
});
