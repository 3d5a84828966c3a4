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
import { expectClose, kernelCases, randomHelpers, runOn as runOnBackend } from "./kernelCases";

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

// The random-shape cases shared with the resident backend's tests (kernelCases.ts), and helpers for the tests below.
const { randArr } = randomHelpers(7);
const runOn = (backend: string, f: () => tf.Tensor | tf.Tensor[]) => runOnBackend(backend, f);
async function compare(what: string, f: () => tf.Tensor | tf.Tensor[]) {
  expectClose(await runOn("torch", f), await runOn("cpu", f), what);
}

describe.skipIf(!status.ok)(`native kernels vs cpu${skipReason ? ` (${skipReason})` : ""}`, () => {
  beforeAll(async () => {
    await tf.setBackend("torch");
    tuning.small = 0; // small tensors normally stay on the JS path; test the native one
  });
  // Every numerical test below must exercise the native path, not the cpu fallback (small tensors too, except in the
  // whole-model case, which asks for the realistic mix).
  beforeEach(() => {
    nativeFallbackCounts(true);
    tuning.small = 0;
  });
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

  for (const c of kernelCases({ backend: "torch", expectFallback: () => void nativeFallbackCounts(true), realisticMix: () => void (tuning.small = 8192) })) {
    it(c.name, () => c.run());
  }

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
