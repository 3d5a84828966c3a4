// The device-resident libtorch backend: tensors live in ATen, kernels dispatch to ATen, values reach JS only when read.
// Registered as "torch-cuda" when the addon's libtorch has CUDA and a GPU answers, and as "torch-resident" (the same
// code on the CPU) always. Every kernel of tfjs' cpu backend is registered: natively where ./*Kernels.ts has it,
// else through the counted copy of ./fallback (residentFallbacks() lists them).
import * as os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { integerSetting, switchSetting } from "../../config";
import { loadResidentAddon, type ResidentAddon, type ResidentInfo } from "./addon";
import { ResidentBackend } from "./backend";
import { residentFallbacks, runOnCpu, withFallback } from "./fallback";
import { elementwiseKernels, bookkeepingKernels } from "./elementwiseKernels";
import { shapeKernels } from "./shapeKernels";
import { nnKernels } from "./nnKernels";
import type { NativeKernel } from "./kernelArgs";
import { installFastGradients } from "../native/gradients";
import { addFrugalBackprop } from "../native/frugalBackprop";
import { patchBatchNormalization, patchDense, patchReLU6, registerBatchNormTrainGradient } from "../native/layers";

export const RESIDENT_CPU_BACKEND = "torch-resident";
export const RESIDENT_CUDA_BACKEND = "torch-cuda";

export interface ResidentBackendStatus {
  ok: boolean;
  /** Backends registered: "torch-resident", and "torch-cuda" when a GPU answered. */
  names: string[];
  /** The addon's libtorch and CUDA build, e.g. "libtorch 2.11.0, CUDA 13.0, CUDA available". */
  detail?: string;
  info?: ResidentInfo;
  /** The GPU's name when "torch-cuda" is registered. */
  gpu?: string;
  /** Why nothing (or no CUDA backend) was registered. */
  reason?: string;
}

let cached: ResidentBackendStatus | undefined;
let loaded: ResidentAddon | undefined;

/** Every kernel name the resident backends run natively (the rest of the cpu backend's take the fallback). */
export function residentKernelNames(): string[] {
  return loaded ? Object.keys(allKernels(loaded)) : [];
}

function allKernels(addon: ResidentAddon): Record<string, NativeKernel> {
  return { ...elementwiseKernels(addon), ...bookkeepingKernels(addon), ...shapeKernels(addon), ...nnKernels(addon) };
}

function register(name: string, addon: ResidentAddon, device: number, deviceName: string): void {
  if (!tf.registerBackend(name, () => new ResidentBackend(addon, device, deviceName), 0)) {
    throw new Error(`tfjs refused to register backend "${name}"`);
  }
  const native = allKernels(addon);
  const cpuKernels = new Map(tf.getKernelsForBackend("cpu").map((k) => [k.kernelName, k]));
  for (const [kernelName, k] of cpuKernels) {
    const impl = native[kernelName];
    tf.registerKernel({ kernelName, backendName: name, kernelFunc: impl ? withFallback(impl, k) : (args) => runOnCpu(k, args) });
  }
  // Kernels with no cpu twin: the gradient helpers and the fused training batch norm.
  for (const [kernelName, impl] of Object.entries(native)) {
    if (!cpuKernels.has(kernelName)) tf.registerKernel({ kernelName, backendName: name, kernelFunc: withFallback(impl, undefined) });
  }
  installFastGradients(name);
  registerBatchNormTrainGradient();
  if (switchSetting("TL_FRUGAL_BACKPROP", true)) addFrugalBackprop(name);
  patchBatchNormalization(name);
  patchReLU6(name);
  patchDense(name);
}

/**
 * Register the resident backends if the addon was built; never throws. "torch-cuda" needs a CUDA build of libtorch
 * (native/build.sh prefers one) and a GPU that answers; "torch-resident" is registered in any case.
 */
export function tryRegisterResidentBackends(): ResidentBackendStatus {
  if (cached) return cached;
  const { addon, reason } = loadResidentAddon();
  if (!addon) return (cached = { ok: false, names: [], reason });
  try {
    const pinned = integerSetting("TL_TORCH_THREADS");
    addon.setNumThreads(pinned ?? (os.cpus().length || 1), pinned === undefined);
    const names: string[] = [];
    let gpu: string | undefined;
    let cudaReason: string | undefined;
    if (!tf.findBackend(RESIDENT_CPU_BACKEND)) register(RESIDENT_CPU_BACKEND, addon, -1, "CPU");
    names.push(RESIDENT_CPU_BACKEND);
    if (addon.info().cudaAvailable) {
      gpu = addon.init("cuda:0");
      if (!tf.findBackend(RESIDENT_CUDA_BACKEND)) register(RESIDENT_CUDA_BACKEND, addon, 0, gpu);
      names.push(RESIDENT_CUDA_BACKEND);
    } else {
      cudaReason = addon.info().cuda ? "libtorch has CUDA, but no GPU answered" : "the addon's libtorch is a CPU build";
    }
    loaded = addon;
    const info = addon.info();
    return (cached = { ok: true, names, detail: info.summary, info, gpu, reason: cudaReason });
  } catch (e) {
    for (const name of [RESIDENT_CPU_BACKEND, RESIDENT_CUDA_BACKEND]) {
      try {
        if (tf.findBackend(name)) tf.removeBackend(name);
        for (const k of tf.getKernelsForBackend(name)) tf.unregisterKernel(k.kernelName, name);
      } catch {
        /* best effort: a half-registered backend is never chosen by priority (0) */
      }
    }
    return (cached = { ok: false, names: [], reason: `resident backend registration failed: ${(e as Error).message}` });
  }
}

/**
 * The resident backends' state: live native tensors (all devices), the kernels that took the counted cpu fallback
 * since the last reset (name → calls, bytes copied) — a training step should list none. Undefined without the addon.
 */
export function residentStats(reset = false): { liveTensors: number; fallbacks: ReturnType<typeof residentFallbacks> } | undefined {
  if (!loaded) return undefined;
  return { liveTensors: loaded.liveHandles(), fallbacks: residentFallbacks(reset) };
}

/**
 * CUDA float32 precision: TF32 in convolutions and matmuls (PyTorch's defaults: convolutions on, matmuls off) and
 * cuDNN's benchmark mode (on by default: it may pick FFT/Winograd algorithms). All off gives results within 1e-4 of the
 * CPU's (the kernel tests). No effect on the CPU.
 */
export function setResidentCudaPrecision(opts: { tf32Convolutions: boolean; tf32Matmuls: boolean; benchmark: boolean }): void {
  loaded?.setTf32(opts.tf32Convolutions, opts.tf32Matmuls, opts.benchmark);
}

export { residentFallbacks };
export type { FallbackCount } from "./fallback";
export { ResidentBackend } from "./backend";
