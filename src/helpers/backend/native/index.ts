// Optional native tfjs backend "torch": the pure-JS cpu backend (MathBackendCPU) with
// its hot kernels (convolutions and their gradients, matmul, batch norm) replaced by
// libtorch/ATen calls through native/build/torch_kernels.node. Everything not
// replaced, and every case a native kernel does not cover, runs the stock cpu code.
import * as os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { integerSetting, switchSetting } from "../../config";
import { loadAddon, type TorchAddon } from "./addon";
import { registerCopyKernels } from "./copyKernels";
import { addFrugalBackprop } from "./frugalBackprop";
import { trackAddonOutputs, withBufferRecycling } from "./recycling";
import { patchBatchNormalization, patchDense, patchReLU6, registerBatchNormTrainGradient } from "./layers";
import { fallbackCounts, gradientKernels, nativeKernels, tuning, withFallback } from "./kernels";
import { installFastGradients } from "./gradients";

export interface NativeBackendStatus {
  ok: boolean;
  /** Backend name registered with tfjs when ok (e.g. "torch"). */
  name?: string;
  /** e.g. "libtorch 1.13.1 (ATen, 2 threads)". */
  detail?: string;
  /** Why it is unavailable, when not ok. */
  reason?: string;
}

export const NATIVE_BACKEND_NAME = "torch";

let cached: NativeBackendStatus | undefined;

let nativeNames: string[] = [];
/** Per kernel, how many calls on "torch" fell back to the cpu code (unsupported layout/dtype/shape). */
export function nativeFallbackCounts(reset = false): Record<string, number> {
  const out = { ...fallbackCounts };
  if (reset) for (const k of Object.keys(fallbackCounts)) delete fallbackCounts[k];
  return out;
}
/** Kernel names that run natively on "torch" (the rest are the cpu backend's). */
export function nativeKernelNames(): string[] {
  return [...nativeNames];
}

let registeredAddon: TorchAddon | undefined;

function register(rawAddon: TorchAddon): void {
  registeredAddon = rawAddon;
  // The cpu backend's class, taken from the live instance so it is the same tfjs-core copy.
  const cpu = tf.findBackend("cpu");
  if (!cpu) throw new Error("tfjs cpu backend is not registered");
  const CpuBackend = cpu.constructor as new () => tf.KernelBackend;
  // Dead output buffers go back to the addon's pool (off with TL_TORCH_POOL_MB=0).
  const { addon, owned } = trackAddonOutputs(rawAddon);
  const Backend = integerSetting("TL_TORCH_POOL_MB") === 0 ? CpuBackend : withBufferRecycling(CpuBackend, addon, owned);
  // Priority below wasm/cpu defaults: the caller (or TL_BACKEND) opts in with setBackend.
  if (!tf.registerBackend(NATIVE_BACKEND_NAME, () => new Backend(), 0)) {
    throw new Error(`tfjs refused to register backend "${NATIVE_BACKEND_NAME}"`);
  }
  const cpuKernels = new Map<string, tf.KernelConfig>();
  for (const k of tf.getKernelsForBackend("cpu")) {
    cpuKernels.set(k.kernelName, k);
    tf.registerKernel({ ...k, backendName: NATIVE_BACKEND_NAME });
  }
  for (const [name, native] of Object.entries(nativeKernels(addon))) {
    const cpuKernel = cpuKernels.get(name);
    if (cpuKernel) tf.unregisterKernel(name, NATIVE_BACKEND_NAME);
    tf.registerKernel({ kernelName: name, backendName: NATIVE_BACKEND_NAME, kernelFunc: withFallback(name, native, cpuKernel?.kernelFunc) });
  }
  for (const [name, kernelFunc] of Object.entries(gradientKernels(addon))) {
    tf.registerKernel({ kernelName: name, backendName: NATIVE_BACKEND_NAME, kernelFunc });
  }
  registerCopyKernels(NATIVE_BACKEND_NAME, addon, () => tuning.small); // Slice/PadV2 (MobileNetV2 pads at 224)
  installFastGradients(NATIVE_BACKEND_NAME);
  registerBatchNormTrainGradient();
  // Activations and gradients freed node by node during backprop (TL_FRUGAL_BACKPROP=0: tfjs' own walk).
  if (switchSetting("TL_FRUGAL_BACKPROP", true)) addFrugalBackprop(NATIVE_BACKEND_NAME);
  patchBatchNormalization(NATIVE_BACKEND_NAME);
  patchReLU6(NATIVE_BACKEND_NAME);
  patchDense(NATIVE_BACKEND_NAME);
  nativeNames = [...Object.keys(nativeKernels(addon)), ...Object.keys(gradientKernels(addon))];
}

/** Register the native (libtorch) tfjs backend if its addon was built; never throws. */
export function tryRegisterNativeBackend(): NativeBackendStatus {
  if (cached) return cached;
  const { addon, reason } = loadAddon();
  if (!addon) return (cached = { ok: false, reason });
  try {
    // TL_TORCH_THREADS pins the count; by default it is every core, fewer while other processes load them.
    const pinned = integerSetting("TL_TORCH_THREADS");
    addon.setNumThreads(pinned ?? (os.cpus().length || 1), pinned === undefined);
    if (!tf.findBackend(NATIVE_BACKEND_NAME)) register(addon);
    return (cached = { ok: true, name: NATIVE_BACKEND_NAME, detail: addon.info() });
  } catch (e) {
    try {
      tf.removeBackend(NATIVE_BACKEND_NAME);
      for (const k of tf.getKernelsForBackend(NATIVE_BACKEND_NAME)) tf.unregisterKernel(k.kernelName, NATIVE_BACKEND_NAME);
    } catch {
      /* best effort: a half-registered backend is never selected by default (priority 0) */
    }
    return (cached = { ok: false, reason: `native backend registration failed: ${(e as Error).message}` });
  }
}

export { addFrugalBackprop, setFrugalBackprop } from "./frugalBackprop";
export { recyclingStats } from "./recycling";

/**
 * Empty the addon's output-buffer pool (a no-op without the addon). The pool keeps a whole training step's dead
 * buffers for the next step; the helpers call this when a training run or a feature extraction ends, so memory
 * is not held while the notebook does something else.
 */
export function releaseNativeBuffers(): void {
  registeredAddon?.poolStats(true);
}

/** Run `job` (a training run, a feature extraction) and empty the buffer pool when it ends, however it ends. */
export async function releasingNativeBuffers<T>(job: () => Promise<T>): Promise<T> {
  try {
    return await job();
  } finally {
    releaseNativeBuffers();
  }
}

/**
 * ATen's thread count: `threads` now, `maxThreads` allowed, whether it adapts to other processes' CPU load and
 * that load (in cores, over the last half-second window). Undefined without the addon.
 */
export function nativeThreadStatus(): { threads: number; maxThreads: number; adaptive: boolean; otherLoad: number } | undefined {
  if (!registeredAddon) return undefined;
  const [threads, maxThreads, adaptive, otherLoad] = registeredAddon.threadStatus();
  return { threads, maxThreads, adaptive: adaptive === 1, otherLoad };
}

/**
 * The addon's output-buffer pool: bytes held, cap, reuse hits and misses; and how many convolution outputs ATen
 * computed straight into their JS buffer (`directOutputs`) or into its own memory and then copied (`copiedOutputs`).
 * Undefined without the addon.
 */
export function nativePoolStats(clear = false):
  | { pooledBytes: number; capBytes: number; hits: number; misses: number; recycled: number; dropped: number; directOutputs: number; copiedOutputs: number }
  | undefined {
  if (!registeredAddon) return undefined;
  const [pooledBytes, capBytes, hits, misses, recycled, dropped, directOutputs, copiedOutputs] = registeredAddon.poolStats(clear);
  return { pooledBytes, capBytes, hits, misses, recycled, dropped, directOutputs, copiedOutputs };
}
