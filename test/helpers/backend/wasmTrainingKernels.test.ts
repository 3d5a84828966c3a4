// The composed wasm gradient kernels (src/helpers/backend/wasm/trainingKernels.ts) against the cpu backend.
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { describe, expect, it } from "vitest";
import { registerWasmTrainingKernels } from "../../../src/helpers/backend/wasm/trainingKernels";

let seed = 7;
const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
const arr = (n: number) => Float32Array.from({ length: n }, rand);

async function on(backend: string, f: () => tf.Tensor[]): Promise<{ shape: number[]; values: Float32Array }[]> {
  await tf.setBackend(backend);
  const ts = tf.tidy(f);
  const out = ts.map((t) => ({ shape: t.shape, values: t.dataSync() as Float32Array }));
  tf.dispose(ts);
  return out;
}

describe("wasm training kernels", () => {
  it("registers the missing gradient kernels once", async () => {
    const added = registerWasmTrainingKernels();
    expect(tf.getKernel("Conv2DBackpropFilter", "wasm")).toBeDefined();
    expect(tf.getKernel("DepthwiseConv2dNativeBackpropInput", "wasm")).toBeDefined();
    expect(tf.getKernel("DepthwiseConv2dNativeBackpropFilter", "wasm")).toBeDefined();
    expect(registerWasmTrainingKernels()).toEqual([]); // idempotent
    void added;
    await tf.setBackend("wasm");
  });

  const cases: [number[], number[], number, "same" | "valid", boolean][] = [];
  for (const depthwise of [false, true]) {
    for (const stride of [1, 2]) {
      for (const pad of ["same", "valid"] as const) {
        cases.push([[2, 7, 8, 3], [3, 3, 3, depthwise ? 2 : 4], stride, pad, depthwise]);
        cases.push([[1, 6, 6, 4], [1, 1, 4, depthwise ? 1 : 5], stride, pad, depthwise]);
        cases.push([[3, 9, 5, 2], [5, 2, 2, depthwise ? 1 : 3], stride, pad, depthwise]);
      }
    }
  }
  it.each(cases)("x%j f%j s%d %s depthwise=%s: gradients match cpu", async (xs, fs, stride, pad, depthwise) => {
    const xv = arr(xs.reduce((p, q) => p * q)), fv = arr(fs.reduce((p, q) => p * q));
    const f = () => tf.grads((x: tf.Tensor, w: tf.Tensor) => {
      const y = depthwise
        ? tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad)
        : tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, pad);
      return tf.sum(tf.mul(y, tf.cos(tf.reshape(tf.range(0, y.size), y.shape))));
    })([tf.tensor4d(xv, xs as [number, number, number, number]), tf.tensor4d(fv, fs as [number, number, number, number])]);
    const want = await on("cpu", f);
    const got = await on("wasm", f);
    want.forEach((w, i) => {
      expect(got[i].shape).toEqual(w.shape);
      let ss = 0;
      for (const v of w.values) ss += v * v;
      const rms = Math.sqrt(ss / w.values.length);
      for (let j = 0; j < w.values.length; j++) {
        expect(Math.abs(got[i].values[j] - w.values[j]), `grad ${i === 0 ? "x" : "filter"} [${j}]`).toBeLessThanOrEqual(1e-4 * (Math.abs(w.values[j]) + rms));
      }
    });
  });
});
