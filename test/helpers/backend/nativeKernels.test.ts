// Native ("torch") kernels against the stock tfjs cpu backend. The numerical suites
// skip only when the addon is not built (no libtorch-dev); the build test always runs.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { addonCandidates, loadAddon } from "../../../src/helpers/backend/native/addon";
import { tuning } from "../../../src/helpers/backend/native/kernels";
import { nativeFallbackCounts, nativeKernelNames, nativePoolStats, nativeThreadStatus, tryRegisterNativeBackend } from "../../../src/helpers/backend/native";
import { arrayStream } from "../../../src/helpers/pipeline";
import { trainModel } from "../../../src/helpers/train";

const ROOT = path.resolve(__dirname, "../../..");
const BUILD_SH = path.join(ROOT, "native", "build.sh");
const libtorchInstalled = fs.existsSync("/usr/include/ATen/ATen.h");

describe("native addon build", () => {
  it("native/build.sh exits 0 and either builds or says why it skipped", () => {
    const out = execFileSync("bash", [BUILD_SH], { encoding: "utf8", timeout: 300_000 });
    expect(out).toMatch(/^(native: |skipped: )/m);
    if (libtorchInstalled) expect(out).not.toMatch(/^skipped: /m);
  }, 300_000);
});

const status = tryRegisterNativeBackend();
const built = addonCandidates().some((p) => fs.existsSync(p));
const skipReason = status.ok ? "" : `native addon not available: ${status.reason}`;
if (!status.ok) console.warn(`[native-kernels] skipping numerical tests: ${skipReason}`);

describe("native backend registration", () => {
  it("loads whenever the addon is built, and reports why when not", () => {
    if (built) {
      expect(status).toMatchObject({ ok: true, name: "torch" });
      expect(status.detail).toMatch(/libtorch/);
    } else {
      expect(status.ok).toBe(false);
      expect(status.reason).toBeTruthy();
    }
    expect(tryRegisterNativeBackend()).toBe(status); // idempotent
  });
  it("can be disabled (TL_NATIVE=0) and then reports why", () => {
    const prev = process.env.TL_NATIVE;
    process.env.TL_NATIVE = "0";
    try {
      expect(loadAddon()).toEqual({ reason: "disabled by TL_NATIVE=0" });
    } finally {
      if (prev === undefined) delete process.env.TL_NATIVE;
      else process.env.TL_NATIVE = prev;
    }
  });
});

// Deterministic RNG so failures reproduce.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
const rand = rng(42);
const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
const randint = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
const randArr = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);

type Out = { shape: number[]; values: Float32Array };
/** Run `f` on one backend, returning plain arrays (so results outlive the backend switch). */
async function runOn(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Out[]> {
  await tf.setBackend(backend);
  const ts = tf.tidy(f);
  const list = Array.isArray(ts) ? ts : [ts];
  const out = list.map((t) => ({ shape: t.shape.slice(), values: t.dataSync() as Float32Array }));
  tf.dispose(list);
  return out;
}

/** |torch - cpu| ≤ 1e-4·|cpu| + 1e-4·rms(cpu): relative, with an absolute floor scaled to the output. */
function expectClose(got: Out[], want: Out[], what: string) {
  expect(got.length, what).toBe(want.length);
  want.forEach((w, i) => {
    const g = got[i];
    expect(g.shape, `${what} [${i}] shape`).toEqual(w.shape);
    let ss = 0;
    for (const v of w.values) ss += v * v;
    const rms = Math.sqrt(ss / Math.max(1, w.values.length));
    let worst = 0, at = -1;
    for (let j = 0; j < w.values.length; j++) {
      const err = Math.abs(g.values[j] - w.values[j]) / (1e-4 * (Math.abs(w.values[j]) + rms) + 1e-30);
      if (!(err <= worst)) { worst = err; at = j; }
    }
    if (!(worst <= 1)) {
      throw new Error(`${what} [${i}] element ${at}: torch ${g.values[at]} vs cpu ${w.values[at]} (rms ${rms}), ${worst.toFixed(2)}× tolerance`);
    }
  });
}

async function compare(what: string, f: () => tf.Tensor | tf.Tensor[]) {
  const want = await runOn("cpu", f);
  const got = await runOn("torch", f);
  expectClose(got, want, what);
}

describe.skipIf(!status.ok)(`native kernels vs cpu${skipReason ? ` (${skipReason})` : ""}`, () => {
  beforeAll(async () => {
    await tf.setBackend("torch");
    tuning.small = 0; // small tensors normally stay on the JS path; test the native one
  });
  // Every numerical test below must exercise the native path, not the cpu fallback.
  beforeEach(() => void nativeFallbackCounts(true));
  afterEach((ctx) => {
    if (!ctx.task.name.startsWith("falls back")) expect(nativeFallbackCounts(true)).toEqual({});
  });
  afterAll(async () => {
    await tf.setBackend("cpu");
    tuning.small = 8192;
  });

  it("is a backend named torch that runs native kernels", async () => {
    expect(nativeKernelNames()).toEqual(expect.arrayContaining(["Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropInput", "FusedBatchNorm", "MaxPoolGrad"]));
    await tf.setBackend("torch");
    expect(tf.getBackend()).toBe("torch");
    expect(tf.getKernel("Conv2DBackpropFilter", "torch")).toBeDefined();
    expect(tf.getKernel("Add", "torch")).toBeDefined(); // copied from cpu
  });

  const convCase = (depthwise: boolean, allowDilation: boolean) => {
    const n = pick([1, 1, 2, 3]);
    const h = randint(3, 12), w = randint(3, 12);
    const cin = randint(1, 6), cout = depthwise ? pick([1, 2]) : randint(1, 6);
    const kh = Math.min(h, pick([1, 2, 3, 3, 5])), kw = Math.min(w, pick([1, 2, 3, 3, 5]));
    const stride = pick([1, 2]);
    const dilation = allowDilation && stride === 1 ? pick([1, 2]) : 1;
    const pad = pick(["same", "valid"] as ("same" | "valid")[]);
    // Keep valid convolutions non-empty.
    const dil = (kh - 1) * dilation + 1 > h || (kw - 1) * dilation + 1 > w ? 1 : dilation;
    return { n, h, w, cin, cout, kh, kw, stride, dilation: dil as 1 | 2, pad };
  };
  const describeCase = (c: ReturnType<typeof convCase>) =>
    `x[${c.n},${c.h},${c.w},${c.cin}] k${c.kh}x${c.kw} out${c.cout} s${c.stride} d${c.dilation} ${c.pad}`;

  it("Conv2D / Conv2DBackpropInput / Conv2DBackpropFilter", async () => {
    for (let t = 0; t < 40; t++) {
      const c = convCase(false, t % 2 === 0);
      const xv = randArr(c.n * c.h * c.w * c.cin), fv = randArr(c.kh * c.kw * c.cin * c.cout);
      const dyShapeFn = () => tf.conv2d(tf.tensor4d(xv, [c.n, c.h, c.w, c.cin]), tf.tensor4d(fv, [c.kh, c.kw, c.cin, c.cout]), c.stride, c.pad, "NHWC", c.dilation);
      await compare(`conv2d ${describeCase(c)}`, dyShapeFn);
      if (c.dilation === 1) {
        await compare(`conv2d grads ${describeCase(c)}`, () => {
          const x = tf.tensor4d(xv, [c.n, c.h, c.w, c.cin]), f = tf.tensor4d(fv, [c.kh, c.kw, c.cin, c.cout]);
          // Multiply by a non-constant upstream gradient so dy is not all ones.
          const g2 = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
            const y = tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
            return tf.sum(tf.mul(y, tf.cos(tf.reshape(tf.range(0, y.size), y.shape))));
          });
          return g2([x, f]);
        });
      }
    }
  });

  it("DepthwiseConv2dNative and its input/filter gradients", async () => {
    for (let t = 0; t < 40; t++) {
      const c = convCase(true, t % 2 === 0);
      const xv = randArr(c.n * c.h * c.w * c.cin), fv = randArr(c.kh * c.kw * c.cin * c.cout);
      await compare(`depthwise ${describeCase(c)}`, () =>
        tf.depthwiseConv2d(tf.tensor4d(xv, [c.n, c.h, c.w, c.cin]), tf.tensor4d(fv, [c.kh, c.kw, c.cin, c.cout]), c.stride, c.pad, "NHWC", c.dilation));
      if (c.dilation === 1) {
        await compare(`depthwise grads ${describeCase(c)}`, () => {
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
            const y = tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
            return tf.sum(tf.mul(y, tf.cos(tf.reshape(tf.range(0, y.size), y.shape))));
          });
          return g([tf.tensor4d(xv, [c.n, c.h, c.w, c.cin]), tf.tensor4d(fv, [c.kh, c.kw, c.cin, c.cout])]);
        });
      }
    }
  });

  it("FusedConv2D / FusedDepthwiseConv2D with bias and every activation, plus gradients", async () => {
    const acts = ["linear", "relu", "relu6", "elu", "leakyrelu", "sigmoid", "prelu"] as const;
    for (let t = 0; t < 28; t++) {
      const depthwise = t % 2 === 1;
      const c = convCase(depthwise, false);
      const activation = acts[t % acts.length];
      const oc = depthwise ? c.cin * c.cout : c.cout;
      const xv = randArr(c.n * c.h * c.w * c.cin, 3), fv = randArr(c.kh * c.kw * c.cin * c.cout), bv = randArr(oc);
      const av = randArr(oc, 0.3);
      const run = (x: tf.Tensor4D, f: tf.Tensor4D, b: tf.Tensor1D) => {
        const args = {
          x, filter: f, bias: b, strides: c.stride, pad: c.pad, activation,
          preluActivationWeights: activation === "prelu" ? tf.tensor1d(av) : undefined, leakyreluAlpha: 0.15,
        };
        return depthwise ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
      };
      const mk = () => [tf.tensor4d(xv, [c.n, c.h, c.w, c.cin]), tf.tensor4d(fv, [c.kh, c.kw, c.cin, c.cout]), tf.tensor1d(bv)] as const;
      await compare(`fused ${depthwise ? "depthwise" : "conv2d"} ${activation} ${describeCase(c)}`, () => run(...mk()));
      if (activation === "prelu") nativeFallbackCounts(true); // prelu stays on the cpu path by design
      if (activation !== "elu" && activation !== "sigmoid" && activation !== "leakyrelu") {
        // tfjs-core defines fused-conv gradients only for linear/relu/relu6/prelu-free cases it supports.
        await compare(`fused grads ${activation} ${describeCase(c)}`, () => {
          const g = tf.grads((x: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => {
            const y = run(x as tf.Tensor4D, f as tf.Tensor4D, b as tf.Tensor1D);
            return tf.sum(tf.mul(y, tf.cos(tf.reshape(tf.range(0, y.size), y.shape))));
          });
          return g([...mk()]);
        });
      }
    }
  });

  it("BatchMatMul / _FusedMatMul incl. transposes, batch broadcast and gradients", async () => {
    for (let t = 0; t < 30; t++) {
      const m = randint(1, 20), k = randint(1, 20), n = randint(1, 20);
      const ta = rand() < 0.5, tb = rand() < 0.5;
      const batch = pick([0, 1, 3]);
      const bcast = batch > 1 && rand() < 0.5;
      const aShape = [...(batch ? [bcast ? 1 : batch] : []), ...(ta ? [k, m] : [m, k])];
      const bShape = [...(batch ? [batch] : []), ...(tb ? [n, k] : [k, n])];
      const av = randArr(aShape.reduce((p, q) => p * q)), bv = randArr(bShape.reduce((p, q) => p * q));
      const what = `matmul a[${aShape}] b[${bShape}] tA=${ta} tB=${tb}`;
      await compare(what, () => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), ta, tb));
      if (!bcast) {
        const biasV = randArr(n);
        const activation = pick(["linear", "relu", "relu6", "sigmoid"] as ("linear" | "relu" | "relu6" | "sigmoid")[]);
        await compare(`fused ${activation} ${what}`, () =>
          tf.fused.matMul({ a: tf.tensor(av, aShape), b: tf.tensor(bv, bShape), transposeA: ta, transposeB: tb, bias: tf.tensor1d(biasV), activation }));
        await compare(`grads ${what}`, () => {
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) => {
            const y = tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: "relu" });
            return tf.sum(tf.mul(y, tf.cos(tf.reshape(tf.range(0, y.size), y.shape))));
          });
          return g([tf.tensor(av, aShape), tf.tensor(bv, bShape), tf.tensor1d(biasV)]);
        });
      }
    }
  });

  it("large dense products (the addon's oneDNN 1x1-convolution path) incl. transposes, bias, activation and gradients", async () => {
    // At least 65,536 multiply-adds and 2 rows: what dense layers of the chapters hit (e.g. 128x1568 . 1568x100).
    for (const [m, k, n] of [[128, 1568, 100], [64, 300, 10], [2, 2048, 40], [300, 64, 129]]) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const aShape = ta ? [k, m] : [m, k], bShape = tb ? [n, k] : [k, n];
        const av = randArr(m * k), bv = randArr(k * n), biasV = randArr(n);
        const what = `matmul a[${aShape}] b[${bShape}] tA=${ta} tB=${tb}`;
        await compare(what, () => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), ta, tb));
        await compare(`fused relu ${what}`, () =>
          tf.fused.matMul({ a: tf.tensor(av, aShape), b: tf.tensor(bv, bShape), transposeA: ta, transposeB: tb, bias: tf.tensor1d(biasV), activation: "relu" }));
        await compare(`grads ${what}`, () => {
          const g = tf.grads((a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) => {
            const y = tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: "relu" });
            return tf.sum(tf.mul(y, tf.cos(tf.reshape(tf.range(0, y.size), y.shape))));
          });
          return g([tf.tensor(av, aShape), tf.tensor(bv, bShape), tf.tensor1d(biasV)]);
        });
      }
    }
  });

  it("FusedBatchNorm forward and its (overridden) gradient", async () => {
    for (let t = 0; t < 16; t++) {
      const c = randint(1, 17);
      const shape = pick([[randint(1, 3), randint(1, 9), randint(1, 9), c], [randint(1, 50), c]]);
      const size = shape.reduce((p, q) => p * q);
      const xv = randArr(size, 2), dyv = randArr(size);
      const mv = randArr(c, 0.5), vv = Float32Array.from(randArr(c), (v) => Math.abs(v) + 0.1);
      const sv = randArr(c), ov = randArr(c);
      const withAffine = t % 3 !== 0;
      const what = `batchNorm x[${shape}] affine=${withAffine}`;
      await compare(what, () =>
        tf.batchNorm(tf.tensor(xv, shape), tf.tensor1d(mv), tf.tensor1d(vv), withAffine ? tf.tensor1d(ov) : undefined, withAffine ? tf.tensor1d(sv) : undefined, 1e-3));
      await compare(`${what} grads`, () => {
        const g = tf.grads((x: tf.Tensor, m: tf.Tensor, v: tf.Tensor, s: tf.Tensor, o: tf.Tensor) =>
          tf.sum(tf.mul(tf.batchNorm(x, m as tf.Tensor1D, v as tf.Tensor1D, o as tf.Tensor1D, s as tf.Tensor1D, 1e-3), tf.tensor(dyv, shape))));
        return g([tf.tensor(xv, shape), tf.tensor1d(mv), tf.tensor1d(vv), tf.tensor1d(sv), tf.tensor1d(ov)]);
      });
      // Training-mode batch norm: mean/variance from tf.moments, gradient flows through them too.
      await compare(`${what} moments grads`, () => {
        const g = tf.grads((x: tf.Tensor) => {
          const axes = shape.slice(0, -1).map((_, i) => i);
          const { mean, variance } = tf.moments(x, axes);
          return tf.sum(tf.mul(tf.batchNorm(x, mean, variance, tf.tensor1d(ov), tf.tensor1d(sv), 1e-3), tf.tensor(dyv, shape)));
        });
        return g([tf.tensor(xv, shape)]);
      });
    }
  });

  it("MaxPool / AvgPool and their gradients", async () => {
    for (let t = 0; t < 30; t++) {
      const n = pick([1, 2]), h = randint(2, 11), w = randint(2, 11), c = randint(1, 5);
      const k = Math.min(h, w, pick([1, 2, 3])), stride = pick([1, 2]);
      const avg = t % 2 === 1;
      // tfjs averages only valid cells; the native avg pool covers symmetric padding (valid, or odd k with stride 1).
      const pad = avg ? pick(k % 2 === 1 && stride === 1 ? ["same", "valid"] : ["valid"]) : pick(["same", "valid"] as ("same" | "valid")[]);
      const xv = randArr(n * h * w * c);
      const what = `${avg ? "avg" : "max"}Pool x[${n},${h},${w},${c}] k${k} s${stride} ${pad}`;
      const pool = (x: tf.Tensor4D) => (avg ? tf.avgPool(x, k, stride, pad as "same") : tf.maxPool(x, k, stride, pad as "same"));
      await compare(what, () => pool(tf.tensor4d(xv, [n, h, w, c])));
      await compare(`${what} grad`, () => {
        const g = tf.grad((x: tf.Tensor) => {
          const y = pool(x as tf.Tensor4D);
          return tf.sum(tf.mul(y, tf.cos(tf.reshape(tf.range(0, y.size), y.shape))));
        });
        return g(tf.tensor4d(xv, [n, h, w, c]));
      });
      if (avg && pad === "same") nativeFallbackCounts(true); // padded AvgPoolGrad stays on cpu by design
    }
  });

  it("elementwise, comparison, logical, select and reduction kernels (with broadcasting)", async () => {
    const shapes: [number[], number[]][] = [[[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [4]], [[5, 1], [1, 6]], [[3, 4], []], [[1], [7]]];
    for (const [sa, sb] of shapes) {
      const av = randArr(sa.reduce((p, q) => p * q, 1), 2), bv = Float32Array.from(randArr(sb.reduce((p, q) => p * q, 1), 2), (v) => v + 0.01);
      const A = () => tf.tensor(av, sa), B = () => tf.tensor(bv, sb);
      const what = `a[${sa}] b[${sb}]`;
      await compare(`arith ${what}`, () => [tf.add(A(), B()), tf.sub(A(), B()), tf.mul(A(), B()), tf.div(A(), B()), tf.maximum(A(), B()), tf.minimum(A(), B()), tf.squaredDifference(A(), B())]);
      await compare(`compare ${what}`, () => [tf.greater(A(), B()), tf.greaterEqual(A(), B()), tf.less(A(), B()), tf.lessEqual(A(), B()), tf.equal(A(), A()), tf.notEqual(A(), B())]);
      await compare(`logical ${what}`, () => [tf.logicalAnd(tf.greater(A(), 0), tf.less(B(), 0.5)), tf.logicalOr(tf.greater(A(), 0), tf.less(B(), 0.5))]);
    }
    const xv = randArr(3 * 4 * 5, 3);
    const X = () => tf.tensor(xv, [3, 4, 5]);
    const P = () => tf.add(tf.abs(X()), 0.1);
    await compare("unary", () => [tf.relu(X()), tf.relu6(tf.mul(X(), 3)), tf.clipByValue(X(), -0.5, 1.5), tf.step(X(), 0.3), tf.square(X()), tf.sqrt(P()), tf.rsqrt(P()),
      tf.exp(X()), tf.log(P()), tf.neg(X()), tf.abs(X()), tf.sigmoid(X()), tf.tanh(X()), tf.reciprocal(P()), tf.elu(X()), tf.leakyRelu(X(), 0.1),
      tf.floor(tf.mul(X(), 3)), tf.ceil(tf.mul(X(), 3))]);
    await compare("reductions", () => [tf.sum(X(), [0, 1]), tf.sum(X(), 2, true), tf.mean(X(), [0, 2]), tf.mean(X()), tf.max(X(), 1), tf.min(X(), [0, 1, 2], true)]);
    await compare("select", () => tf.where(tf.greater(X(), 0), X(), tf.neg(X())));
    await compare("gradients of relu, relu6, clipByValue, square, mean", () => tf.grads((x: tf.Tensor) =>
      tf.sum(tf.mul(tf.add(tf.add(tf.add(tf.relu(x), tf.relu6(tf.mul(x, 4))), tf.clipByValue(x, -1, 2)), tf.add(tf.square(x), tf.mean(x, [0, 2], true))),
        tf.cos(tf.reshape(tf.range(0, x.size), x.shape)))))([X()]));
  });

  it("training-mode BatchNormalization layer (fused kernel) matches cpu, incl. offset data and rank 2", async () => {
    for (const shape of [[4, 5, 6, 7], [33, 9]]) {
      const xv = Float32Array.from(randArr(shape.reduce((p, q) => p * q)), (v) => 50 + 3 * v); // large mean, small spread
      const layer = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
      await tf.setBackend("cpu");
      layer.apply(tf.zeros(shape)); // build
      const init = layer.getWeights().map((w) => ({ shape: w.shape, values: Float32Array.from(randArr(w.size), (v) => Math.abs(v) + 0.5) }));
      const step = () => {
        layer.setWeights(init.map((w) => tf.tensor(w.values, w.shape)));
        const x = tf.tensor(xv, shape);
        const dyv = tf.cos(tf.reshape(tf.range(0, x.size), shape));
        const g = tf.grads((xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx, { training: true }) as tf.Tensor, dyv)))([x]);
        return [...g, layer.apply(x, { training: true }) as tf.Tensor, ...layer.getWeights().map((w) => w.clone())];
      };
      await compare(`BatchNormalization layer x[${shape}]`, step);
    }
  });

  it("Dense layers (unfused on torch) match cpu and skip the input gradient of frozen features", async () => {
    for (const activation of ["linear", "relu", "softmax"] as const) {
      const layer = tf.layers.dense({ units: 7, activation, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: "ones" });
      const xv = randArr(12 * 33);
      await tf.setBackend("cpu");
      layer.apply(tf.zeros([1, 33])); // build outside the gradient function
      const step = () => {
        const x = tf.tensor2d(xv, [12, 33]);
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, tf.cos(tf.reshape(tf.range(0, 12 * 7), [12, 7])))) as tf.Scalar);
        return [value, ...layer.trainableWeights.map((w) => grads[(w.read() as tf.Variable).name])];
      };
      await compare(`dense ${activation}`, step);
      await tf.setBackend("torch");
      const prof = await tf.profile(() => tf.tidy(() => void step()));
      // Forward product + weight gradient only; no gradient for the (non-trainable) input.
      expect(prof.kernels.map((k) => k.name).filter((k) => k === "BatchMatMul" || k === "_FusedMatMul")).toEqual(["BatchMatMul", "BatchMatMul"]);
    }
  });

  it("falls back to the cpu kernels for NCHW and non-float inputs", async () => {
    const xv = randArr(2 * 3 * 5 * 5), fv = randArr(3 * 3 * 3 * 4);
    await compare("conv2d NCHW", () => tf.conv2d(tf.tensor4d(xv, [2, 3, 5, 5]), tf.tensor4d(fv, [3, 3, 3, 4]), 1, "same", "NCHW"));
    await compare("fused conv2d prelu", () =>
      tf.fused.conv2d({ x: tf.tensor4d(xv, [2, 5, 5, 3]), filter: tf.tensor4d(fv, [3, 3, 3, 4]), strides: 1, pad: "valid", activation: "prelu", preluActivationWeights: tf.tensor1d([0.1, 0.2, 0.3, 0.4]) }));
    await compare("matmul int32", () => tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2], "int32"), tf.tensor2d([5, 6, 7, 8], [2, 2], "int32")));
    await compare("add int32", () => tf.add(tf.tensor1d([1, 2], "int32"), tf.tensor1d([3, 4], "int32")));
    await compare("avgPool same, even kernel", () => tf.avgPool(tf.tensor4d(xv.slice(0, 50), [2, 5, 5, 1]), 2, 1, "same"));
    const fb = nativeFallbackCounts(true);
    expect(Object.keys(fb)).toEqual(expect.arrayContaining(["Conv2D", "FusedConv2D", "BatchMatMul", "Add", "AvgPool"]));
  });

  it("a small MobileNetV2-like model has the same loss and gradients on torch and cpu", async () => {
    tuning.small = 8192; // the realistic mix: small tensors on the JS path, the rest native
    const build = () => {
      const input = tf.input({ shape: [24, 24, 3] });
      let x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: "same", useBias: false }).apply(input) as tf.SymbolicTensor;
      x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
      x = tf.layers.reLU({ maxValue: 6 }).apply(x) as tf.SymbolicTensor;
      // Inverted residual: expand 1x1, depthwise 3x3, project 1x1, add.
      let y = tf.layers.conv2d({ filters: 24, kernelSize: 1, padding: "same", useBias: false }).apply(x) as tf.SymbolicTensor;
      y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
      y = tf.layers.reLU({ maxValue: 6 }).apply(y) as tf.SymbolicTensor;
      y = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: "same", useBias: false }).apply(y) as tf.SymbolicTensor;
      y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
      y = tf.layers.reLU({ maxValue: 6 }).apply(y) as tf.SymbolicTensor;
      y = tf.layers.conv2d({ filters: 8, kernelSize: 1, padding: "same", useBias: false }).apply(y) as tf.SymbolicTensor;
      y = tf.layers.batchNormalization().apply(y) as tf.SymbolicTensor;
      x = tf.layers.add().apply([x, y]) as tf.SymbolicTensor;
      x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: "same", useBias: false }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.conv2d({ filters: 16, kernelSize: 1, activation: "relu", useBias: true }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
      const out = tf.layers.dense({ units: 5, activation: "softmax" }).apply(x) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: out });
    };
    await tf.setBackend("cpu");
    const model = build();
    const weights = model.getWeights().map((w) => ({ shape: w.shape, values: w.dataSync().slice() }));
    const xv = randArr(4 * 24 * 24 * 3), labels = [0, 3, 1, 4];
    const step = () => {
      model.setWeights(weights.map((w) => tf.tensor(w.values, w.shape)));
      const x = tf.tensor4d(xv, [4, 24, 24, 3]);
      const yTrue = tf.oneHot(tf.tensor1d(labels, "int32"), 5);
      const { value, grads } = tf.variableGrads(() =>
        tf.losses.softmaxCrossEntropy(yTrue, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar);
      // Also the BatchNormalization moving statistics updated by the training-mode call.
      return [value, ...model.trainableWeights.map((w) => grads[(w.read() as tf.Variable).name]), ...model.nonTrainableWeights.map((w) => w.read().clone())];
    };
    const want = await runOn("cpu", step);
    const got = await runOn("torch", step);
    // The training-mode BatchNormalization layers took the fused native path.
    await tf.setBackend("torch");
    const prof = await tf.profile(() => tf.tidy(() => void step()));
    expect(prof.kernelNames).toEqual(expect.arrayContaining(["TorchBatchNormTrain", "TorchBatchNormTrainGrad", "Relu6", "TorchRelu6Grad", "Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropFilter"]));
    expect(want.every((o) => o !== undefined)).toBe(true);
    // Whole-model gradients accumulate many kernels: allow 1e-3 relative here.
    want.forEach((w, i) => {
      let ss = 0, worst = 0;
      for (const v of w.values) ss += v * v;
      const rms = Math.sqrt(ss / w.values.length);
      for (let j = 0; j < w.values.length; j++) worst = Math.max(worst, Math.abs(got[i].values[j] - w.values[j]) / (Math.abs(w.values[j]) + rms));
      expect(worst, `output ${i} (${w.shape})`).toBeLessThan(1e-3);
    });
  });
});

describe.skipIf(!status.ok)("native output-buffer recycling", () => {
  const N = 128 * 1024; // 512 KB per float32 output: above the pool's 64 KB floor
  beforeAll(async () => {
    await tf.setBackend("torch");
  });
  afterAll(async () => {
    await tf.setBackend("cpu");
  });
  const stats = () => nativePoolStats()!;
  /** Number of differing elements (a count, not a 100k-element diff, on failure). */
  const mismatches = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let n = Math.abs(a.length - b.length);
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) n++;
    return n;
  };

  it("reuses a disposed output's buffer for the next output of the same size, with correct values", () => {
    const a = tf.tensor1d(randArr(N)), b = tf.tensor1d(randArr(N));
    const want = Float32Array.from(a.dataSync(), (v, i) => v + b.dataSync()[i]);
    tf.dispose(tf.add(a, b)); // native output, never read: goes back to the pool
    const before = stats();
    const sum = tf.add(a, b);
    const after = stats();
    expect(after.hits).toBe(before.hits + 1);
    expect(mismatches(sum.dataSync(), want)).toBe(0);
    tf.dispose([a, b, sum]);
  });

  it("never reuses a buffer whose values were read (dataSync) by the caller", () => {
    const a = tf.tensor1d(randArr(N));
    const t = tf.mul(a, 2);
    const seen = t.dataSync(); // the same memory the tensor holds, by tfjs' cpu contract
    const copy = seen.slice();
    t.dispose();
    for (let i = 0; i < 3; i++) tf.dispose(tf.mul(a, 3 + i)); // same-size outputs that would reuse it
    expect(mismatches(seen, copy)).toBe(0);
    a.dispose();
  });

  type CpuData = { data: { get(id: object): { values: Float32Array } } };
  const valuesOf = (t: tf.Tensor) => (tf.engine().backend as unknown as CpuData).data.get(t.dataId).values;

  it("keeps a buffer while a reshape of it lives on", () => {
    const a = tf.tensor1d(randArr(N));
    const t = tf.add(a, 1);
    const r = tf.reshape(t, [2, N / 2]); // shares the data id
    const want = valuesOf(t).slice();
    t.dispose();
    for (let i = 0; i < 3; i++) tf.dispose(tf.add(a, 2 + i));
    expect(mismatches(r.dataSync(), want)).toBe(0);
    tf.dispose([r, a]);
  });

  it("keeps a buffer while subarray views of it live on (unstack), then recycles it", () => {
    const a = tf.tensor2d(randArr(N), [2, N / 2]);
    const t = tf.add(a, 1);
    const rows = tf.unstack(t); // the cpu kernel returns contiguous slices as subarray views
    expect(valuesOf(rows[0]).buffer).toBe(valuesOf(t).buffer); // the aliasing this test is about
    const rowVals = rows.map((x) => valuesOf(x).slice());
    const pooled0 = stats().recycled;
    t.dispose();
    for (let i = 0; i < 3; i++) tf.dispose(tf.add(a, 2 + i));
    rows.forEach((x, i) => expect(mismatches(x.dataSync(), rowVals[i]), `row ${i}`).toBe(0));
    // Only exposed (read) buffers are withheld; the views were read above, so the shared buffer stays out of the pool.
    tf.dispose([...rows, a]);
    expect(stats().recycled).toBeGreaterThan(pooled0); // the add outputs above were recycled
  });

  it("a model trained several steps on torch (buffers recycled) matches the cpu backend", async () => {
    const build = () => {
      const input = tf.input({ shape: [32, 32, 3] });
      let x = tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: "same", useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
      x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
      x = tf.layers.reLU({ maxValue: 6 }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: "same", useBias: false, depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
      x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
      const out = tf.layers.dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(x) as tf.SymbolicTensor;
      return tf.model({ inputs: input, outputs: out });
    };
    const xv = randArr(8 * 32 * 32 * 3);
    const train = async (backend: string) => {
      await tf.setBackend(backend);
      const model = build();
      const opt = tf.train.sgd(0.1);
      const x = tf.tensor4d(xv, [8, 32, 32, 3]);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], "int32"), 4);
      const losses: number[] = [];
      for (let i = 0; i < 4; i++) {
        const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
        losses.push(loss.dataSync()[0]);
        loss.dispose();
      }
      const w = model.getWeights().map((t) => t.dataSync().slice());
      tf.dispose([x, y]);
      model.dispose();
      opt.dispose();
      return { losses, w };
    };
    const cpu = await train("cpu");
    const before = stats();
    const torch = await train("torch");
    expect(stats().hits).toBeGreaterThan(before.hits); // the steps did reuse buffers
    torch.losses.forEach((l, i) => expect(Math.abs(l - cpu.losses[i])).toBeLessThan(1e-4 * (1 + Math.abs(cpu.losses[i]))));
    cpu.w.forEach((w, i) => {
      let worst = 0;
      for (let j = 0; j < w.length; j++) worst = Math.max(worst, Math.abs(torch.w[i][j] - w[j]) / (Math.abs(w[j]) + 1e-3));
      expect(worst, `weight ${i}`).toBeLessThan(1e-3);
    });
  });

  it("has ATen compute convolution outputs straight into their JS buffers, with the right values", async () => {
    const x = tf.tensor4d(randArr(2 * 33 * 33 * 8), [2, 33, 33, 8]);
    const f = tf.tensor4d(randArr(3 * 3 * 8 * 16), [3, 3, 8, 16]);
    const b = tf.tensor1d(randArr(16));
    const run = () => tf.fused.conv2d({ x, filter: f, bias: b, strides: 2, pad: "same", activation: "relu" }); // asymmetric SAME padding
    const before = stats();
    const y = run();
    const after = stats();
    expect(after.directOutputs).toBe(before.directOutputs + 1);
    expect(after.copiedOutputs).toBe(before.copiedOutputs);
    const got = y.dataSync().slice();
    await tf.setBackend("cpu");
    const want = run().dataSync();
    expect(tf.getBackend()).toBe("cpu");
    await tf.setBackend("torch");
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (Math.abs(want[i]) + 1e-3));
    expect(got.length).toBe(want.length);
    expect(worst).toBeLessThan(1e-4);
    tf.dispose([x, f, b, y]);
  });

  it("holds at most its cap and can be emptied", () => {
    const s = stats();
    expect(s.capBytes).toBeGreaterThan(0);
    expect(s.pooledBytes).toBeLessThanOrEqual(s.capBytes);
    nativePoolStats(true);
    expect(stats().pooledBytes).toBe(0);
  });

  it("serves a training run's steps from the pool, and trainModel empties it when the run ends", async () => {
    const input = tf.input({ shape: [64, 64, 3] });
    let x = tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: tf.initializers.heNormal({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, activation: "softmax", kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tf.SymbolicTensor });
    const images = Uint8Array.from({ length: 64 * 64 * 64 * 3 }, (_, i) => (i * 7919) % 256);
    const data = arrayStream({ images, imageShape: [64, 64, 3], labels: Int32Array.from({ length: 64 }, (_, i) => i % 2), batchSize: 16, shuffle: true, seed: 1 });
    const before = stats();
    let midRun: ReturnType<typeof stats> | undefined;
    await trainModel(model, data, { epochs: 2, optimizer: { type: "sgd", lr: 0.01 }, callbacks: { onEpochEnd: () => void (midRun = stats()) } });
    expect(midRun!.hits - before.hits).toBeGreaterThan(8); // [16,64,64,16] activations and gradients reused from step 2 on
    expect(midRun!.pooledBytes).toBeGreaterThan(0);
    expect(stats().pooledBytes).toBe(0); // released when the run ended
    model.dispose();
  });
});

describe.skipIf(!status.ok)("native thread governor", () => {
  const threads = () => nativeThreadStatus()!;
  /** Native calls for `ms` (each call lets the governor look at the CPU load, at most every half second). */
  const busyNative = async (ms: number) => {
    const a = tf.tensor4d(randArr(4 * 32 * 32 * 8), [4, 32, 32, 8]);
    const f = tf.tensor4d(randArr(3 * 3 * 8 * 8), [3, 3, 8, 8]);
    const end = Date.now() + ms;
    while (Date.now() < end) {
      tf.tidy(() => tf.conv2d(a, f, 1, "same").dataSync());
      await new Promise((r) => setTimeout(r, 5)); // let the hog's exit event through
    }
    tf.dispose([a, f]);
  };
  beforeAll(async () => {
    await tf.setBackend("torch");
  });
  afterAll(async () => {
    await tf.setBackend("cpu");
  });

  it("uses every core by default and names the count in the backend detail", () => {
    const s = threads();
    expect(s.maxThreads).toBe(Number(process.env.TL_TORCH_THREADS) || os.cpus().length);
    expect(status.detail).toContain(`${s.maxThreads} thread`);
  });

  // Spinning OpenMP workers on a core another process needs stall every barrier: the governor must step down
  // while a busy process runs and come back when it ends.
  const s0 = status.ok ? threads() : undefined;
  it.skipIf(!s0?.adaptive || s0.maxThreads < 2)("steps down while another process keeps a core busy, and back up after", async () => {
    const { spawn } = await import("node:child_process");
    const hog = spawn(process.execPath, ["-e", "const end = Date.now() + 20000; while (Date.now() < end) {}"], { stdio: "ignore" });
    try {
      await busyNative(2500);
      const loaded = threads();
      expect(loaded.otherLoad).toBeGreaterThan(0.6);
      expect(loaded.threads).toBeLessThan(loaded.maxThreads);
    } finally {
      hog.kill("SIGKILL");
    }
    await new Promise((r) => hog.once("exit", r));
    // Back to every core once the load is gone. Give it up to 6 s; if the machine stays busy for another reason
    // (the governor's own reading says so), staying down is the right answer.
    for (let i = 0; i < 6 && threads().threads < threads().maxThreads; i++) await busyNative(1000);
    const after = threads();
    expect(after.threads === after.maxThreads || after.otherLoad > 0.5, `threads ${after.threads}/${after.maxThreads} with other load ${after.otherLoad.toFixed(2)}`).toBe(true);
  }, 40_000);
});
