/** DANN training loop on a tiny synthetic domain-shift problem (2-D points), plus the paper's schedules. */
import { describe, it, expect, beforeAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { trainDann, dannLambda, dannLrFactor, dannClassifier, buildDannNetworks, featureBatchStream, type DannNetworks } from "../../../src/helpers/transfer";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/**
 * Two classes at (-1, 0) and (1, 0) in the source; the target is the same shifted by (1.5, 2). A source classifier
 * thresholds x0 and calls most target class-0 points class 1. Features orthogonal to the shift separate the classes
 * in both domains, and that is what the domain classifier pushes the feature extractor towards.
 */
function points(n: number, shift: [number, number], seed: number) {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const features = new Float32Array(n * 2);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    labels[i] = c;
    features[2 * i] = 2 * c - 1 + 0.25 * gauss() + shift[0];
    features[2 * i + 1] = 0.25 * gauss() + shift[1];
  }
  return { features, labels, featureShape: [2], labelShape: [] as number[], numSamples: n };
}
const SHIFT: [number, number] = [1.5, 2];
const src = points(512, [0, 0], 1);
const tgt = points(512, SHIFT, 2);
const tgtTest = points(400, SHIFT, 3);

function nets(seed: number): DannNetworks {
  const dense = (units: number, s: number, activation: "linear" | "relu" | "softmax", name: string) =>
    tf.layers.dense({ units, activation, kernelInitializer: tf.initializers.glorotUniform({ seed: s }), name });
  const fin = tf.input({ shape: [2] });
  const featureExtractor = tf.model({ inputs: fin, outputs: dense(4, seed, "linear", "f").apply(fin) as tf.SymbolicTensor });
  const lin = tf.input({ shape: [4] });
  const labelClassifier = tf.model({ inputs: lin, outputs: dense(2, seed + 1, "softmax", "y").apply(lin) as tf.SymbolicTensor });
  const din = tf.input({ shape: [4] });
  const dh = dense(16, seed + 2, "relu", "d1").apply(din) as tf.SymbolicTensor;
  const domainClassifier = tf.model({ inputs: din, outputs: dense(1, seed + 3, "linear", "d2").apply(dh) as tf.SymbolicTensor });
  return { featureExtractor, labelClassifier, domainClassifier };
}

function accuracyOn(n: DannNetworks, set: ReturnType<typeof points>): number {
  return tf.tidy(() => {
    const p = dannClassifier(n).predict(tf.tensor2d(set.features, [set.numSamples, 2])) as tf.Tensor;
    const pred = p.argMax(-1).dataSync();
    let c = 0;
    pred.forEach((v, i) => (c += v === set.labels[i] ? 1 : 0));
    return c / set.numSamples;
  });
}

const stream = (set: ReturnType<typeof points>, seed: number) => featureBatchStream(set, { batchSize: 32, shuffle: true, seed });
// The paper's optimiser (SGD, momentum 0.9) at a rate where the domain classifier does not simply win outright.
const common = { epochs: 40, optimizer: { type: "sgd" as const, lr: 0.01, momentum: 0.9 } };

describe("DANN schedules", () => {
  it("lambda rises from 0 towards 1 and the learning-rate factor decays as in the paper", () => {
    expect(dannLambda(0)).toBe(0);
    expect(dannLambda(0.5)).toBeCloseTo(2 / (1 + Math.exp(-5)) - 1, 12);
    expect(dannLambda(1)).toBeGreaterThan(0.999);
    expect(dannLrFactor(0)).toBe(1);
    expect(dannLrFactor(1)).toBeCloseTo(Math.pow(11, -0.75), 12);
  });
});

describe("trainDann on a shifted 2-D problem", () => {
  it("source-only training fits the source but not the shifted target; DANN adapts to the target", async () => {
    const so = nets(7);
    const hs = await trainDann(so, { ...common, source: stream(src, 1) });
    expect(hs.epochs).toHaveLength(40);
    expect(Number.isNaN(hs.epochs[0].domainLoss)).toBe(true);
    const soSrc = accuracyOn(so, src), soTgt = accuracyOn(so, tgtTest);
    expect(soSrc).toBeGreaterThan(0.95);
    expect(soTgt).toBeLessThan(0.8);

    const da = nets(7);
    const hd = await trainDann(da, { ...common, source: stream(src, 1), target: stream(tgt, 2) });
    const daTgt = accuracyOn(da, tgtTest);
    expect(accuracyOn(da, src)).toBeGreaterThan(0.9);
    expect(daTgt).toBeGreaterThan(0.9);
    expect(daTgt).toBeGreaterThan(soTgt + 0.15);
    // logs: lambda follows the schedule upwards, lr decays, domain loss and accuracy are real numbers
    const lam = hd.epochs.map((e) => e.lambda);
    expect(lam[0]).toBeLessThan(lam[lam.length - 1]);
    expect(lam[lam.length - 1]).toBeGreaterThan(0.99);
    expect(hd.epochs[0].lr).toBeGreaterThan(hd.epochs[39].lr);
    for (const e of hd.epochs) {
      expect(Number.isFinite(e.domainLoss)).toBe(true);
      expect(e.domainAcc).toBeGreaterThanOrEqual(0);
      expect(e.domainAcc).toBeLessThanOrEqual(1);
    }
    expect(hd.steps).toBe(40 * 16);
  });

  it("is deterministic for fixed seeds, reports evaluate() metrics, and leaks no tensors", async () => {
    const run = async () => {
      const n = nets(3);
      const h = await trainDann(n, { ...common, epochs: 3, source: stream(src, 1), target: stream(tgt, 2), evaluate: () => ({ target_acc: accuracyOn(n, tgtTest) }) });
      return { h, n };
    };
    const a = await run();
    const before = tf.memory().numTensors;
    const b = await run();
    expect(b.h.epochs.map((e) => [e.labelLoss, e.domainLoss, e.target_acc])).toEqual(a.h.epochs.map((e) => [e.labelLoss, e.domainLoss, e.target_acc]));
    expect(typeof a.h.epochs[2].target_acc).toBe("number");
    // only the new networks' weights remain (no per-step leaks)
    const weights = [b.n.featureExtractor, b.n.labelClassifier, b.n.domainClassifier].reduce((s, m) => s + m.weights.length, 0);
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(weights + 2);
  });

  it("explains a target without a domain classifier", async () => {
    const n = nets(1);
    await expect(trainDann({ featureExtractor: n.featureExtractor, labelClassifier: n.labelClassifier }, { ...common, source: stream(src, 1), target: stream(tgt, 2) })).rejects.toThrow(/domainClassifier/);
  });

  it("builds seeded digit-sized networks whose classifier maps images to class probabilities", () => {
    const a = buildDannNetworks({ numClasses: 10, filters: [4, 8], seed: 5 });
    const b = buildDannNetworks({ numClasses: 10, filters: [4, 8], seed: 5 });
    expect(a.featureExtractor.outputs[0].shape).toEqual([null, 7 * 7 * 8]);
    expect(a.domainClassifier.outputs[0].shape).toEqual([null, 1]);
    const x = tf.ones([2, 28, 28, 3]);
    const pa = dannClassifier(a).predict(x) as tf.Tensor;
    const pb = dannClassifier(b).predict(x) as tf.Tensor;
    expect(pa.shape).toEqual([2, 10]);
    expect(Array.from(pa.dataSync())).toEqual(Array.from(pb.dataSync()));
    expect(pa.sum(-1).dataSync()[0]).toBeCloseTo(1, 5);
  });
});
