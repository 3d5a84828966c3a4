// The random-shape kernel cases shared by the native backends' tests: each case runs tfjs ops on the backend under
// test and on tfjs' cpu backend and compares them (1e-4 relative). Harness-free, so vitest (nativeKernels.test.ts,
// residentKernels.test.ts) and the GPU check's plain node runner (tools/gpu-check) run the same cases.
import * as tf from "@tensorflow/tfjs";

export interface KernelCaseContext {
  /** The backend under test, e.g. "torch", "torch-resident", "torch-cuda". */
  backend: string;
  /** Called where a case runs a kernel that falls back to cpu code by design on some backend (prelu, padded AvgPoolGrad). */
  expectFallback(why: string): void;
  /** Called before a whole-model case: the backend's realistic settings (the torch backend's small-tensor JS path). */
  realisticMix?(): void;
}

export interface KernelCase {
  name: string;
  run(): Promise<void>;
}

// Deterministic RNG so failures reproduce.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
/** Throws `message` unless `ok` (the cases run outside vitest too). */
function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message);
}

export type Out = { shape: number[]; values: Float32Array };
/** Run `f` on one backend, returning plain arrays (so results outlive the backend switch). */
export async function runOn(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Out[]> {
  await tf.setBackend(backend);
  const ts = tf.tidy(f);
  const list = Array.isArray(ts) ? ts : [ts];
  const out = list.map((t) => ({ shape: t.shape.slice(), values: t.dataSync() as Float32Array }));
  tf.dispose(list);
  return out;
}

/** |got - cpu| ≤ 1e-4·|cpu| + 1e-4·rms(cpu): relative, with an absolute floor scaled to the output. */
export function expectClose(got: Out[], want: Out[], what: string) {
  check(got.length === want.length, `${what}: ${got.length} outputs, cpu has ${want.length}`);
  want.forEach((w, i) => {
    const g = got[i];
    check(g.shape.join() === w.shape.join(), `${what} [${i}]: shape [${g.shape}], cpu's is [${w.shape}]`);
    let ss = 0;
    for (const v of w.values) ss += v * v;
    const rms = Math.sqrt(ss / Math.max(1, w.values.length));
    let worst = 0, at = -1;
    for (let j = 0; j < w.values.length; j++) {
      const err = Math.abs(g.values[j] - w.values[j]) / (1e-4 * (Math.abs(w.values[j]) + rms) + 1e-30);
      if (!(err <= worst)) { worst = err; at = j; }
    }
    if (!(worst <= 1)) {
      throw new Error(`${what} [${i}] element ${at}: ${g.values[at]} vs cpu ${w.values[at]} (rms ${rms}), ${worst.toFixed(2)}× tolerance`);
    }
  });
}

/** Gradients of sum(f(xs) · cos(0, 1, 2, ...)) w.r.t. xs: a non-constant upstream gradient, so dy is not all ones. */
function gradsOf(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): tf.Tensor[] {
  return tf.grads((...a: tf.Tensor[]) => {
    const y = f(...a);
    return tf.sum(tf.mul(y, tf.cos(tf.reshape(tf.range(0, y.size), y.shape))));
  })(xs);
}

/** Deterministic random helpers (seeded) so failures reproduce. */
export function randomHelpers(seed = 42) {
  const rand = rng(seed);
  const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  const randint = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const randArr = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
  return { rand, pick, randint, randArr };
}

/** The cases, comparing `ctx.backend` with cpu; a failing comparison throws an Error naming the element. */
export function kernelCases(ctx: KernelCaseContext, seed = 42): KernelCase[] {
  const { rand, pick, randint, randArr } = randomHelpers(seed);
  const compare = async (what: string, f: () => tf.Tensor | tf.Tensor[]) => {
    const want = await runOn("cpu", f);
    const got = await runOn(ctx.backend, f);
    expectClose(got, want, what);
  };
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

  return [
  {
    name: "Conv2D / Conv2DBackpropInput / Conv2DBackpropFilter",
    run: async () => {
    for (let t = 0; t < 40; t++) {
      const c = convCase(false, t % 2 === 0);
      const xv = randArr(c.n * c.h * c.w * c.cin), fv = randArr(c.kh * c.kw * c.cin * c.cout);
      const dyShapeFn = () => tf.conv2d(tf.tensor4d(xv, [c.n, c.h, c.w, c.cin]), tf.tensor4d(fv, [c.kh, c.kw, c.cin, c.cout]), c.stride, c.pad, "NHWC", c.dilation);
      await compare(`conv2d ${describeCase(c)}`, dyShapeFn);
      if (c.dilation === 1) {
        await compare(`conv2d grads ${describeCase(c)}`, () =>
          gradsOf((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), [tf.tensor4d(xv, [c.n, c.h, c.w, c.cin]), tf.tensor4d(fv, [c.kh, c.kw, c.cin, c.cout])]));
      }
    }
    },
  },

  {
    name: "DepthwiseConv2dNative and its input/filter gradients",
    run: async () => {
    for (let t = 0; t < 40; t++) {
      const c = convCase(true, t % 2 === 0);
      const xv = randArr(c.n * c.h * c.w * c.cin), fv = randArr(c.kh * c.kw * c.cin * c.cout);
      await compare(`depthwise ${describeCase(c)}`, () =>
        tf.depthwiseConv2d(tf.tensor4d(xv, [c.n, c.h, c.w, c.cin]), tf.tensor4d(fv, [c.kh, c.kw, c.cin, c.cout]), c.stride, c.pad, "NHWC", c.dilation));
      if (c.dilation === 1) {
        await compare(`depthwise grads ${describeCase(c)}`, () => gradsOf((a: tf.Tensor, b: tf.Tensor) => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), [tf.tensor4d(xv, [c.n, c.h, c.w, c.cin]), tf.tensor4d(fv, [c.kh, c.kw, c.cin, c.cout])]));
      }
    }
    },
  },

  {
    name: "FusedConv2D / FusedDepthwiseConv2D with bias and every activation, plus gradients",
    run: async () => {
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
      if (activation === "prelu") ctx.expectFallback("prelu"); // prelu stays on the cpu path of the torch backend by design
      if (activation !== "elu" && activation !== "sigmoid" && activation !== "leakyrelu") {
        // tfjs-core defines fused-conv gradients only for linear/relu/relu6/prelu-free cases it supports.
        await compare(`fused grads ${activation} ${describeCase(c)}`, () => gradsOf((x: tf.Tensor, f: tf.Tensor, b: tf.Tensor) => run(x as tf.Tensor4D, f as tf.Tensor4D, b as tf.Tensor1D), [...mk()]));
      }
    }
    },
  },

  {
    name: "BatchMatMul / _FusedMatMul incl. transposes, batch broadcast and gradients",
    run: async () => {
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
        await compare(`grads ${what}`, () => gradsOf((a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) => tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: "relu" }), [tf.tensor(av, aShape), tf.tensor(bv, bShape), tf.tensor1d(biasV)]));
      }
    }
    },
  },

  {
    name: "large dense products (the addon's oneDNN 1x1-convolution path) incl. transposes, bias, activation and gradients",
    run: async () => {
    // At least 65,536 multiply-adds and 2 rows: what dense layers of the chapters hit (e.g. 128x1568 . 1568x100).
    for (const [m, k, n] of [[128, 1568, 100], [64, 300, 10], [2, 2048, 40], [300, 64, 129]]) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
        const aShape = ta ? [k, m] : [m, k], bShape = tb ? [n, k] : [k, n];
        const av = randArr(m * k), bv = randArr(k * n), biasV = randArr(n);
        const what = `matmul a[${aShape}] b[${bShape}] tA=${ta} tB=${tb}`;
        await compare(what, () => tf.matMul(tf.tensor(av, aShape), tf.tensor(bv, bShape), ta, tb));
        await compare(`fused relu ${what}`, () =>
          tf.fused.matMul({ a: tf.tensor(av, aShape), b: tf.tensor(bv, bShape), transposeA: ta, transposeB: tb, bias: tf.tensor1d(biasV), activation: "relu" }));
        await compare(`grads ${what}`, () => gradsOf((a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) => tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: "relu" }), [tf.tensor(av, aShape), tf.tensor(bv, bShape), tf.tensor1d(biasV)]));
      }
    }
    },
  },

  {
    name: "FusedBatchNorm forward and its (overridden) gradient",
    run: async () => {
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
    },
  },

  {
    name: "MaxPool / AvgPool and their gradients",
    run: async () => {
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
      await compare(`${what} grad`, () => gradsOf((x: tf.Tensor) => pool(x as tf.Tensor4D), [tf.tensor4d(xv, [n, h, w, c])]));
      if (avg && pad === "same") ctx.expectFallback("padded AvgPoolGrad"); // tfjs divides by the whole window: cpu path by design
    }
    },
  },

  {
    name: "elementwise, comparison, logical, select and reduction kernels (with broadcasting)",
    run: async () => {
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
    },
  },

  {
    name: "training-mode BatchNormalization layer (fused kernel) matches cpu, incl. offset data and rank 2",
    run: async () => {
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
    },
  },

  {
    name: "Dense layers (unfused on the native backends) match cpu and skip the input gradient of frozen features",
    run: async () => {
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
      await tf.setBackend(ctx.backend);
      const prof = await tf.profile(() => tf.tidy(() => void step()));
      // Forward product + weight gradient only; no gradient for the (non-trainable) input.
      const products = prof.kernels.map((k) => k.name).filter((k) => k === "BatchMatMul" || k === "_FusedMatMul");
      check(products.join() === "BatchMatMul,BatchMatMul", `dense ${activation}: products ${products.join()}, want the forward one and the weight gradient only`);
    }
    },
  },

  {
    name: "a small MobileNetV2-like model has the same loss and gradients on the native backend and cpu",
    run: async () => {
    ctx.realisticMix?.(); // e.g. the torch backend's small tensors on the JS path, the rest native
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
    const got = await runOn(ctx.backend, step);
    // The training-mode BatchNormalization layers took the fused native path.
    await tf.setBackend(ctx.backend);
    const prof = await tf.profile(() => tf.tidy(() => void step()));
    const missing = ["TorchBatchNormTrain", "TorchBatchNormTrainGrad", "Relu6", "TorchRelu6Grad", "Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropFilter"]
      .filter((k) => !prof.kernelNames.includes(k));
    check(missing.length === 0, `the step did not run ${missing.join(", ")}`);
    check(want.every((o) => o !== undefined), "a gradient is missing");
    // Whole-model gradients accumulate many kernels: allow 1e-3 relative here.
    want.forEach((w, i) => {
      let ss = 0, worst = 0;
      for (const v of w.values) ss += v * v;
      const rms = Math.sqrt(ss / w.values.length);
      for (let j = 0; j < w.values.length; j++) worst = Math.max(worst, Math.abs(got[i].values[j] - w.values[j]) / (Math.abs(w.values[j]) + rms));
      check(worst < 1e-3, `output ${i} (${w.shape}): ${worst} relative`);
    });
    },
  },
  ];
}

/**
 * Cases for the resident backend only (the torch backend runs these kernels on its cpu code by design): data movement,
 * gathers, index and integer kernels, and reading back what was written.
 */
export function residentKernelCases(ctx: KernelCaseContext, seed = 11): KernelCase[] {
  const { randArr } = randomHelpers(seed);
  const compare = async (what: string, f: () => tf.Tensor | tf.Tensor[]) => expectClose(await runOn(ctx.backend, f), await runOn("cpu", f), what);
  return [
    {
      name: "shape, gather, reduction and index kernels",
      run: async () => {
        const xv = randArr(2 * 3 * 4 * 5, 3);
        const X = () => tf.tensor(xv, [2, 3, 4, 5]);
        const I = () => tf.tensor1d([2, 0, 1, 2], "int32");
        await compare("shape", () => [tf.transpose(X(), [3, 1, 0, 2]), tf.slice(X(), [1, 0, 1, 2], [1, 3, 2, 3]), tf.concat([X(), X()], 2),
          tf.stack([X(), X()], 1), ...tf.unstack(X(), 2), ...tf.split(X(), [2, 3], 3), tf.tile(X(), [1, 2, 1, 1]), tf.pad(X(), [[0, 1], [2, 0], [1, 1], [0, 0]], 0.5),
          tf.reverse(X(), [1, 3]), tf.stridedSlice(X(), [0, 2, 3, 4], [2, 0, 0, 0], [1, -1, -2, -3]), tf.stridedSlice(X(), [0, -1], [2, -4], [1, -2]),
          tf.stridedSlice(X(), [0, 1], [2, 3], [1, 1], 0, 0, 0, 2)]);
        await compare("gather, oneHot, range, fill", () => [tf.gather(X(), I(), 1), tf.oneHot(tf.tensor1d([0, 3, -1, 5], "int32"), 4),
          tf.range(0.5, 7, 1.5), tf.range(5, -3, -2, "int32"), tf.fill([2, 3], 2.5), tf.zerosLike(X()), tf.onesLike(I())]);
        await compare("reductions and indices", () => [tf.prod(tf.add(X(), 4), [1, 3]), tf.argMax(X(), 2), tf.argMin(X(), 0), tf.cumsum(X(), 1),
          tf.cumsum(X(), 3, true, true), tf.sum(I()), tf.max(I()), tf.all(tf.greater(X(), -2), 1), tf.any(tf.greater(X(), 2.5), [0, 3]),
          tf.softmax(X()), ...Object.values(tf.topk(tf.reshape(X(), [6, 20]), 5))]);
        await compare("int32 and bool arithmetic", () => [tf.add(I(), I()), tf.mul(I(), tf.scalar(3, "int32")), tf.floorDiv(I(), tf.scalar(2, "int32")),
          tf.mod(tf.sub(I(), 1), tf.scalar(2, "int32")), tf.cast(tf.greater(X(), 0), "float32"), tf.cast(X(), "int32"), tf.logicalNot(tf.less(X(), 0))]);
      },
    },
    {
      name: "reads back what was written (float32, int32, bool; strings stay in JS)",
      run: async () => {
        await tf.setBackend(ctx.backend);
        const f = Float32Array.from([1.5, -2.25, 3e-8, 7e6]), i = Int32Array.from([-5, 0, 2 ** 31 - 1, 7]), b = Uint8Array.from([1, 0, 0, 1]);
        const tensors = [tf.tensor(f, [2, 2]), tf.tensor(i, [4], "int32"), tf.tensor(b, [4], "bool"), tf.tensor(["a", "béta"])];
        const same = (got: ArrayLike<number>, want: ArrayLike<number>, what: string) =>
          check(got.length === want.length && Array.from(want).every((v, k) => got[k] === v), `${what}: read back [${Array.from(got)}], wrote [${Array.from(want)}]`);
        same(tensors[0].dataSync(), f, "float32");
        same(tensors[1].dataSync(), i, "int32");
        same(tensors[2].dataSync(), b, "bool");
        same(await tensors[0].data(), f, "float32 (async)");
        check(JSON.stringify(tensors[3].arraySync()) === JSON.stringify(["a", "béta"]), "strings");
        check(JSON.stringify(tf.tidy(() => tf.reshape(tensors[1], [2, 2]).arraySync())) === JSON.stringify([[-5, 0], [2 ** 31 - 1, 7]]), "int32 reshaped");
        tf.dispose(tensors);
      },
    },
  ];
}
