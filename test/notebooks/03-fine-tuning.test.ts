/**
 * Chapter 3 (quick profile) on the real hymenoptera set: the targets, read from the published results.
 * 153 validation images: one image is 0.65 points, so the bands below are whole images, not noise margins.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { outputsByMime, runNotebook, TEST_BUILD, type NotebookRunOutput } from "./run-notebook";
import { classifyImageFile, extractFeatures, hymenoptera, imageSamplesStream, loadBackbone, loadImageClassifier } from "../../src/helpers";

let nb: NotebookRunOutput;
beforeAll(async () => {
  nb = await runNotebook("03-fine-tuning", 900);
}, (900 + 120) * 1000);

describe("03-fine-tuning (quick)", () => {
  it("publishes the three runs' best validation accuracies", () => {
    const m = nb.results.metrics;
    for (const k of ["finetune_val_acc", "frozen_val_acc", "scratch_val_acc", "frozen_v1_val_acc", "imagenet_top1_antbee_share"]) {
      expect(m[k], k).toBeGreaterThanOrEqual(0);
      expect(m[k], k).toBeLessThanOrEqual(1);
    }
    expect(nb.results.runs.map((r: any) => r.name)).toEqual(["fine-tune all layers", "frozen backbone, head only", "from scratch (random init)", "frozen mobilenet_v1_0.75, head only"]);
  });

  it("pretrained (best of fine-tune and frozen) reaches at least 92% on the 153 validation images", () => {
    const m = nb.results.metrics;
    expect(Math.max(m.finetune_val_acc, m.frozen_val_acc)).toBeGreaterThanOrEqual(0.92);
  });

  it("pretrained beats training from scratch by at least 15 points", () => {
    const m = nb.results.metrics;
    expect(Math.max(m.finetune_val_acc, m.frozen_val_acc) - m.scratch_val_acc).toBeGreaterThanOrEqual(0.15);
  });

  it("caches the frozen backbone's features on disk, and the same call reads them back instead of recomputing", async () => {
    const root = path.join(TEST_BUILD, "cache", "features");
    const entries = fs.readdirSync(root).filter((d) => d.startsWith("mobilenet_v2_0.35-"));
    const metas = entries.map((d) => JSON.parse(fs.readFileSync(path.join(root, d, "meta.json"), "utf8")));
    // six views of the 244 training images (centre, mirror, four random crops) and one of the 153 validation images
    expect(metas.filter((m) => m.numSamples === 244).length).toBeGreaterThanOrEqual(6);
    expect(metas.filter((m) => m.numSamples === 153).length).toBeGreaterThanOrEqual(1);
    const data = await hymenoptera();
    const { model } = await loadBackbone("mobilenet_v2_0.35");
    const again = await extractFeatures({
      backbone: model, backboneName: "mobilenet_v2_0.35", preprocessing: "none", keyExtra: `preset 224 ${JSON.stringify({ mode: "eval" })}`,
      data: imageSamplesStream(data.val.samples, { batchSize: 32, size: 224, mode: "eval" }), cacheRoot: root,
    });
    expect(again.fromCache).toBe(true);
    expect(again.numSamples).toBe(153);
  }, 120_000);

  it("reports the frozen head as a mean over seeds, with the spread", () => {
    const frozen = nb.results.runs[1] as { seeds: number; per_seed: number[] };
    expect(frozen.seeds).toBeGreaterThanOrEqual(3);
    expect(frozen.per_seed).toHaveLength(frozen.seeds);
    const mean = frozen.per_seed.reduce((a, b) => a + b, 0) / frozen.per_seed.length;
    expect(nb.results.metrics.frozen_val_acc).toBeCloseTo(mean, 9);
  });

  it("reports the frozen MobileNet v1 head beside alpha 0.35 as a mean over the same seeds, with the spread", () => {
    const [v2, v1] = [nb.results.runs[1], nb.results.runs[3]] as { per_seed: number[]; seed_min: number; seed_max: number }[];
    expect(v1.per_seed).toHaveLength(v2.per_seed.length);
    const mean = v1.per_seed.reduce((a, b) => a + b, 0) / v1.per_seed.length;
    expect(nb.results.metrics.frozen_v1_val_acc).toBeCloseTo(mean, 9);
    expect([v1.seed_min, v1.seed_max]).toEqual([Math.min(...v1.per_seed), Math.max(...v1.per_seed)]);
    expect((outputsByMime(nb.executed).get("text/html") ?? []).join("")).toContain("seed_min");
  });

  it("asks the ImageNet classifier about every validation photo: the ant/bee share is whole images of 153", () => {
    const share = nb.results.metrics.imagenet_top1_antbee_share;
    expect(share * 153).toBeCloseTo(Math.round(share * 153), 6);
    const text = (outputsByMime(nb.executed).get("stream/stdout") ?? []).join("");
    expect(text).toMatch(/top-1 is 'ant' or 'bee' for \d+ of 153 validation images/);
    expect(text).toContain("tfjs-models/tfjs/mobilenet_v1_0.75_224/model.json");
  });

  it("shows the sample grid, augmentations, the top-5 grid, one prediction, the curves and the table", () => {
    const out = outputsByMime(nb.executed);
    expect((out.get("image/png") ?? []).length).toBeGreaterThanOrEqual(5);
    expect((out.get("text/html") ?? []).join("")).toContain("best_val_acc");
    expect(nb.handout).toContain("fine-tune all layers");
  });

  it("exports the fine-tuned model for the browser: one image-to-probabilities model that reproduces the notebook", async () => {
    const exported = await loadImageClassifier(path.join(TEST_BUILD, "models", "ch3"));
    expect(exported.model.inputs[0].shape).toEqual([null, 224, 224, 3]);
    expect(exported.metadata.classes).toEqual(["ants", "bees"]);
    expect(exported.metadata.metrics!.val_acc).toBeCloseTo(nb.results.metrics.finetune_val_acc, 9);
    expect(exported.metadata.run?.notebook).toBe("03-fine-tuning");
    // The exported model, fed by its own pipeline, scores what the notebook measured (one image of slack: another
    // backend's rounding may tip an image that sits on the decision boundary).
    const data = await hymenoptera();
    let correct = 0;
    for (const s of data.val.samples) if ((await classifyImageFile(exported, s.path)).index === s.label) correct++;
    expect(Math.abs(correct - nb.results.metrics.finetune_val_acc * data.val.samples.length)).toBeLessThanOrEqual(1 + 1e-6);
    expect(nb.handout).toContain("demo/index.html");
  }, 300_000);
});
