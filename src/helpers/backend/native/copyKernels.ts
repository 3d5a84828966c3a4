// Slice and PadV2 for the "torch" backend as contiguous block copies (TypedArray.set of whole rows).
// The stock cpu kernels move one element at a time through TensorBuffer index arithmetic: at 224x224 the
// ZeroPadding2D layers of MobileNetV2 (block_1/3/6/13_pad) and their gradients (a Slice) dominated a
// training step (`npm run bench` measures the step).
// Results are bit-identical: these kernels only move values. Unsupported cases use the cpu kernel.
// Large float32 tensors go to the addon (`pad`/`slice`): its outputs come from the recycled buffer pool,
// where a fresh activation-sized array per call (block_1_pad at 224 px) cost more in page faults than the copy.
import * as tf from "@tensorflow/tfjs";
import type { TorchAddon } from "./addon";

interface CpuLikeBackend extends tf.KernelBackend {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: unknown): tf.TensorInfo;
}
type NumArray = Float32Array | Int32Array | Uint8Array;

function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let a = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = a;
    a *= shape[d];
  }
  return s;
}

function numeric(v: unknown): v is NumArray {
  return v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array;
}

/** Values of x[begin : begin + size] (row-major), copied in runs as long as the trailing full dimensions allow. */
export function sliceValues<T extends NumArray>(x: T, shape: readonly number[], begin: readonly number[], size: readonly number[]): T {
  const rank = shape.length;
  const st = stridesOf(shape);
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === shape[k]) k--;
  const run = size[k] * st[k];
  const total = size.reduce((a, b) => a * b, 1);
  const out = new (x.constructor as new (n: number) => T)(total);
  if (total === 0) return out;
  const idx = new Array<number>(k).fill(0);
  for (let o = 0; o < total; o += run) {
    let off = begin[k] * st[k];
    for (let d = 0; d < k; d++) off += (begin[d] + idx[d]) * st[d];
    out.set(x.subarray(off, off + run), o);
    for (let d = k - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** x padded with `value` by `paddings` ([before, after] per dimension, non-negative). */
export function padValues<T extends NumArray>(x: T, shape: readonly number[], paddings: ReadonlyArray<readonly [number, number]>, value: number): { values: T; shape: number[] } {
  const rank = shape.length;
  const outShape = shape.map((s, d) => paddings[d][0] + s + paddings[d][1]);
  const xs = stridesOf(shape);
  const os = stridesOf(outShape);
  const out = new (x.constructor as new (n: number) => T)(outShape.reduce((a, b) => a * b, 1));
  if (value !== 0) out.fill(value);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return { values: out, shape: outShape };
  let k = rank - 1;
  while (k > 0 && paddings[k][0] === 0 && paddings[k][1] === 0) k--;
  const run = shape[k] * xs[k];
  const idx = new Array<number>(k).fill(0);
  for (let i = 0; i < n; i += run) {
    let o = paddings[k][0] * os[k];
    for (let d = 0; d < k; d++) o += (idx[d] + paddings[d][0]) * os[d];
    out.set(x.subarray(i, i + run), o);
    for (let d = k - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { values: out, shape: outShape };
}

/**
 * Replace `backendName`'s Slice and PadV2 kernels (copied from cpu) with the block-copy versions above, or the
 * addon's pooled copies for float32 tensors of at least `minNative` elements when `addon` has them.
 */
export function registerCopyKernels(backendName: string, addon?: Pick<TorchAddon, "pad" | "slice">, minNative: () => number = () => 8192): void {
  // An addon built before pad/slice existed keeps the JS copies.
  const hasNative = addon !== undefined && typeof addon.pad === "function" && typeof addon.slice === "function";
  const nativeOk = (x: tf.TensorInfo, vals: unknown) => hasNative && vals instanceof Float32Array && x.dtype === "float32" && vals.length >= minNative();
  const slice0 = tf.getKernel("Slice", backendName);
  const pad0 = tf.getKernel("PadV2", backendName);
  if (!slice0 || !pad0) return;
  tf.unregisterKernel("Slice", backendName);
  tf.registerKernel({
    kernelName: "Slice",
    backendName,
    kernelFunc: (args) => {
      const { inputs, attrs } = args;
      const backend = args.backend as CpuLikeBackend;
      const x = inputs.x as tf.TensorInfo;
      const vals = backend.data.get(x.dataId).values;
      if (!numeric(vals) || x.shape.length === 0) return slice0.kernelFunc(args);
      const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, attrs!.begin as number | number[], attrs!.size as number | number[]);
      if (nativeOk(x, vals)) return backend.makeTensorInfo(size, x.dtype, addon!.slice(vals as Float32Array, x.shape, begin, size));
      return backend.makeTensorInfo(size, x.dtype, sliceValues(vals, x.shape, begin, size));
    },
  });
  tf.unregisterKernel("PadV2", backendName);
  tf.registerKernel({
    kernelName: "PadV2",
    backendName,
    kernelFunc: (args) => {
      const { inputs, attrs } = args;
      const backend = args.backend as CpuLikeBackend;
      const x = inputs.x as tf.TensorInfo;
      const paddings = attrs!.paddings as Array<[number, number]>;
      const vals = backend.data.get(x.dataId).values;
      if (!numeric(vals) || x.shape.length === 0 || paddings.some((p) => p[0] < 0 || p[1] < 0)) return pad0.kernelFunc(args);
      const value = Number(attrs!.constantValue ?? 0);
      if (nativeOk(x, vals)) {
        const outShape = x.shape.map((s, d) => paddings[d][0] + s + paddings[d][1]);
        return backend.makeTensorInfo(outShape, x.dtype, addon!.pad(vals as Float32Array, x.shape, paddings.flat(), value));
      }
      const r = padValues(vals, x.shape, paddings, value);
      return backend.makeTensorInfo(r.shape, x.dtype, r.values);
    },
  });
}
