/** withInputSize, upsampleBatch and the cached features of in-memory image arrays (extractArrayFeatures). */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { withInputSize } from "../../../src/helpers/models";
import { upsampleBatch } from "../../../src/helpers/pipeline";
import { extractArrayFeatures, hashImageArray } from "../../../src/helpers/transfer";

let tmp: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-arrayfeat-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A tiny fully convolutional model with a fixed 16x16 input, like the zoo's Keras-converted backbones. */
function tinyConvNet(): tf.LayersModel {
  const input = tf.input({ batchShape: [null, 16, 16, 3], name: "image" });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: "same", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: "conv" }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: "bn" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: "out_relu" }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name: "tiny" });
}

describe("withInputSize", () => {
  it("rebuilds a fully convolutional model at another size with the same weights", async () => {
    const m = tinyConvNet();
    const r = await withInputSize(m, 8);
    expect(r.inputs[0].shape).toEqual([null, 8, 8, 3]);
    expect(r.outputs[0].shape).toEqual([null, 4, 4, 4]);
    const a = m.getWeights(), b = r.getWeights();
    expect(b.length).toBe(a.length);
    a.forEach((w, i) => expect(Array.from(b[i].dataSync())).toEqual(Array.from(w.dataSync())));
    // Same weights, so a conv over the same pixels gives the same values (compare the interior of a 16x16 input cut to 8x8 is not
    // exact at borders; instead check a constant image, whose output is constant away from the padding).
    const x16 = tf.fill([1, 16, 16, 3], 0.5), x8 = tf.fill([1, 8, 8, 3], 0.5);
    const y16 = (m.predict(x16) as tf.Tensor).slice([0, 2, 2, 0], [1, 1, 1, 4]).dataSync();
    const y8 = (r.predict(x8) as tf.Tensor).slice([0, 2, 2, 0], [1, 1, 1, 4]).dataSync();
    Array.from(y8).forEach((v, i) => expect(v).toBeCloseTo(y16[i], 5));
    expect(await withInputSize(m, 16)).toBe(m);
  });
  it("refuses models that are not fully convolutional, and bad sizes", async () => {
    const input = tf.input({ batchShape: [null, 8, 8, 1] });
    const out = tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: out, name: "dense_on_map" });
    await expect(withInputSize(m, 4)).rejects.toThrow(/not fully convolutional/);
    await expect(withInputSize(tinyConvNet(), 0)).rejects.toThrow(/positive integers/);
  });
});

describe("upsampleBatch", () => {
  it("resizes x bilinearly and passes y through", () => {
    const t = upsampleBatch(4);
    const x = tf.tensor4d([0, 10, 20, 30], [1, 2, 2, 1]);
    const y = tf.tensor1d([3], "int32");
    const out = t({ x, y });
    expect(out.x.shape).toEqual([1, 4, 4, 1]);
    expect(out.y).toBe(y);
    const v = out.x.dataSync();
    expect(v[0]).toBeCloseTo(0, 5); // corners keep their values with half-pixel centres
    expect(v[15]).toBeCloseTo(30, 5);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThanOrEqual(30);
    expect(upsampleBatch(2)({ x, y }).x).toBe(x);
    expect(() => upsampleBatch(4)({ x: tf.zeros([2, 3]), y })).toThrow(/rank 4/);
  });
});

describe("extractArrayFeatures", () => {
  const n = 5;
  const images = Uint8Array.from({ length: n * 8 * 8 * 3 }, (_, i) => (i * 37) % 256);
  const labels = [0, 1, 2, 1, 0];

  it("hashes content and selection", () => {
    const h = hashImageArray(images, [8, 8, 3], labels);
    expect(hashImageArray(images, [8, 8, 3], labels)).toBe(h);
    expect(hashImageArray(images, [8, 8, 3], [0, 1, 2, 1, 1])).not.toBe(h);
    expect(hashImageArray(images, [8, 8, 3], labels, [0, 2])).not.toBe(h);
  });

  it("upsamples to the backbone's input, pools, caches, and reads the cache back", async () => {
    const backbone = tinyConvNet();
    const opts = { backbone, backboneName: "tiny", preprocessing: { kind: "scale" as const, scale: 1 / 127.5, offset: -1 }, images, imageShape: [8, 8, 3] as const, labels, batchSize: 2, cacheRoot: tmp };
    const a = await extractArrayFeatures(opts);
    expect(a.fromCache).toBe(false);
    expect(a.numSamples).toBe(n);
    expect(a.featureShape).toEqual([4]);
    expect(Array.from(a.labels)).toEqual(labels);
    // Same as running the backbone by hand on the upsampled, scaled images.
    const x = tf.image.resizeBilinear(tf.tensor4d(Float32Array.from(images), [n, 8, 8, 3]), [16, 16], false, true).div(127.5).sub(1);
    const want = tf.mean(backbone.predict(x) as tf.Tensor, [1, 2]).dataSync();
    Array.from(a.features).forEach((v, i) => expect(v).toBeCloseTo(want[i], 4));
    const b = await extractArrayFeatures(opts);
    expect(b.fromCache).toBe(true);
    expect(b.dir).toBe(a.dir);
    expect(Array.from(b.features)).toEqual(Array.from(a.features));
    const sub = await extractArrayFeatures({ ...opts, indices: [1, 3] });
    expect(sub.fromCache).toBe(false);
    expect(sub.numSamples).toBe(2);
    const expected = [...a.features.subarray(4, 8), ...a.features.subarray(12, 16)];
    Array.from(sub.features).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
  });
});
