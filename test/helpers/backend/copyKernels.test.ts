// Block-copy Slice / PadV2 (registered on the "torch" backend) against the stock cpu kernels: bit-identical.
// Their speed is a benchmark matter (the 224-px training rows of `npm run bench`), not asserted here.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadAddon } from "../../../src/helpers/backend/native/addon";
import { padValues, registerCopyKernels, sliceValues } from "../../../src/helpers/backend/native/copyKernels";

const TEST_BACKEND = "copykernels-test";

/** Random cases over ranks 1-5: begin/size inside the shape, paddings 0-2 on each side. */
function cases(n: number) {
  const out: { shape: number[]; begin: number[]; size: number[]; pads: [number, number][] }[] = [];
  let s = 7;
  const rnd = (m: number) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % m;
  };
  for (let t = 0; t < n; t++) {
    const rank = 1 + (t % 5);
    const shape = Array.from({ length: rank }, () => 1 + rnd(5));
    const begin = shape.map((d) => rnd(d));
    const size = shape.map((d, i) => 1 + rnd(d - begin[i]));
    const pads = shape.map(() => [rnd(3), rnd(3)] as [number, number]);
    out.push({ shape, begin, size, pads });
  }
  return out;
}

beforeAll(async () => {
  await tf.setBackend("cpu");
  const cpu = tf.findBackend("cpu")!;
  const CpuBackend = cpu.constructor as new () => tf.KernelBackend;
  if (!tf.findBackend(TEST_BACKEND)) {
    tf.registerBackend(TEST_BACKEND, () => new CpuBackend(), 0);
    for (const k of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...k, backendName: TEST_BACKEND });
    registerCopyKernels(TEST_BACKEND);
  }
});

describe("block-copy Slice and PadV2", () => {
  it("sliceValues / padValues match tf.slice / tf.pad on the cpu backend", () => {
    for (const c of cases(60)) {
      const x = tf.randomUniform(c.shape, -1, 1, "float32", 1);
      const vals = x.dataSync() as Float32Array;
      expect(Array.from(sliceValues(vals, c.shape, c.begin, c.size)), JSON.stringify(c)).toEqual(Array.from(tf.slice(x, c.begin, c.size).dataSync()));
      const p = padValues(vals, c.shape, c.pads, 0.25);
      const ref = tf.pad(x, c.pads, 0.25);
      expect(p.shape).toEqual(ref.shape);
      expect(Array.from(p.values), JSON.stringify(c)).toEqual(Array.from(ref.dataSync()));
    }
  });

  it("as registered kernels: same forward values and gradients as cpu, for float32 and int32, with the [B,H,W,C] pad of MobileNetV2", async () => {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      expect(tf.getBackend()).toBe(backend);
      return tf.tidy(() => {
        const x = tf.randomUniform([2, 9, 9, 5], -1, 1, "float32", 3);
        const pads: [number, number][] = [[0, 0], [0, 1], [0, 1], [0, 0]]; // ZeroPadding2D(((0, 1), (0, 1)))
        const g = tf.grad((v: tf.Tensor) => tf.pad(v, pads).square().sum())(x);
        const i = tf.range(0, 120, 1, "int32").reshape([2, 3, 4, 5]);
        return [tf.pad(x, pads, 0).arraySync(), g.arraySync(), tf.slice(x, [1, 2, 3, 1], [1, 5, 4, 3]).arraySync(), tf.slice(i, [0, 1, 0, 2], [2, 2, 4, 3]).arraySync(), tf.pad(i, [[1, 0], [0, 0], [2, 1], [0, 0]], 7).arraySync()];
      });
    };
    const ref = await run("cpu");
    const mine = await run(TEST_BACKEND);
    await tf.setBackend("cpu");
    expect(mine).toEqual(ref);
  });

  const { addon } = loadAddon();
  it.skipIf(!addon)("the addon's pooled pad/slice (float32) match the cpu kernels bit for bit, from tiny to MobileNetV2-sized", async () => {
    const NATIVE = "copykernels-native-test";
    if (!tf.findBackend(NATIVE)) {
      const CpuBackend = tf.findBackend("cpu")!.constructor as new () => tf.KernelBackend;
      tf.registerBackend(NATIVE, () => new CpuBackend(), 0);
      for (const k of tf.getKernelsForBackend("cpu")) tf.registerKernel({ ...k, backendName: NATIVE });
      registerCopyKernels(NATIVE, addon!, () => 0); // every float32 tensor takes the native path
    }
    const big = { shape: [4, 112, 112, 16], begin: [1, 0, 5, 2], size: [2, 111, 100, 14], pads: [[0, 0], [0, 1], [0, 1], [0, 0]] as [number, number][] };
    for (const c of [...cases(40), big]) {
      const run = async (backend: string) => {
        await tf.setBackend(backend);
        return tf.tidy(() => {
          const x = tf.randomUniform(c.shape, -1, 1, "float32", 5);
          return [tf.slice(x, c.begin, c.size), tf.pad(x, c.pads, 0.25), tf.pad(x, c.pads)].map((t) => ({ shape: t.shape, values: t.dataSync() }));
        });
      };
      const ref = await run("cpu");
      const mine = await run(NATIVE);
      mine.forEach((m, i) => {
        expect(m.shape, JSON.stringify(c)).toEqual(ref[i].shape);
        let bad = 0;
        for (let j = 0; j < m.values.length; j++) if (m.values[j] !== ref[i].values[j]) bad++;
        expect(bad, `${JSON.stringify(c)} output ${i}`).toBe(0);
      });
    }
    await tf.setBackend("cpu");
  });
});
