process.env.TL_CACHE_DIR ??= require("node:path").resolve(__dirname, "../../../../shared/cache");
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  cutAtLayer, addClassifierHead, buildHeadModel, freezeLayers, unfreezeLayers, setTrainable, countParams,
  extractFeatures, featureBatchStream, concatFeatureSets, gradientReversal, gradientReversalLayer, GradientReversalLayer,
} from "../../../src/helpers/transfer";
import { createGroupedOptimizer, GroupedOptimizer } from "../../../src/helpers/train";
import { blockNumber, buildSmallCnn, loadBackbone, selectLayers } from "../../../src/helpers/models";
import type { BatchStream } from "../../../src/helpers/types";

let tmp: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-transfer-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("cut and head", () => {
  it("cuts at a named layer and explains a wrong name", () => {
    const m = buildSmallCnn({ numClasses: 10, bottleneckUnits: 24 });
    const cut = cutAtLayer(m, "bottleneck");
    expect(cut.outputs[0].shape).toEqual([null, 24]);
    expect(() => cutAtLayer(m, "conv3")).toThrow(/no layer 'conv3'.*Similar names: conv1, conv2/);
  });
  it("adds pool + dropout + dense, and builds stand-alone heads for cached features", () => {
    const cut = cutAtLayer(buildSmallCnn({ numClasses: 10 }), "pool2");
    const m = addClassifierHead(cut, { numClasses: 3, seed: 1 });
    expect(m.layers.slice(-3).map((l) => l.name)).toEqual(["head_pool", "head_dropout", "head_dense"]);
    const p = m.predict(tf.ones([2, 28, 28, 1])) as tf.Tensor;
    expect(p.shape).toEqual([2, 3]);
    p.sum(-1).dataSync().forEach((s) => expect(s).toBeCloseTo(1, 5));
    const h = buildHeadModel([16], { numClasses: 4, dropout: 0, activation: "sigmoid" });
    expect(h.outputs[0].shape).toEqual([null, 4]);
    expect(h.layers.map((l) => l.name)).toEqual(["head_input", "head_dense"]);
  });
});

describe("freezing", () => {
  it("selects by name, prefix, index range and last N MobileNetV2 blocks", async () => {
    const { model } = await loadBackbone("mobilenet_v2_0.35");
    const names = model.layers.map((l) => l.name);
    expect(selectLayers(model, { names: ["Conv1"] }).map((i) => names[i])).toEqual(["Conv1"]);
    expect(selectLayers(model, { prefix: "block_16_" }).map((i) => names[i])).toEqual(names.filter((n) => n.startsWith("block_16_")));
    expect(selectLayers(model, { range: [-2, names.length] }).map((i) => names[i])).toEqual(["Conv_1_bn", "out_relu"]);
    expect(() => selectLayers(model, { prefix: "block_99_" })).toThrow(/starts with 'block_99_'/);
    expect(blockNumber("block_12_depthwise")).toBe(12);
    expect(blockNumber("Conv1")).toBeUndefined();

    const all = countParams(model);
    // the cached weights.bin holds every parameter as float32
    expect(all.total).toBe(fs.statSync(path.join(process.env.TL_CACHE_DIR!, "models/mobilenet_v2_0.35_224_no_top/weights.bin")).size / 4);
    freezeLayers(model);
    expect(countParams(model).trainable).toBe(0);
    const changed = unfreezeLayers(model, { lastBlocks: 2 });
    expect(changed[0]).toBe("block_15_expand");
    expect(changed).toContain("out_relu");
    expect(changed.some((n) => n.startsWith("block_14_"))).toBe(false);
    const c = countParams(model);
    expect(c.trainable).toBeGreaterThan(0);
    expect(c.trainable + c.nonTrainable).toBe(all.total);
    // trainable = sum of trainable weights of the unfrozen layers
    const expected = model.layers.filter((l) => l.trainable).reduce((s, l) => s + l.trainableWeights.reduce((a, w) => a + w.shape.reduce((x, y) => x! * y!, 1)!, 0), 0);
    expect(c.trainable).toBe(expected);
  });

  it("frozen batch norm runs in inference mode even when called with training=true", () => {
    const input = tf.input({ shape: [4] });
    const bn = tf.layers.batchNormalization({ name: "bn" });
    const m = tf.model({ inputs: input, outputs: bn.apply(input) as tf.SymbolicTensor });
    const x = tf.randomNormal([8, 4], 3, 2, "float32", 1);
    freezeLayers(m, { names: ["bn"] });
    const before = bn.getWeights()[2].dataSync().slice();
    const yTrain = m.apply(x, { training: true }) as tf.Tensor;
    const yInfer = m.apply(x, { training: false }) as tf.Tensor;
    expect(Array.from(yTrain.dataSync())).toEqual(Array.from(yInfer.dataSync()));
    expect(Array.from(bn.getWeights()[2].dataSync())).toEqual(Array.from(before));
    setTrainable(m, { names: ["bn"] }, true);
    const yT2 = m.apply(x, { training: true }) as tf.Tensor;
    expect(Math.abs(yT2.mean().dataSync()[0])).toBeLessThan(1e-3); // batch statistics: output is centred
    expect(Array.from(yT2.dataSync())).not.toEqual(Array.from(yInfer.dataSync()));
  });
});

describe("per-group learning rates", () => {
  it("moves each group by its own rate", () => {
    const a = tf.variable(tf.zeros([3]), true, "grp_a");
    const b = tf.variable(tf.zeros([2]), true, "grp_b");
    const opt = createGroupedOptimizer(null, [{ variables: [a], lr: 0.1 }, { variables: [b], lr: 0.01 }], (lr) => tf.train.sgd(lr));
    // loss = 2*sum(a) + 2*sum(b): every gradient is 2
    const { grads } = tf.variableGrads(() => tf.add(tf.sum(a), tf.sum(b)).mul(2) as tf.Scalar, [a, b]);
    opt.applyGradients(grads);
    a.dataSync().forEach((v) => expect(v).toBeCloseTo(-0.2, 6));
    b.dataSync().forEach((v) => expect(v).toBeCloseTo(-0.02, 6));
    opt.setLrFactor(0.5);
    expect(opt.lrFor("grp_a")).toBeCloseTo(0.05);
    opt.applyGradients(grads);
    a.dataSync().forEach((v) => expect(v).toBeCloseTo(-0.3, 6));
    b.dataSync().forEach((v) => expect(v).toBeCloseTo(-0.03, 6));
  });

  it("groups a model's layers by selector, with a rate for the rest", async () => {
    const m = buildHeadModel([3], { numClasses: 2, dropout: 0, hiddenUnits: 4 });
    const before = m.getWeights().map((w) => w.dataSync().slice());
    const opt = new GroupedOptimizer(m, [{ layers: { names: ["head_dense"] }, lr: 0.1 }], (lr) => tf.train.sgd(lr), 0);
    const vars = m.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(() => (m.apply(tf.ones([1, 3])) as tf.Tensor).mul(tf.tensor([[1, -1]])).sum() as tf.Scalar, vars);
    opt.applyGradients(grads);
    const after = m.getWeights().map((w) => w.dataSync());
    // hidden layer (rest group, lr 0) unchanged; head_dense kernel moved by exactly 0.1 * grad
    expect(Array.from(after[0])).toEqual(Array.from(before[0]));
    const g = grads[vars[2].name].dataSync();
    after[2].forEach((v, i) => expect(v).toBeCloseTo(before[2][i] - 0.1 * g[i], 6));
    expect(g.some((x) => x !== 0)).toBe(true);
    const w = await opt.getWeights();
    expect(w.map((x) => x.name)).toEqual(["g0::iter", "g1::iter"]);
  });
});

describe("gradient reversal", () => {
  it("is the identity forward and scales the gradient by -lambda", () => {
    const x = tf.tensor1d([1, -2, 3]);
    const w = tf.tensor1d([0.5, 2, -1]);
    expect(Array.from(gradientReversal(x, 0.3).dataSync())).toEqual([1, -2, 3]);
    const g = tf.grad((v: tf.Tensor) => gradientReversal(v, 0.3).mul(w).sum())(x);
    Array.from(g.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(-0.3 * w.dataSync()[i], 6));
  });

  it("works as a layer inside a model and serialises", async () => {
    const build = (withGrl: boolean) => {
      const inp = tf.input({ shape: [2] });
      const d1 = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), name: "feat" });
      let h = d1.apply(inp) as tf.SymbolicTensor;
      if (withGrl) h = gradientReversalLayer({ lambda: 2 }).apply(h) as tf.SymbolicTensor;
      const out = tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }), name: "dom" }).apply(h) as tf.SymbolicTensor;
      return tf.model({ inputs: inp, outputs: out });
    };
    const x = tf.tensor2d([[1, 2], [3, -1]]);
    const gradOfFeat = (m: tf.LayersModel) => {
      const v = m.getLayer("feat").trainableWeights[0].read() as tf.Variable;
      return tf.variableGrads(() => (m.apply(x) as tf.Tensor).sum() as tf.Scalar, [v]).grads[v.name].dataSync();
    };
    const plain = build(false);
    const rev = build(true);
    const gp = gradOfFeat(plain);
    const gr = gradOfFeat(rev);
    gp.forEach((v, i) => expect(gr[i]).toBeCloseTo(-2 * v, 5));
    const json = rev.toJSON(null, false) as object;
    const back = await tf.models.modelFromJSON({ modelTopology: json } as any);
    expect(back.layers.some((l) => l instanceof GradientReversalLayer && l.lambda === 2)).toBe(true);
  });
});

describe("feature extraction cache", () => {
  const images = tf.tidy(() => tf.randomUniform([10, 28, 28, 1], 0, 255, "float32", 5));
  const labels = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], "int32");
  const stream: BatchStream = {
    numSamples: 10, batchSize: 4, numBatches: 3,
    async *iterate() {
      for (let i = 0; i < 10; i += 4) {
        const n = Math.min(4, 10 - i);
        yield { x: images.slice([i, 0, 0, 0], [n, 28, 28, 1]), y: labels.slice([i], [n]) };
      }
    },
  };

  it("runs the backbone once, then reads the cache", async () => {
    const backbone = buildSmallCnn({ numClasses: 3, seed: 9 });
    let calls = 0;
    const cut = cutAtLayer(backbone, "pool2");
    const orig = cut.predict.bind(cut);
    const spy = (x: tf.Tensor | tf.Tensor[], a?: Parameters<typeof orig>[1]) => {
      calls++;
      return orig(x, a);
    };
    cut.predict = spy as typeof cut.predict;
    const opts = { backbone: cut, backboneName: "small_cnn", preprocessing: { kind: "scale" as const, scale: 1 / 255, offset: 0 }, data: stream, cacheRoot: tmp };
    const first = await extractFeatures(opts);
    expect(first.fromCache).toBe(false);
    expect(calls).toBe(3);
    expect(first.featureShape).toEqual([32]);
    expect(first.features.length).toBe(10 * 32);
    expect(Array.from(first.labels)).toEqual(Array.from(labels.dataSync()));
    const second = await extractFeatures(opts);
    expect(second.fromCache).toBe(true);
    expect(calls).toBe(3);
    expect(second.dir).toBe(first.dir);
    expect(Array.from(second.features)).toEqual(Array.from(first.features));
    expect(fs.readdirSync(first.dir).sort()).toEqual(["features.f32", "labels.bin", "meta.json"]);
    // a different preprocessing or layer is a different cache entry
    const third = await extractFeatures({ ...opts, preprocessing: "none" });
    expect(third.fromCache).toBe(false);
    expect(third.key).not.toBe(first.key);
    const fourth = await extractFeatures({ ...opts, pool: "none" as const, contentHash: "abc" });
    expect(fourth.featureShape).toEqual([7, 7, 32]);
    const fifth = await extractFeatures({ ...opts, pool: "none" as const, contentHash: "abc", keyExtra: "normalize=mobilenet" });
    expect(fifth.fromCache).toBe(false);
    expect((await extractFeatures({ ...opts, pool: "none" as const, contentHash: "abc" })).fromCache).toBe(true);
  });

  it("gives a big batch the same features as one forward pass (it runs in sub-batches to bound the peak memory)", async () => {
    const cut = cutAtLayer(buildSmallCnn({ numClasses: 3, seed: 9 }), "pool2");
    const big = tf.randomUniform([40, 28, 28, 1], 0, 255, "float32", 5);
    const ys = tf.zeros([40], "int32");
    const one: BatchStream = { numSamples: 40, batchSize: 40, numBatches: 1, async *iterate() { yield { x: big.clone(), y: ys.clone() }; } };
    const got = await extractFeatures({ backbone: cut, backboneName: "small_cnn_big", preprocessing: "none", data: one, cacheRoot: tmp, refresh: true });
    const ref = tf.tidy(() => tf.mean(cut.predict(big, { batchSize: 40 }) as tf.Tensor, [1, 2]).dataSync());
    expect(got.numSamples).toBe(40);
    let maxDiff = 0;
    for (let i = 0; i < ref.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got.features[i]! - ref[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
    tf.dispose([big, ys]);
  });

  it("streams cached features in seeded shuffled batches", async () => {
    const set = { features: Float32Array.from({ length: 20 }, (_, i) => i), featureShape: [2], labels: Int32Array.from({ length: 10 }, (_, i) => i), labelShape: [], numSamples: 10 };
    const s = featureBatchStream(set, { batchSize: 4, shuffle: true, seed: 1 });
    const order = async (epoch: number) => {
      const out: number[] = [];
      for await (const b of s.iterate(epoch)) {
        const y = Array.from(b.y.dataSync());
        const x = b.x.arraySync() as number[][];
        y.forEach((v, i) => expect(x[i]).toEqual([2 * v, 2 * v + 1]));
        out.push(...y);
        b.x.dispose();
        b.y.dispose();
      }
      return out;
    };
    const e0 = await order(0);
    expect([...e0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await order(0)).toEqual(e0);
    expect(await order(1)).not.toEqual(e0);
    expect(s.numBatches).toBe(3);
  });
});

describe("concatFeatureSets", () => {
  const set = (values: number[], labels: number[], dim = 2) => ({
    features: Float32Array.from(values), featureShape: [dim], labels: Int32Array.from(labels), labelShape: [] as number[], numSamples: labels.length,
  });
  it("stacks samples in order and keeps shapes", () => {
    const out = concatFeatureSets([set([1, 2, 3, 4], [0, 1]), set([5, 6], [1])]);
    expect(Array.from(out.features)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(out.labels)).toEqual([0, 1, 1]);
    expect(out.labels).toBeInstanceOf(Int32Array);
    expect([out.numSamples, out.featureShape]).toEqual([3, [2]]);
  });
  it("refuses sets of different shapes or label kinds, naming both", () => {
    expect(() => concatFeatureSets([set([1, 2], [0]), set([1, 2, 3], [0], 3)])).toThrow(/set 1 has features \[3\].*set 0 has \[2\]/);
    const multi = { ...set([1, 2], [0]), labels: Float32Array.from([1, 0]), labelShape: [2] };
    expect(() => concatFeatureSets([set([1, 2], [0]), multi])).toThrow(/same backbone/);
    expect(() => concatFeatureSets([])).toThrow(/at least one/);
  });
});
