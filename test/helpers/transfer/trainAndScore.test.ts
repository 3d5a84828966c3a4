/** trainAndScore: trains, then scores on a separate stream; a head/class-count mismatch is caught before training. */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { buildHeadModel, trainAndScore } from "../../../src/helpers/transfer";
import { featureStream } from "../../../src/helpers/pipeline";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** Three classes in 4-D: class c sits at 3 * e_c plus small deterministic jitter, so a linear head separates them. */
function blobs(n: number, offset: number) {
  const features = new Float32Array(n * 4);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = c;
    for (let d = 0; d < 4; d++) features[i * 4 + d] = (d === c ? 3 : 0) + 0.3 * Math.sin(7 * (i + offset) + d);
  }
  return { features, dim: 4, labels };
}

describe("trainAndScore", () => {
  it("learns a separable problem and reports its accuracy on the held-out stream", async () => {
    const classes = ["a", "b", "c"];
    const model = buildHeadModel([4], { numClasses: 3, dropout: 0, seed: 1 });
    const train = featureStream({ ...blobs(60, 0), batchSize: 16, shuffle: true, seed: 1 });
    const test = featureStream({ ...blobs(30, 1000), batchSize: 30 });
    const r = await trainAndScore(model, train, test, classes, { epochs: 30, optimizer: { type: "adam", lr: 0.05 }, seed: 1 });
    expect(r.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(r.seconds).toBeGreaterThan(0);
  });

  it("scores on the test stream, not the training one", async () => {
    const model = buildHeadModel([4], { numClasses: 3, dropout: 0, seed: 1 });
    const train = featureStream({ ...blobs(60, 0), batchSize: 16 });
    const swapped = blobs(30, 1000);
    swapped.labels = Int32Array.from(swapped.labels, (c) => (c + 1) % 3); // every test label wrong on purpose
    const r = await trainAndScore(model, train, featureStream({ ...swapped, batchSize: 30 }), ["a", "b", "c"], { epochs: 30, optimizer: { type: "adam", lr: 0.05 }, seed: 1 });
    expect(r.accuracy).toBeLessThanOrEqual(0.05);
  });

  it("rejects a model whose outputs do not match the classes, before training", async () => {
    const model = buildHeadModel([4], { numClasses: 3, dropout: 0 });
    const before = model.getWeights().map((w) => Array.from(w.dataSync()));
    const s = featureStream({ ...blobs(6, 0), batchSize: 6 });
    await expect(trainAndScore(model, s, s, ["5", "6", "7", "8", "9"], { epochs: 1 })).rejects.toThrow(/3 outputs but 5 classes.*numClasses: 5/);
    expect(model.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(before);
  });
});
