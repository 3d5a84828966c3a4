/** Bad labels are caught before a step changes any weight; running out of memory becomes batch-size advice. */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { featureStream } from "../../src/helpers/pipeline";
import { explainOutOfMemory, trainModel } from "../../src/helpers/train";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const data = (labels: number[], labelDim?: number) =>
  featureStream({ features: new Float32Array(labels.length * 4 / (labelDim ?? 1)).fill(0.5), dim: 4, labels, labelDim, batchSize: 4 });

describe("training refuses labels that don't fit the model", () => {
  const model = () => tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], activation: "softmax" })] });

  it("stops at the first batch with an out-of-range class index, before any weight changes", async () => {
    const m = model();
    const before = m.getWeights().map((w) => w.dataSync().slice());
    await expect(trainModel(m, data([0, 1, 2, 5, 0, 1, 2, 0]), { epochs: 1 })).rejects.toThrow(
      /Label 5 at epoch 1, batch 1 \(sample 3\) is not a class index of this model \(0\.\.2\)/,
    );
    m.getWeights().forEach((w, i) => expect(Array.from(w.dataSync())).toEqual(Array.from(before[i])));
  });

  it("rejects multi-hot targets whose width differs from the model's outputs", async () => {
    const m = model();
    const multiHot = [1, 0, 0, 1, 0, 1, 1, 1]; // 4 samples x 2 labels, but the model has 3 outputs
    await expect(trainModel(m, data(multiHot, 2), { epochs: 1, loss: "binaryCrossentropy" })).rejects.toThrow(/model has 3 outputs/);
  });
});

describe("out-of-memory guard", () => {
  it("turns an allocation failure inside a step into advice with a smaller batch size", async () => {
    const w = tf.variable(tf.zeros([4, 3]));
    const target = {
      variables: [w],
      forward: () => {
        throw new RangeError("Array buffer allocation failed");
      },
    };
    await expect(trainModel(target, data([0, 1, 2, 0]), { epochs: 1 })).rejects.toThrow(
      /Out of memory during a training step with batch size 4 .*batchSize: 2/,
    );
    w.dispose();
  });

  it("passes other errors through unchanged", () => {
    const e = new Error("shapes do not match");
    expect(explainOutOfMemory(e, 8)).toBe(e);
  });
});
