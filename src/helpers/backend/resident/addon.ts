// Locating and loading the device-resident addon (native/build/torch_resident.node, built by native/build.sh).
import * as path from "node:path";
import { candidatePaths, loadAddonFile } from "../native/addon";

/** A tensor handle: an index into the addon's table of ATen tensors. */
export type Handle = number;
/** tfjs dtypes as the addon numbers them. */
export const DTYPE_CODE = { float32: 0, int32: 1, bool: 2 } as const;
export type NumericDtype = keyof typeof DTYPE_CODE;
/** Where creation kernels put new tensors: -1 the CPU, n >= 0 the CUDA device n. */
export type DeviceCode = number;

export interface ResidentInfo {
  /** e.g. "libtorch 2.11.0, CUDA 13.0, CUDA available". */
  summary: string;
  /** Name of the CUDA device `init` prepared ("" before). */
  cudaName: string;
  libtorch: string;
  /** CUDA version the libtorch was built with ("" for a CPU build). */
  cuda: string;
  cudaAvailable: boolean;
  threads: number;
}

/** The C N-API surface of native/resident.cc (synchronous; every kernel takes and returns handles). */
export interface ResidentAddon {
  /** Checks a device ("cpu", "cuda", "cuda:N") can be used and returns its name. */
  init(device: string): string;
  info(): ResidentInfo;
  fromArray(values: Float32Array | Int32Array | Uint8Array, shape: number[], dtype: number, device: DeviceCode): Handle;
  toArray(h: Handle): Float32Array | Int32Array | Uint8Array;
  dispose(h: Handle): void;
  liveHandles(): number;
  /** Kernel names per op family; a name's index is its op code. */
  opNames(): { unary: string[]; binary: string[]; reduce: string[] };
  unary(op: number, x: Handle, outDtype: number, p0: number, p1: number): Handle;
  binary(op: number, a: Handle, b: Handle, outDtype: number, p0: number, p1: number): Handle;
  cast(x: Handle, dtype: number): Handle;
  where(condition: Handle, t: Handle, e: Handle): Handle;
  addN(xs: Handle[], outDtype: number): Handle;
  reshape(x: Handle, shape: number[]): Handle;
  transpose(x: Handle, perm: number[]): Handle;
  slice(x: Handle, begin: number[], size: number[]): Handle;
  stridedSlice(x: Handle, begin: number[], strides: number[], sizes: number[], outShape: number[]): Handle;
  concat(xs: Handle[], axis: number): Handle;
  stack(xs: Handle[], axis: number): Handle;
  unstack(x: Handle, axis: number): Handle[];
  split(x: Handle, sizes: number[], axis: number): Handle[];
  tile(x: Handle, reps: number[]): Handle;
  /** paddings = [before0, after0, before1, after1, ...], non-negative. */
  pad(x: Handle, paddings: number[], value: number): Handle;
  flip(x: Handle, dims: number[]): Handle;
  gather(x: Handle, indices: Handle, axis: number): Handle;
  fill(shape: number[], value: number, dtype: number, device: DeviceCode): Handle;
  range(start: number, step: number, count: number, dtype: number, device: DeviceCode): Handle;
  oneHot(indices: Handle, depth: number, on: number, off: number, dtype: number): Handle;
  broadcastTo(x: Handle, shape: number[]): Handle;
  reduce(op: number, x: Handle, axes: number[], keepDims: boolean, outDtype: number): Handle;
  argMinMax(isMax: boolean, x: Handle, axis: number): Handle;
  softmax(x: Handle, dim: number): Handle;
  topK(x: Handle, k: number, sorted: boolean): Handle[];
  cumulative(isProduct: boolean, x: Handle, axis: number, exclusive: boolean, reverse: boolean, outDtype: number): Handle;
  /** opts = [strideH, strideW, dilationH, dilationW, padTop, padBottom, padLeft, padRight, depthwise 0|1]. */
  conv2d(x: Handle, filter: Handle, opts: number[], bias: Handle, activation: number, alpha: number, prelu: Handle): Handle;
  conv2dBackpropInput(dy: Handle, filter: Handle, inShape: number[], opts: number[]): Handle;
  conv2dBackpropFilter(x: Handle, dy: Handle, filterShape: number[], opts: number[]): Handle;
  /** op 0 max, 1 avg; opts = [kh, kw, strideH, strideW, padTop, padBottom, padLeft, padRight]. */
  pool(op: number, x: Handle, opts: number[]): Handle;
  poolGrad(op: number, dy: Handle, x: Handle, opts: number[]): Handle;
  matmul(
    a: Handle, b: Handle, aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean,
    bias: Handle, activation: number, alpha: number, prelu: Handle, outShape: number[],
  ): Handle;
  batchNorm(x: Handle, mean: Handle, variance: Handle, offset: Handle, scale: Handle, eps: number): Handle;
  batchNormTrain(x: Handle, gamma: Handle, beta: Handle, eps: number): Handle[];
  batchNormTrainGrad(x: Handle, dy: Handle, mean: Handle, variance: Handle, gamma: Handle, dMean: Handle, dVariance: Handle, eps: number): Handle[];
  setNumThreads(n: number, adaptive: boolean): number;
  threadStatus(): number[];
  /** TF32 in cuDNN convolutions and cuBLAS matmuls, and cuDNN's benchmark mode (CUDA only). */
  setTf32(convolutions: boolean, matmuls: boolean, benchmark: boolean): void;
}

export const RESIDENT_ADDON_FILE = path.join("native", "build", "torch_resident.node");

/** Candidate addon paths: $TL_RESIDENT_ADDON, then native/build/ in this file's ancestors and the cwd's. */
export function residentAddonCandidates(): string[] {
  return candidatePaths(RESIDENT_ADDON_FILE, "TL_RESIDENT_ADDON");
}

export function loadResidentAddon(): { addon?: ResidentAddon; file?: string; reason?: string } {
  return loadAddonFile<ResidentAddon>(residentAddonCandidates(), "opNames", "resident addon",
    "resident addon not built (a libtorch is needed: apt-get install libtorch-dev or pip install torch, then native/build.sh)");
}
