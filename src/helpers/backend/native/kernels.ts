// tfjs kernels for the "torch" backend: native ATen implementations with the stock
// cpu kernel as the fallback for every case the addon does not cover (NCHW, prelu,
// non-float inputs, odd broadcasting), so registering them never changes results.
import * as tf from "@tensorflow/tfjs";
import type { TorchAddon } from "./addon";
import { integerSetting } from "../../config";

/** What the cpu backend stores per tensor (MathBackendCPU.data). */
interface CpuLikeBackend extends tf.KernelBackend {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: unknown): tf.TensorInfo;
}

type Args = Parameters<tf.KernelFunc>[0];
type KernelResult = tf.TensorInfo | tf.TensorInfo[];
type Attrs = Record<string, unknown>;

/**
 * Thrown by a native kernel to mean "not supported here, use the cpu kernel". Control flow, not an
 * error: deliberately not an Error subclass, and thrown as shared instances, so no stack trace is
 * captured (small tensors take this path dozens of times per training step).
 */
export class Unsupported {}
export const UNSUPPORTED = new Unsupported();

function f32(backend: CpuLikeBackend, t: tf.TensorInfo | undefined): Float32Array {
  if (!t || t.dtype !== "float32") throw UNSUPPORTED;
  const v = backend.data.get(t.dataId).values;
  if (!(v instanceof Float32Array)) throw UNSUPPORTED;
  return v;
}
const optF32 = (b: CpuLikeBackend, t: tf.TensorInfo | undefined | null) => (t ? f32(b, t) : null);
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, leakyrelu: 4, sigmoid: 5 };
export function activationCode(a: unknown): number {
  const code = ACTIVATIONS[(a as string | undefined) ?? "linear"];
  if (code === undefined) throw UNSUPPORTED; // prelu needs per-element weights: cpu path
  return code;
}

/** ATen's output size for the padding tfjs chose; tfjs' dimRoundingMode can disagree, then we fall back. */
function atenOut(inSize: number, k: number, dil: number, stride: number, before: number, after: number) {
  return Math.floor((inSize + before + after - ((k - 1) * dil + 1)) / stride) + 1;
}

export function convOpts(info: tf.backend_util.Conv2DInfo, depthwise: boolean): number[] {
  if (info.dataFormat !== "channelsLast" || info.outHeight <= 0 || info.outWidth <= 0) throw UNSUPPORTED;
  const p = info.padInfo;
  if ([p.top, p.bottom, p.left, p.right].some((v) => v < 0)) throw UNSUPPORTED;
  if (
    atenOut(info.inHeight, info.filterHeight, info.dilationHeight, info.strideHeight, p.top, p.bottom) !== info.outHeight ||
    atenOut(info.inWidth, info.filterWidth, info.dilationWidth, info.strideWidth, p.left, p.right) !== info.outWidth
  ) {
    throw UNSUPPORTED;
  }
  return [
    info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    p.top, p.bottom, p.left, p.right, depthwise ? 1 : 0,
  ];
}

export function convInfo(
  xShape: number[], filterShape: number[], attrs: Attrs, depthwise: boolean, dilationsOverride?: number,
): tf.backend_util.Conv2DInfo {
  const dataFormat = (attrs.dataFormat as "NHWC" | "NCHW" | undefined) ?? "NHWC";
  if (dataFormat !== "NHWC") throw UNSUPPORTED;
  const dilations = (dilationsOverride ?? attrs.dilations ?? [1, 1]) as number | [number, number];
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as [number, number],
    dilations,
    attrs.pad as "same",
    attrs.dimRoundingMode as "floor" | undefined,
    depthwise,
    "channelsLast",
  );
}

function makeConv(addon: TorchAddon, depthwise: boolean, fused: boolean) {
  return ({ inputs, backend, attrs }: Args): KernelResult => {
    const b = backend as CpuLikeBackend;
    const { x, filter, bias } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo };
    const a = attrs as Attrs;
    const info = convInfo(x.shape, filter.shape, a, depthwise);
    const opts = convOpts(info, depthwise);
    let act = 0;
    let biasV: Float32Array | null = null;
    if (fused) {
      act = activationCode(a.activation);
      if (bias) {
        if (size(bias.shape) !== info.outChannels) throw UNSUPPORTED; // scalar bias: cpu path
        biasV = f32(b, bias);
      }
    }
    const y = addon.conv2d(
      f32(b, x), x.shape, f32(b, filter), filter.shape, opts, biasV, act, Number(a.leakyreluAlpha ?? 0.2),
    );
    return b.makeTensorInfo(info.outShape, "float32", y);
  };
}

function makeConvBackpropInput(addon: TorchAddon, depthwise: boolean) {
  return ({ inputs, backend, attrs }: Args): KernelResult => {
    const b = backend as CpuLikeBackend;
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = attrs as Attrs;
    const inShape = a.inputShape as number[];
    const info = convInfo(inShape, filter.shape, a, depthwise, depthwise ? undefined : 1);
    const opts = convOpts(info, depthwise);
    if (dy.shape.some((d, i) => d !== info.outShape[i])) throw UNSUPPORTED;
    const dx = addon.conv2dBackpropInput(f32(b, dy), dy.shape, f32(b, filter), filter.shape, inShape, opts);
    return b.makeTensorInfo(inShape, "float32", dx);
  };
}

function makeConvBackpropFilter(addon: TorchAddon, depthwise: boolean) {
  return ({ inputs, backend, attrs }: Args): KernelResult => {
    const b = backend as CpuLikeBackend;
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as Attrs;
    const filterShape = a.filterShape as number[];
    const info = convInfo(x.shape, filterShape, a, depthwise, depthwise ? undefined : 1);
    const opts = convOpts(info, depthwise);
    if (dy.shape.some((d, i) => d !== info.outShape[i])) throw UNSUPPORTED;
    const dw = addon.conv2dBackpropFilter(f32(b, x), x.shape, f32(b, dy), dy.shape, filterShape, opts);
    return b.makeTensorInfo(filterShape, "float32", dw);
  };
}

/**
 * Shapes of a (batched) matmul as both native backends run it: a as [batchA, ar, ac], b as [batchB, br, bc], the
 * product [...outer, m, n]. Batch dims must match exactly or one side must have none (batch 1); anything fancier, or
 * mismatched inner dims (tfjs' own kernel then raises its error), is UNSUPPORTED.
 */
export function matMulShapes(aShape: number[], bShape: number[], ta: boolean, tb: boolean) {
  if (aShape.length < 2 || bShape.length < 2) throw UNSUPPORTED;
  const outerA = aShape.slice(0, -2), outerB = bShape.slice(0, -2);
  const batchA = size(outerA), batchB = size(outerB);
  let outer: number[];
  if (outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i])) outer = outerA;
  else if (batchA === 1) outer = outerB;
  else if (batchB === 1) outer = outerA;
  else throw UNSUPPORTED;
  const [ar, ac] = aShape.slice(-2), [br, bc] = bShape.slice(-2);
  const m = ta ? ac : ar, k = ta ? ar : ac, k2 = tb ? bc : br, n = tb ? br : bc;
  if (k !== k2) throw UNSUPPORTED;
  return { outer, batchA, batchB, ar, ac, br, bc, m, n };
}

function makeMatMul(addon: TorchAddon, fused: boolean) {
  return ({ inputs, backend, attrs }: Args): KernelResult => {
    const bk = backend as CpuLikeBackend;
    const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
    const at = attrs as Attrs;
    const ta = Boolean(at.transposeA), tb = Boolean(at.transposeB);
    const { outer, batchA, batchB, ar, ac, br, bc, m, n } = matMulShapes(a.shape, b.shape, ta, tb);
    let act = 0;
    let biasV: Float32Array | null = null;
    if (fused) {
      act = activationCode(at.activation);
      if (bias) {
        // Only a bias broadcast along the last output dim ([n] or [1,..,n]); others: cpu.
        if (size(bias.shape) !== n || bias.shape[bias.shape.length - 1] !== n) throw UNSUPPORTED;
        biasV = f32(bk, bias);
      }
    }
    const y = addon.matmul(
      f32(bk, a), [batchA, ar, ac], f32(bk, b), [batchB, br, bc], ta, tb, biasV, act, Number(at.leakyreluAlpha ?? 0.2),
    );
    return bk.makeTensorInfo([...outer, m, n], "float32", y);
  };
}

/** mean/variance/scale/offset must each hold exactly one value per channel (last dim of x). */
export function bnChannels(x: tf.TensorInfo, ...params: (tf.TensorInfo | undefined | null)[]): number {
  const c = x.shape[x.shape.length - 1];
  if (x.shape.length < 1 || !c) throw UNSUPPORTED;
  for (const p of params) {
    if (!p) continue;
    if (size(p.shape) !== c || (p.shape.length > 0 && p.shape[p.shape.length - 1] !== c)) throw UNSUPPORTED;
  }
  return c;
}

function makeBatchNorm(addon: TorchAddon) {
  return ({ inputs, backend, attrs }: Args): KernelResult => {
    const b = backend as CpuLikeBackend;
    const { x, mean, variance, scale, offset } = inputs as Record<string, tf.TensorInfo | undefined>;
    if (!x || !mean || !variance) throw UNSUPPORTED;
    const c = bnChannels(x, mean, variance, scale, offset);
    const eps = Number((attrs as Attrs).varianceEpsilon ?? 0.001);
    const y = addon.batchNorm(f32(b, x), f32(b, mean), f32(b, variance), optF32(b, scale), optF32(b, offset), c, eps);
    return b.makeTensorInfo(x.shape, "float32", y);
  };
}

export const BN_TRAIN_KERNEL = "TorchBatchNormTrain";
export const BN_TRAIN_GRAD_KERNEL = "TorchBatchNormTrainGrad";

function values(backend: CpuLikeBackend, t: tf.TensorInfo, dtype: "float32" | "bool"): Float32Array | Uint8Array {
  if (t.dtype !== dtype) throw UNSUPPORTED;
  const v = backend.data.get(t.dataId).values;
  if (!(dtype === "float32" ? v instanceof Float32Array : v instanceof Uint8Array)) throw UNSUPPORTED;
  return v as Float32Array | Uint8Array;
}

/** tfjs binary kernel name → [addon op code, input dtype, output dtype]. */
const BINARY: Record<string, [number, "float32" | "bool", "float32" | "bool"]> = {
  Add: [0, "float32", "float32"], Sub: [1, "float32", "float32"], Multiply: [2, "float32", "float32"],
  RealDiv: [3, "float32", "float32"], Maximum: [4, "float32", "float32"], Minimum: [5, "float32", "float32"],
  SquaredDifference: [6, "float32", "float32"],
  Greater: [10, "float32", "bool"], GreaterEqual: [11, "float32", "bool"], Less: [12, "float32", "bool"],
  LessEqual: [13, "float32", "bool"], Equal: [14, "float32", "bool"], NotEqual: [15, "float32", "bool"],
  LogicalAnd: [20, "bool", "bool"], LogicalOr: [21, "bool", "bool"],
};
/** Binary gradient helpers registered as extra kernels ({a: dy, b: x}). */
export const RELU_GRAD_KERNEL = "TorchReluGrad";
export const SQUARE_GRAD_KERNEL = "TorchSquareGrad";
export const RELU6_GRAD_KERNEL = "TorchRelu6Grad";
const BINARY_EXTRA: Record<string, number> = { [RELU_GRAD_KERNEL]: 30, [SQUARE_GRAD_KERNEL]: 31, [RELU6_GRAD_KERNEL]: 32 };

/**
 * Below this many elements the cpu backend's plain JS loops beat an ATen call (dispatch,
 * TensorIterator set-up, N-API marshalling: ~10-25 µs), e.g. SGD updates and BN statistics.
 */
export const tuning = { small: integerSetting("TL_TORCH_SMALL") ?? 8192 };
/** Small tensors: deliberately left to the cpu code (not counted as a fallback). */
class Small extends Unsupported {}
const SMALL = new Small();

function makeBinary(addon: TorchAddon, op: number, inDtype: "float32" | "bool", outDtype: "float32" | "bool", smallToCpu = true) {
  return ({ inputs, backend }: Args): KernelResult => {
    const bk = backend as CpuLikeBackend;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    if (smallToCpu && size(shape) < tuning.small) throw SMALL;
    const y = addon.binary(op, values(bk, a, inDtype), a.shape, values(bk, b, inDtype), b.shape);
    return bk.makeTensorInfo(shape, outDtype, y);
  };
}

/** tfjs unary kernel name → [addon op code, attrs → [p0, p1]]. */
const UNARY: Record<string, [number, (a: Attrs) => [number, number]]> = {
  Relu: [0, () => [0, 0]], Relu6: [1, () => [0, 0]],
  ClipByValue: [2, (a) => [Number(a.clipValueMin), Number(a.clipValueMax)]],
  Step: [3, (a) => [Number(a.alpha ?? 0), 0]],
  Square: [4, () => [0, 0]], Sqrt: [5, () => [0, 0]], Rsqrt: [6, () => [0, 0]], Exp: [7, () => [0, 0]],
  Log: [8, () => [0, 0]], Neg: [9, () => [0, 0]], Abs: [10, () => [0, 0]], Sigmoid: [11, () => [0, 0]],
  Tanh: [12, () => [0, 0]], Reciprocal: [13, () => [0, 0]], Elu: [14, () => [0, 0]],
  LeakyRelu: [15, (a) => [Number(a.alpha ?? 0.2), 0]],
  Floor: [16, () => [0, 0]], Ceil: [17, () => [0, 0]],
};

function makeUnary(addon: TorchAddon, op: number, params: (a: Attrs) => [number, number]) {
  return ({ inputs, backend, attrs }: Args): KernelResult => {
    const bk = backend as CpuLikeBackend;
    const { x } = inputs as { x: tf.TensorInfo };
    if (size(x.shape) < tuning.small) throw SMALL;
    const [p0, p1] = params(attrs as Attrs);
    return bk.makeTensorInfo(x.shape, "float32", addon.unary(op, f32(bk, x), p0, p1));
  };
}

const REDUCE: Record<string, [number, string]> = { Sum: [0, "axis"], Mean: [1, "axis"], Max: [2, "reductionIndices"], Min: [3, "axis"] };

function makeReduce(addon: TorchAddon, op: number, axisAttr: string) {
  return ({ inputs, backend, attrs }: Args): KernelResult => {
    const bk = backend as CpuLikeBackend;
    const { x } = inputs as { x: tf.TensorInfo };
    const a = attrs as Attrs;
    const axes = tf.util.parseAxisParam(a[axisAttr] as number | number[], x.shape);
    if (axes.length === 0 || x.shape.length === 0) throw UNSUPPORTED;
    if (size(x.shape) < tuning.small) throw SMALL;
    const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const y = addon.reduce(op, f32(bk, x), x.shape, axes);
    const shape = a.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    return bk.makeTensorInfo(shape, "float32", y);
  };
}

function makeSelect(addon: TorchAddon) {
  return ({ inputs, backend }: Args): KernelResult => {
    const bk = backend as CpuLikeBackend;
    const { condition, t, e } = inputs as { condition: tf.TensorInfo; t: tf.TensorInfo; e: tf.TensorInfo };
    const same = (s: number[]) => s.length === t.shape.length && s.every((d, i) => d === t.shape[i]);
    if (!same(condition.shape) || !same(e.shape)) throw UNSUPPORTED; // rank-1 condition: cpu
    if (size(t.shape) < tuning.small) throw SMALL;
    const y = addon.select(values(bk, condition, "bool") as Uint8Array, f32(bk, t), f32(bk, e), t.shape);
    return bk.makeTensorInfo(t.shape, "float32", y);
  };
}

export const CLIP_GRAD_KERNEL = "TorchClipGrad";
export const MEAN_GRAD_KERNEL = "TorchMeanGrad";

/** Gradient-only kernels (no cpu equivalent; only called from the overridden gradients). */
export function gradientKernels(addon: TorchAddon): Record<string, tf.KernelFunc> {
  const out: Record<string, tf.KernelFunc> = {};
  // No cpu twin to fall back to: always native.
  for (const [name, op] of Object.entries(BINARY_EXTRA)) out[name] = makeBinary(addon, op, "float32", "float32", false) as tf.KernelFunc;
  out[CLIP_GRAD_KERNEL] = (({ inputs, backend, attrs }: Args) => {
    const bk = backend as CpuLikeBackend;
    const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
    const a = attrs as Attrs;
    return bk.makeTensorInfo(x.shape, "float32", addon.clipGrad(f32(bk, dy), f32(bk, x), Number(a.clipValueMin), Number(a.clipValueMax)));
  }) as tf.KernelFunc;
  // {dy} reshaped to keep-dims shape; attrs {shape: x.shape, scale: 1/reduceSize}.
  out[MEAN_GRAD_KERNEL] = (({ inputs, backend, attrs }: Args) => {
    const bk = backend as CpuLikeBackend;
    const { dy } = inputs as { dy: tf.TensorInfo };
    const a = attrs as Attrs;
    const shape = a.shape as number[];
    return bk.makeTensorInfo(shape, "float32", addon.broadcastScale(f32(bk, dy), dy.shape, shape, Number(a.scale)));
  }) as tf.KernelFunc;
  // {x, gamma, beta}, {varianceEpsilon} → [y, mean, variance]
  out[BN_TRAIN_KERNEL] = (({ inputs, backend, attrs }: Args) => {
    const b = backend as CpuLikeBackend;
    const { x, gamma, beta } = inputs as Record<string, tf.TensorInfo>;
    const c = bnChannels(x, gamma, beta);
    const [y, mean, variance] = addon.batchNormTrain(f32(b, x), f32(b, gamma), f32(b, beta), c, Number((attrs as Attrs).varianceEpsilon));
    return [b.makeTensorInfo(x.shape, "float32", y), b.makeTensorInfo([c], "float32", mean), b.makeTensorInfo([c], "float32", variance)];
  }) as tf.KernelFunc;
  // {x, dy, mean, variance, gamma, dMean?, dVariance?}, {varianceEpsilon} → [dx, dGamma, dBeta]
  out[BN_TRAIN_GRAD_KERNEL] = (({ inputs, backend, attrs }: Args) => {
    const b = backend as CpuLikeBackend;
    const { x, dy, mean, variance, gamma, dMean, dVariance } = inputs as Record<string, tf.TensorInfo | undefined>;
    if (!x || !dy || !mean || !variance || !gamma) throw new Error(`${BN_TRAIN_GRAD_KERNEL}: missing inputs`);
    const c = bnChannels(x, mean, variance, gamma, dMean, dVariance);
    const [dx, dg, db] = addon.batchNormTrainGrad(
      f32(b, x), f32(b, dy), f32(b, mean), f32(b, variance), f32(b, gamma), optF32(b, dMean), optF32(b, dVariance),
      c, Number((attrs as Attrs).varianceEpsilon),
    );
    return [b.makeTensorInfo(x.shape, "float32", dx), b.makeTensorInfo([c], "float32", dg), b.makeTensorInfo([c], "float32", db)];
  }) as tf.KernelFunc;
  return out;
}

export function poolOpts(xShape: number[], attrs: Attrs, op: number): { info: tf.backend_util.Conv2DInfo; opts: number[] } {
  const info = tf.backend_util.computePool2DInfo(
    xShape as [number, number, number, number], attrs.filterSize as [number, number], attrs.strides as [number, number],
    1, attrs.pad as "same", attrs.dimRoundingMode as "floor" | undefined,
  );
  const p = info.padInfo;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1 || info.outHeight <= 0 || info.outWidth <= 0) throw UNSUPPORTED;
  if ([p.top, p.bottom, p.left, p.right].some((v) => v < 0)) throw UNSUPPORTED;
  if (atenOut(info.inHeight, info.filterHeight, 1, info.strideHeight, p.top, p.bottom) !== info.outHeight ||
      atenOut(info.inWidth, info.filterWidth, 1, info.strideWidth, p.left, p.right) !== info.outWidth) throw UNSUPPORTED;
  // tfjs averages over the valid cells only; ATen can match that with symmetric padding ≤ k/2.
  if (op === 1 && !(p.top === p.bottom && p.left === p.right && 2 * p.top <= info.filterHeight && 2 * p.left <= info.filterWidth)) {
    throw UNSUPPORTED;
  }
  return { info, opts: [info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, p.top, p.bottom, p.left, p.right] };
}

function makePool(addon: TorchAddon, op: number) {
  return ({ inputs, backend, attrs }: Args): KernelResult => {
    const b = backend as CpuLikeBackend;
    const { x } = inputs as { x: tf.TensorInfo };
    if (x.shape.length !== 4) throw UNSUPPORTED;
    const { info, opts } = poolOpts(x.shape, attrs as Attrs, op);
    return b.makeTensorInfo(info.outShape, "float32", addon.pool(op, f32(b, x), x.shape, opts));
  };
}

function makePoolGrad(addon: TorchAddon, op: number) {
  return ({ inputs, backend, attrs }: Args): KernelResult => {
    const b = backend as CpuLikeBackend;
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    if (input.shape.length !== 4) throw UNSUPPORTED;
    const { info, opts } = poolOpts(input.shape, attrs as Attrs, op);
    if (dy.shape.some((d, i) => d !== info.outShape[i])) throw UNSUPPORTED;
    // tfjs' cpu AvgPoolGrad divides by the full window even where the forward pass averaged
    // fewer (padded) cells; keep its results identical by leaving padded cases to it.
    if (op === 1 && opts.slice(4).some((v) => v !== 0)) throw UNSUPPORTED;
    return b.makeTensorInfo(input.shape, "float32", addon.poolGrad(op, f32(b, dy), dy.shape, f32(b, input), input.shape, opts));
  };
}

/** Native kernel factories by tfjs kernel name. */
export function nativeKernels(addon: TorchAddon): Record<string, (args: Args) => KernelResult> {
  const elementwise: Record<string, (args: Args) => KernelResult> = {};
  for (const [name, [op, i, o]] of Object.entries(BINARY)) elementwise[name] = makeBinary(addon, op, i, o);
  for (const [name, [op, p]] of Object.entries(UNARY)) elementwise[name] = makeUnary(addon, op, p);
  for (const [name, [op, ax]] of Object.entries(REDUCE)) elementwise[name] = makeReduce(addon, op, ax);
  return {
    ...elementwise,
    Select: makeSelect(addon),
    MaxPool: makePool(addon, 0),
    AvgPool: makePool(addon, 1),
    MaxPoolGrad: makePoolGrad(addon, 0),
    AvgPoolGrad: makePoolGrad(addon, 1),
    Conv2D: makeConv(addon, false, false),
    FusedConv2D: makeConv(addon, false, true),
    DepthwiseConv2dNative: makeConv(addon, true, false),
    FusedDepthwiseConv2D: makeConv(addon, true, true),
    Conv2DBackpropInput: makeConvBackpropInput(addon, false),
    Conv2DBackpropFilter: makeConvBackpropFilter(addon, false),
    DepthwiseConv2dNativeBackpropInput: makeConvBackpropInput(addon, true),
    DepthwiseConv2dNativeBackpropFilter: makeConvBackpropFilter(addon, true),
    BatchMatMul: makeMatMul(addon, false),
    _FusedMatMul: makeMatMul(addon, true),
    FusedBatchNorm: makeBatchNorm(addon),
  };
}

/** How often each kernel fell back to the cpu implementation (for tests and tuning). */
export const fallbackCounts: Record<string, number> = {};

/** Native first; Unsupported → the stock cpu kernel on the same (MathBackendCPU) backend. */
export function withFallback(name: string, native: (args: Args) => KernelResult, cpu: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    try {
      return native(args);
    } catch (e) {
      if (e instanceof Unsupported && cpu) {
        if (!(e instanceof Small)) fallbackCounts[name] = (fallbackCounts[name] ?? 0) + 1;
        return cpu(args);
      }
      throw e;
    }
  };
}

/** True when the native FusedBatchNorm gradient can serve these saved tensors. */
export function bnGradSupported(x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, scale?: tf.Tensor | null): boolean {
  try {
    if ([x, mean, variance, scale].some((t) => t && t.dtype !== "float32")) return false;
    bnChannels(x, mean, variance, scale);
    return true;
  } catch {
    return false;
  }
}
