// Locating and loading the optional libtorch addon built by native/build.sh.
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import { switchSetting, textSetting } from "../../config";

/** The C N-API surface of native/torch_kernels.cc (all synchronous, float32 only). */
export interface TorchAddon {
  /** opts = [strideH, strideW, dilationH, dilationW, padTop, padBottom, padLeft, padRight, depthwise 0|1]. */
  conv2d(
    x: Float32Array, xShape: number[], filter: Float32Array, filterShape: number[], opts: number[],
    bias: Float32Array | null, activation: number, alpha: number,
  ): Float32Array;
  conv2dBackpropInput(
    dy: Float32Array, dyShape: number[], filter: Float32Array, filterShape: number[], inShape: number[], opts: number[],
  ): Float32Array;
  conv2dBackpropFilter(
    x: Float32Array, xShape: number[], dy: Float32Array, dyShape: number[], filterShape: number[], opts: number[],
  ): Float32Array;
  matmul(
    a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], transposeA: boolean, transposeB: boolean,
    bias: Float32Array | null, activation: number, alpha: number,
  ): Float32Array;
  batchNorm(
    x: Float32Array, mean: Float32Array, variance: Float32Array, scale: Float32Array | null,
    offset: Float32Array | null, channels: number, eps: number,
  ): Float32Array;
  /** Broadcasting binary op; op codes in kernels.ts (BINARY). Float32Array or Uint8Array (bool) in and out. */
  binary(op: number, a: Float32Array | Uint8Array, aShape: number[], b: Float32Array | Uint8Array, bShape: number[]): Float32Array | Uint8Array;
  /** Elementwise float op; op codes in kernels.ts (UNARY); p0/p1 are its attributes. */
  unary(op: number, x: Float32Array, p0: number, p1: number): Float32Array;
  /** 0 sum, 1 mean, 2 max, 3 min over `axes` (non-empty); result in kept-dims order. */
  reduce(op: number, x: Float32Array, shape: number[], axes: number[]): Float32Array;
  select(condition: Uint8Array, t: Float32Array, e: Float32Array, shape: number[]): Float32Array;
  clipGrad(dy: Float32Array, x: Float32Array, lo: number, hi: number): Float32Array;
  broadcastScale(x: Float32Array, xShape: number[], outShape: number[], scale: number): Float32Array;
  /** Constant padding (PadV2); paddings = [before0, after0, before1, after1, ...], all non-negative. */
  pad(x: Float32Array, shape: number[], paddings: number[], value: number): Float32Array;
  /** x[begin : begin + size] as a new row-major array (Slice). */
  slice(x: Float32Array, shape: number[], begin: number[], size: number[]): Float32Array;
  /** op 0 max, 1 avg; opts = [kh, kw, strideH, strideW, padTop, padBottom, padLeft, padRight]. */
  pool(op: number, x: Float32Array, xShape: number[], opts: number[]): Float32Array;
  poolGrad(op: number, dy: Float32Array, dyShape: number[], x: Float32Array, xShape: number[], opts: number[]): Float32Array;
  /** Training-mode batch norm over all but the last axis → [y, mean, variance (biased)]. */
  batchNormTrain(x: Float32Array, gamma: Float32Array, beta: Float32Array, channels: number, eps: number): Float32Array[];
  /** → [dx, dGamma, dBeta]; dMean/dVariance (upstream gradients of the mean/variance outputs) are optional. */
  batchNormTrainGrad(
    x: Float32Array, dy: Float32Array, mean: Float32Array, variance: Float32Array, gamma: Float32Array,
    dMean: Float32Array | null, dVariance: Float32Array | null, channels: number, eps: number,
  ): Float32Array[];
  /**
   * Offer the ArrayBuffer of an output this addon returned, once no tensor and no caller can see it,
   * for reuse by later outputs of the same byte size. True when pooled.
   */
  recycle(buffer: ArrayBuffer): boolean;
  /** [pooledBytes, capBytes, hits, misses, recycled, dropped, direct, copied]; `clear` empties the pool. */
  poolStats(clear?: boolean): number[];
  /** Most threads ATen may use; adaptive: use fewer while other processes keep cores busy. Returns the count now. */
  setNumThreads(n: number, adaptive?: boolean): number;
  /** [threads now, most threads, adaptive 0|1, other processes' load in cores over the last window]. */
  threadStatus(): number[];
  info(): string;
}

export const ADDON_FILE = path.join("native", "build", "torch_kernels.node");

/**
 * Candidate paths of an addon: the file named by the setting `explicitSetting` (TL_NATIVE_ADDON, TL_RESIDENT_ADDON), then
 * `file` (relative, e.g. native/build/x.node) in this module's ancestor folders and the cwd's.
 */
export function candidatePaths(file: string, explicitSetting: string): string[] {
  const out: string[] = [];
  const explicit = textSetting(explicitSetting);
  if (explicit) out.push(path.resolve(explicit));
  const starts = [typeof __dirname === "string" ? __dirname : undefined, process.cwd()];
  for (const start of starts) {
    if (!start) continue;
    let dir = start;
    for (let i = 0; i < 8; i++) {
      out.push(path.join(dir, file));
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return [...new Set(out)];
}

/** Candidate addon paths: $TL_NATIVE_ADDON, then native/build/ in this file's ancestors and the cwd's. */
export function addonCandidates(): string[] {
  return candidatePaths(ADDON_FILE, "TL_NATIVE_ADDON");
}

/**
 * Loads the first existing candidate addon that has `requiredFunction`; otherwise says why not (TL_NATIVE=0, not built
 * — `notBuilt` tells how to build it —, another file, or the loader's error).
 */
export function loadAddonFile<T>(candidates: string[], requiredFunction: string, what: string, notBuilt: string): { addon?: T; file?: string; reason?: string } {
  if (!switchSetting("TL_NATIVE", true)) return { reason: "disabled by TL_NATIVE=0" };
  const file = candidates.find((p) => fs.existsSync(p));
  if (!file) return { reason: notBuilt };
  try {
    // OMP_WAIT_POLICY is left to libgomp's default (workers spin briefly between parallel regions, as in
    // stock PyTorch). The addon's thread governor keeps that from stalling under CPU contention.
    const req = createRequire(path.join(process.cwd(), "noop.js"));
    const addon = req(file) as Record<string, unknown>;
    if (typeof addon[requiredFunction] !== "function") return { file, reason: `${file} is not the ${what}` };
    return { addon: addon as T, file };
  } catch (e) {
    return { file, reason: `failed to load ${file}: ${(e as Error).message.split("\n")[0]}` };
  }
}

export function loadAddon(): { addon?: TorchAddon; file?: string; reason?: string } {
  return loadAddonFile<TorchAddon>(addonCandidates(), "conv2d", "torch kernels addon", "native addon not built (apt-get install libtorch-dev && native/build.sh)");
}
