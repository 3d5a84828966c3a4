/** Per-group weight change (chapter 5) and per-group learning rates with SGD momentum, as chapter 5 uses them. */
import { describe, it, expect, beforeAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { buildHeadModel, freezeLayers, snapshotWeights, weightChangeByGroup } from "../../../src/helpers/transfer";
import { createGroupedOptimizer } from "../../../src/helpers/train";
import { trainModel } from "../../../src/helpers/train";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** Input -> dense "a" (4) -> dense "b" (2, softmax): two groups of layers. */
function twoLayerModel(): tf.LayersModel {
  const input = tf.input({ shape: [3] });
  const h = tf.layers.dense({ units: 4, name: "a", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, activation: "softmax", name: "b", kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

describe("weightChangeByGroup", () => {
  it("averages |after - before| over each group's parameters, frozen layers included", () => {
    const m = twoLayerModel();
    freezeLayers(m, { names: ["a"] }); // frozen layers still count: their weights are in the snapshot
    const before = snapshotWeights(m);
    expect([...before.weights.keys()]).toEqual(["a", "b"]);
    // move a's kernel (3x4) by +0.5 everywhere, b's bias (2) by -1 everywhere
    const [ak, ab] = m.getLayer("a").getWeights();
    m.getLayer("a").setWeights([ak.add(0.5), ab]);
    const [bk, bb] = m.getLayer("b").getWeights();
    m.getLayer("b").setWeights([bk, bb.sub(1)]);
    const ch = weightChangeByGroup(before, m, [{ name: "A", layers: { names: ["a"] } }, { name: "B", layers: { prefix: "b" } }]);
    expect(ch.map((c) => c.group)).toEqual(["A", "B"]);
    expect(ch[0].params).toBe(3 * 4 + 4);
    expect(ch[0].meanAbsChange).toBeCloseTo((12 * 0.5) / 16, 6);
    expect(ch[1].params).toBe(4 * 2 + 2);
    expect(ch[1].meanAbsChange).toBeCloseTo(2 / 10, 6);
    // relative to the mean |w| before
    const meanAbsA = [...before.weights.get("a")!].reduce((s, w) => s + w.reduce((t, x) => t + Math.abs(x), 0), 0) / 16;
    expect(ch[0].relativeChange).toBeCloseTo(ch[0].meanAbsChange / meanAbsA, 6);
    // the same from two snapshots; unchanged model -> 0
    expect(weightChangeByGroup(before, snapshotWeights(m), [{ name: "A", layers: { names: ["a"] } }])[0].meanAbsChange).toBeCloseTo(ch[0].meanAbsChange, 6);
    expect(weightChangeByGroup(before, before, [{ name: "all", layers: { all: true } }])[0].meanAbsChange).toBe(0);
  });

  it("counts a layer in the first group that selects it, and excludes batch-norm moving statistics", () => {
    const input = tf.input({ shape: [4] });
    const x = tf.layers.batchNormalization({ name: "bn" }).apply(tf.layers.dense({ units: 4, name: "d" }).apply(input)) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: x });
    const snap = snapshotWeights(m);
    expect(snap.weights.get("bn")!.length).toBe(2); // gamma, beta
    const ch = weightChangeByGroup(snap, snap, [{ name: "d", layers: { names: ["d"] } }, { name: "all", layers: { all: true } }]);
    expect(ch.map((c) => c.params)).toEqual([4 * 4 + 4, 4 + 4]);
  });
});

describe("per-group learning rates with SGD momentum 0.9 (chapter 5's optimizer)", () => {
  it("moves each group by its own rate, step after step", () => {
    const a = tf.variable(tf.zeros([3]), true, "mom_a");
    const b = tf.variable(tf.zeros([2]), true, "mom_b");
    const c = tf.variable(tf.zeros([2]), true, "mom_c");
    const lrs = [1e-2, 1e-3, 1e-4];
    const opt = createGroupedOptimizer(null, [{ variables: [a], lr: lrs[0] }, { variables: [b], lr: lrs[1] }, { variables: [c], lr: lrs[2] }], (lr) => tf.train.momentum(lr, 0.9));
    // linear loss: the gradient of every element is 1, whatever the weights
    let v = 0; // momentum buffer of a unit gradient
    let x = 0; // position of a unit-rate parameter
    for (let step = 0; step < 3; step++) {
      const { grads } = tf.variableGrads(() => tf.addN([tf.sum(a), tf.sum(b), tf.sum(c)]) as tf.Scalar, [a, b, c]);
      opt.applyGradients(grads);
      Object.values(grads).forEach((t) => t.dispose());
      v = 0.9 * v + 1;
      x -= v;
      [a, b, c].forEach((w, i) => w.dataSync().forEach((val) => expect(val).toBeCloseTo(lrs[i] * x, 7)));
    }
    opt.dispose();
  });

  it("inside trainModel, each layer group's update scales with its own rate", async () => {
    // Same model and batch trained twice: once with rates (r, r), once with (r, 10r). After one step the "b" update
    // is 10x larger and the "a" update identical (the first step has the same gradients in both runs).
    const x = tf.randomUniform([8, 3], -1, 1, "float32", 3);
    const y = tf.tensor1d([0, 1, 0, 1, 1, 0, 1, 0], "int32");
    const stream = { numSamples: 8, batchSize: 8, numBatches: 1, async *iterate() { yield { x: x.clone(), y: y.clone() }; } };
    const delta = async (lrB: number) => {
      const m = twoLayerModel();
      const before = snapshotWeights(m);
      const opt = createGroupedOptimizer(m, [{ name: "a", layers: { names: ["a"] }, lr: 1e-3 }, { name: "b", layers: { names: ["b"] }, lr: lrB }], (lr) => tf.train.momentum(lr, 0.9));
      await trainModel(m, stream, { epochs: 1, optimizer: opt });
      opt.dispose();
      return weightChangeByGroup(before, m, [{ name: "a", layers: { names: ["a"] } }, { name: "b", layers: { names: ["b"] } }]);
    };
    const same = await delta(1e-3);
    const faster = await delta(1e-2);
    expect(same[0].meanAbsChange).toBeGreaterThan(0);
    expect(faster[0].meanAbsChange).toBeCloseTo(same[0].meanAbsChange, 9);
    expect(faster[1].meanAbsChange / same[1].meanAbsChange).toBeCloseTo(10, 2); // float32 weights: ~1e-4 relative
  });
});

describe("snapshot of a head model", () => {
  it("includes every layer with weights", () => {
    const h = buildHeadModel([5], { numClasses: 3, dropout: 0, hiddenUnits: 4 });
    expect([...snapshotWeights(h).weights.keys()]).toEqual(["head_hidden", "head_dense"]);
  });
});
