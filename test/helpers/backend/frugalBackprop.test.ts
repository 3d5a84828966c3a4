// The frugal backprop walk (native backend) must give tfjs' own gradients bit for bit, leak nothing, and hold less
// memory at its peak. Skips only when the native addon is not built.
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setFrugalBackprop, tryRegisterNativeBackend } from "../../../src/helpers/backend/native";
import { gradientReversal } from "../../../src/helpers/transfer";

const status = tryRegisterNativeBackend();

/** Runs `f` once with tfjs' own walk and once with the frugal one. */
async function bothWays<T>(f: () => T | Promise<T>): Promise<{ stock: T; frugal: T }> {
  const previous = setFrugalBackprop(undefined);
  try {
    const stock = await f();
    setFrugalBackprop("torch");
    return { stock, frugal: await f() };
  } finally {
    setFrugalBackprop(previous);
  }
}

const seeded = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, "float32", seed);

describe.skipIf(!status.ok)("frugal backprop on the torch backend", () => {
  beforeAll(async () => {
    await tf.setBackend("torch");
  });
  afterAll(async () => {
    await tf.setBackend("cpu");
  });

  it("matches tfjs' gradients exactly through shared weights, multi-output ops, batch norm, a custom gradient and a caller's dy", async () => {
    const w = tf.variable(seeded([3, 3, 4, 8], 1)) as tf.Variable<tf.Rank.R4>;
    const gamma = tf.variable(tf.ones([8]));
    const beta = tf.variable(tf.zeros([8]));
    const dense = tf.variable(seeded([8, 5], 2));
    const x = seeded([2, 6, 6, 4], 3) as tf.Tensor4D;
    const dy = seeded([2, 5], 4);
    const f = () => {
      const h1 = tf.relu(tf.conv2d(x, w, 1, "same")) as tf.Tensor4D;
      const h2 = tf.conv2d(tf.slice(tf.pad(h1, [[0, 0], [0, 0], [0, 0], [0, 0]]), [0, 0, 0, 0], [2, 6, 6, 4]), w, 1, "same"); // w used twice
      const { mean, variance } = tf.moments(h2, [0, 1, 2]);
      const bn = tf.batchNorm(h2, mean, variance, beta, gamma, 1e-3);
      const [a, b] = tf.split(bn, 2, 3); // two outputs from one node
      const pooled = tf.mean(tf.concat([tf.relu6(a), gradientReversal(b, 0.5)], 3), [1, 2]);
      return tf.matMul(pooled, dense);
    };
    const vars = [w, gamma, beta, dense];
    const { stock, frugal } = await bothWays(() => {
      const before = tf.memory().numTensors;
      const { value, grads } = tf.engine().gradients(f, vars, dy);
      const out = { value: value.arraySync(), grads: grads.map((g) => Array.from(g.dataSync())) };
      tf.dispose([value, ...grads]);
      return { ...out, leaked: tf.memory().numTensors - before };
    });
    expect(frugal.value).toEqual(stock.value);
    frugal.grads.forEach((g, i) => expect(g, `gradient ${i}`).toEqual(stock.grads[i]));
    expect(stock.grads[0].some((v) => v !== 0)).toBe(true);
    expect(frugal.leaked).toBe(0);
    expect(stock.leaked).toBe(0);
    expect(dy.isDisposed).toBe(false); // the caller's dy is the caller's
    tf.dispose([w, gamma, beta, dense, x, dy]);
  });

  it("trains a small CNN (layers, batch norm, Adam) to the same weights as tfjs' walk", async () => {
    const build = () => {
      const input = tf.input({ shape: [32, 32, 3] });
      let h = input as tf.SymbolicTensor;
      for (const [i, filters] of [16, 32, 32].entries()) {
        h = tf.layers.conv2d({ filters, kernelSize: 3, padding: "same", useBias: false, kernelInitializer: tf.initializers.heNormal({ seed: 10 + i }) }).apply(h) as tf.SymbolicTensor;
        h = tf.layers.batchNormalization().apply(h) as tf.SymbolicTensor;
        h = tf.layers.reLU().apply(h) as tf.SymbolicTensor;
      }
      h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
      const out = tf.layers.dense({ units: 4, activation: "softmax", kernelInitializer: tf.initializers.glorotUniform({ seed: 20 }) }).apply(h) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: out });
    };
    const x = seeded([8, 32, 32, 3], 5);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], "int32"), 4);
    const { stock, frugal } = await bothWays(() => {
      const model = build();
      const opt = tf.train.adam(1e-2);
      const before = tf.memory().numTensors;
      for (let step = 0; step < 3; step++) tf.dispose(opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor), true) ?? []);
      const grew = tf.memory().numTensors - before; // Adam's moments, created on the first step
      const weights = model.getWeights().map((t) => Array.from(t.dataSync()));
      model.dispose();
      opt.dispose();
      return { weights, grew };
    });
    stock.weights.forEach((w, i) => expect(frugal.weights[i], `weight ${i}`).toEqual(w));
    expect(frugal.grew).toBe(stock.grew);
    tf.dispose([x, y]);
  });

  it("has freed the upper layers' activations and gradients by the time it reaches the first layer", async () => {
    const filters = Array.from({ length: 8 }, (_, i) => tf.variable(seeded([3, 3, 16, 16], 30 + i)) as tf.Variable<tf.Rank.R4>);
    const x = seeded([8, 32, 32, 16], 6) as tf.Tensor4D;
    let bytesAtFirstLayer = 0;
    // Identity forward; its gradient runs after every layer above it has been back-propagated.
    const probe = tf.customGrad(((t: tf.Tensor) => ({
      value: tf.clone(t),
      gradFunc: (dy: tf.Tensor) => {
        bytesAtFirstLayer = tf.memory().numBytes;
        return tf.clone(dy);
      },
    })) as unknown as Parameters<typeof tf.customGrad>[0]) as (t: tf.Tensor4D) => tf.Tensor4D;
    const f = () => {
      let h = probe(tf.conv2d(x, filters[0], 1, "same"));
      for (const w of filters.slice(1)) h = tf.relu(tf.conv2d(h, w, 1, "same")) as tf.Tensor4D;
      return tf.sum(h) as tf.Scalar;
    };
    const { stock, frugal } = await bothWays(() => {
      const { value, grads } = tf.variableGrads(f, filters);
      tf.dispose([value, ...Object.values(grads)]);
      return bytesAtFirstLayer;
    });
    const activation = 8 * 32 * 32 * 16 * 4;
    // tfjs' walk still holds all 7 upper layers' saved activations and gradients (about 20 activations' worth).
    expect(stock).toBeGreaterThan(14 * activation);
    expect(frugal).toBeLessThan(6 * activation);
    tf.dispose([...filters, x]);
  });

  it("leaves other backends and nested (higher-order) gradients to tfjs", async () => {
    const x = tf.scalar(3);
    const d2 = tf.grad(tf.grad((t: tf.Tensor) => tf.mul(tf.mul(t, t), t))); // 6x
    expect(d2(x).dataSync()[0]).toBeCloseTo(18, 5);
    await tf.setBackend("cpu");
    const g = tf.grad((t: tf.Tensor) => tf.square(t))(x);
    expect(g.dataSync()[0]).toBe(6);
    await tf.setBackend("torch");
    tf.dispose([x, g]);
  });
});
