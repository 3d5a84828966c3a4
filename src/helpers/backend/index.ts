/**
 * Backend selection: pick the fastest tfjs backend that actually loads on this machine, for the job at hand.
 *
 * Order tried (first that loads wins, unless `TL_BACKEND` names one):
 *   0. "torch-cuda": the device-resident libtorch backend on a CUDA GPU (./resident), when native/build.sh found a
 *      CUDA build of libtorch (a pip torch) and a GPU answers. Its CPU flavour, "torch-resident", trains dense heads
 *      on cached features (twice torch's speed there) and is otherwise used only when forced
 *      (TL_BACKEND=torch-resident): "torch" below stays the CPU default for convolutions and inference until the
 *      resident one matches it on every row of `npm run bench`;
 *   1. `@tensorflow/tfjs-node-gpu` ("tensorflow" backend on CUDA),
 *   2. `@tensorflow/tfjs-node` ("tensorflow" backend on CPU, multithreaded),
 *   3. the native libtorch backend ("torch", via `tryRegisterNativeBackend()`) for every job: with its
 *      output-buffer pool it is the fastest in-process backend for training and inference alike (`npm run bench`
 *      measures it against the others on the machine at hand);
 *   4. without it, `wasm` (SIMD), with the composed convolution-gradient kernels of ./wasm registered so it can
 *      train convolutions too; whether it can is probed with a tiny conv gradient rather than assumed;
 *   5. the pure-JS `cpu` when wasm does not load or cannot back-propagate through convolutions.
 *
 * Probing (loading packages, activating, the gradient probe, the CUDA library check) happens once per backend and
 * process; later calls reuse the result and only switch the active backend.
 *
 * CUDA requirements of `@tensorflow/tfjs-node-gpu` 4.22 (it bundles libtensorflow 2.9.1):
 * CUDA 11.2 and cuDNN 8.1 (`libcudart.so.11.0`, `libcudnn.so.8` on the loader path, e.g. via
 * `ldconfig` or `LD_LIBRARY_PATH`), NVIDIA driver >= 450. When those libraries are missing,
 * libtensorflow only prints a warning and silently runs on the CPU; `setupBackend` detects that
 * and says so in `backendBanner()`.
 */
import * as tf from "@tensorflow/tfjs";
import * as os from "node:os";
import { execFileSync } from "node:child_process";
import { ENV, ConfigError } from "../config";
import { tryRegisterNativeBackend } from "./native";
import { RESIDENT_CPU_BACKEND, RESIDENT_CUDA_BACKEND, tryRegisterResidentBackends } from "./resident";
import { registerWasmTrainingKernels } from "./wasm/trainingKernels";
export { releaseNativeBuffers, releasingNativeBuffers, nativeThreadStatus } from "./native";
export { residentStats, residentFallbacks, type FallbackCount } from "./resident";

export type BackendPurpose = "training" | "inference";
/** Names accepted by `TL_BACKEND` / `setupBackend({ backend })`. */
export const BACKEND_NAMES: readonly string[] = ["tensorflow", "tensorflow-gpu", "torch", "torch-cuda", "torch-resident", "wasm", "cpu"];

export interface BackendInfo {
  /** tfjs backend name now active (`tf.getBackend()`): tensorflow, torch, wasm or cpu. */
  name: string;
  /** Where it came from, e.g. "@tensorflow/tfjs-node-gpu", "native addon", "@tensorflow/tfjs-backend-wasm". */
  source: string;
  purpose: BackendPurpose;
  /** True when chosen through TL_BACKEND or the `backend` option rather than automatically. */
  forced: boolean;
  /** Compute threads the backend uses (best knowledge). */
  threads: number;
  /** WASM SIMD support (undefined when not a wasm backend). */
  simd?: boolean;
  /** GPU model name when the backend runs on a GPU. */
  gpu?: string;
  /** Whether convolution gradients work on this backend (probed). */
  canTrainConvolutions: boolean;
  /** Human notes: fallbacks, warnings (e.g. "tfjs-node-gpu fell back to CPU: libcudnn.so.8 missing"). */
  notes: string[];
}

let current: BackendInfo | undefined;
/** `trainsConvolutions` of the setupBackend call that chose `current`. */
let currentTrainsConvolutions: boolean | undefined;

/** Backend info of the last `setupBackend`/`useBackendFor` call, if any. */
export function currentBackendInfo(): BackendInfo | undefined {
  return current;
}

function tryRequire(name: string): { ok: true; mod: any } | { ok: false; reason: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return { ok: true, mod: require(name) };
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0];
    return { ok: false, reason: msg };
  }
}

/** Run a tiny conv2d + depthwise conv gradient on the active backend; false when a kernel is missing. */
export function probeConvGradient(): boolean {
  try {
    tf.tidy(() => {
      const x = tf.ones([1, 4, 4, 2]);
      const k = tf.ones([3, 3, 2, 1]);
      const dk = tf.ones([3, 3, 2, 1]);
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.add(tf.conv2d(x as tf.Tensor4D, a as tf.Tensor4D, 1, "same").sum(), tf.depthwiseConv2d(x as tf.Tensor4D, b as tf.Tensor4D, 1, "same").sum()),
      )([k, dk]);
      g[0].dataSync();
      g[1].dataSync();
    });
    return true;
  } catch {
    return false;
  }
}

function sharedLibPresent(lib: string): boolean | undefined {
  try {
    const out = execFileSync("ldconfig", ["-p"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    if (out.includes(lib)) return true;
  } catch {
    /* no ldconfig: fall back to LD_LIBRARY_PATH scan */
  }
  const fs = require("node:fs") as typeof import("node:fs");
  const dirs = (process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean);
  for (const d of dirs) if (fs.existsSync(`${d}/${lib}`)) return true;
  return false;
}

/** The CUDA libraries tfjs-node-gpu 4.22 needs that the dynamic loader cannot find (`ldconfig -p`, LD_LIBRARY_PATH). */
export function missingCudaLibraries(): string[] {
  return ["libcudnn.so.8", "libcudart.so.11.0"].filter((l) => sharedLibPresent(l) === false);
}

function gpuName(): string | undefined {
  try {
    const out = execFileSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5000,
    });
    return out.split("\n")[0].trim() || undefined;
  } catch {
    return undefined;
  }
}

async function activate(name: string): Promise<boolean> {
  if (tf.findBackendFactory(name) == null && tf.findBackend(name) == null) return false;
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    // tfjs's CPU backends print a "install tfjs-node" banner on first use; our own banner already says
    // which backend runs and why, so mark it as shown.
    const b = tf.backend() as unknown as { firstUse?: boolean };
    if (b && typeof b.firstUse === "boolean") b.firstUse = false;
    return ok && tf.getBackend() === name;
  } catch {
    return false;
  }
}

interface Attempt {
  info?: BackendInfo;
  reason?: string;
}

async function probeTensorflow(gpuPackage: boolean, purpose: BackendPurpose, forced: boolean): Promise<Attempt> {
  const pkg = gpuPackage ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node";
  const r = tryRequire(pkg);
  if (!r.ok) return { reason: `${pkg} is not installed or failed to load (${r.reason})` };
  if (!(await activate("tensorflow"))) {
    return {
      reason:
        `${pkg} loaded but registered no 'tensorflow' backend with this copy of @tensorflow/tfjs ` +
        `(two tfjs versions installed? ${pkg} and @tensorflow/tfjs must both be 4.22.0)`,
    };
  }
  const notes: string[] = [];
  let gpu: string | undefined;
  if (gpuPackage) {
    // libtensorflow only warns when CUDA libraries are missing and continues on the CPU; detect that.
    const backend: any = tf.backend();
    let usingGpu: boolean | undefined;
    try {
      if (typeof backend.isUsingGpuDevice === "boolean") usingGpu = backend.isUsingGpuDevice;
      else if (backend.binding && typeof backend.binding.isUsingGpuDevice === "function") usingGpu = backend.binding.isUsingGpuDevice();
    } catch {
      usingGpu = undefined;
    }
    const missing = missingCudaLibraries();
    if (usingGpu === false || missing.length > 0) {
      notes.push(
        `tfjs-node-gpu is running on the CPU (silent fallback)` +
          (missing.length ? `: ${missing.join(", ")} not found; install CUDA 11.2 + cuDNN 8.1` : ""),
      );
    } else {
      gpu = gpuName() ?? "CUDA GPU";
    }
  }
  return {
    info: {
      name: "tensorflow",
      source: pkg,
      purpose,
      forced,
      threads: os.cpus().length,
      gpu,
      canTrainConvolutions: true,
      notes,
    },
  };
}

async function probeTorch(purpose: BackendPurpose, forced: boolean): Promise<Attempt> {
  let st;
  try {
    st = tryRegisterNativeBackend();
  } catch (e) {
    return { reason: `native backend registration threw: ${(e as Error).message}` };
  }
  if (!st.ok) return { reason: `native torch backend unavailable: ${st.reason ?? "unknown reason"}` };
  const name = st.name ?? "torch";
  if (!(await activate(name))) return { reason: `native backend '${name}' registered but could not be activated` };
  const m = /(\d+)\s*threads?/.exec(st.detail ?? "");
  return {
    info: {
      name,
      source: st.detail ? `native addon (${st.detail})` : "native addon",
      purpose,
      forced,
      threads: m ? Number(m[1]) : os.cpus().length,
      canTrainConvolutions: probeConvGradient(),
      notes: [],
    },
  };
}

/** The resident libtorch backend: "torch-cuda" (needs a CUDA libtorch and a GPU) or "torch-resident" (the CPU). */
async function probeResident(name: string, purpose: BackendPurpose, forced: boolean): Promise<Attempt> {
  const st = tryRegisterResidentBackends();
  if (!st.ok) return { reason: `resident libtorch backend unavailable: ${st.reason ?? "unknown reason"}` };
  if (!st.names.includes(name)) return { reason: `${name} unavailable: ${st.reason}` };
  if (!(await activate(name))) return { reason: `'${name}' registered but could not be activated` };
  const cuda = name === RESIDENT_CUDA_BACKEND;
  const info = st.info!;
  const build = `libtorch ${info.libtorch}${info.cuda ? `, CUDA ${info.cuda}` : ""}`;
  return {
    info: {
      name,
      source: cuda ? `${st.gpu}, ${build}` : `resident addon, ${build}`,
      purpose,
      forced,
      threads: info.threads,
      gpu: cuda ? st.gpu : undefined,
      canTrainConvolutions: true,
      notes: [],
    },
  };
}

async function probeWasm(purpose: BackendPurpose, forced: boolean): Promise<Attempt> {
  const r = tryRequire("@tensorflow/tfjs-backend-wasm");
  if (!r.ok) return { reason: `@tensorflow/tfjs-backend-wasm failed to load (${r.reason})` };
  // tfjs-backend-wasm 4.22 lacks some convolution gradients; these compose them from its own kernels.
  registerWasmTrainingKernels();
  if (!(await activate("wasm"))) return { reason: "the wasm backend failed to initialise" };
  let threads = 1;
  try {
    threads = r.mod.getThreadsCount?.() ?? 1;
  } catch {
    threads = 1;
  }
  const canTrain = probeConvGradient();
  const notes: string[] = [];
  if (!canTrain) notes.push("wasm has no convolution gradients: fine for inference and dense heads, not for conv fine-tuning");
  return {
    info: {
      name: "wasm",
      source: "@tensorflow/tfjs-backend-wasm",
      purpose,
      forced,
      threads,
      simd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT") as boolean,
      canTrainConvolutions: canTrain,
      notes,
    },
  };
}

async function probeCpu(purpose: BackendPurpose, forced: boolean): Promise<Attempt> {
  if (!(await activate("cpu"))) return { reason: "the cpu backend failed to initialise" };
  return {
    info: { name: "cpu", source: "@tensorflow/tfjs-backend-cpu (pure JS)", purpose, forced, threads: 1, canTrainConvolutions: true, notes: [] },
  };
}

/** Probe results per backend, so switching purposes later costs an activation, not another probe. */
const probed = new Map<string, Attempt>();

async function memoised(key: string, purpose: BackendPurpose, forced: boolean, probe: () => Promise<Attempt>): Promise<Attempt> {
  let a = probed.get(key);
  if (!a) {
    a = await probe();
    probed.set(key, a);
  } else if (a.info && !(await activate(a.info.name))) {
    return { reason: `the '${a.info.name}' backend loaded earlier but cannot be activated now` };
  }
  return a.info ? { info: { ...a.info, purpose, forced, notes: [...a.info.notes] } } : a;
}

const tryTensorflow = (gpuPackage: boolean, purpose: BackendPurpose, forced: boolean) =>
  memoised(gpuPackage ? "tensorflow-gpu" : "tensorflow", purpose, forced, () => probeTensorflow(gpuPackage, purpose, forced));
const tryTorch = (purpose: BackendPurpose, forced: boolean) => memoised("torch", purpose, forced, () => probeTorch(purpose, forced));
const tryResident = (name: string, purpose: BackendPurpose, forced: boolean) =>
  memoised(name, purpose, forced, () => probeResident(name, purpose, forced));
const tryWasm = (purpose: BackendPurpose, forced: boolean) => memoised("wasm", purpose, forced, () => probeWasm(purpose, forced));
const tryCpu = (purpose: BackendPurpose, forced: boolean) => memoised("cpu", purpose, forced, () => probeCpu(purpose, forced));

export interface SetupBackendOptions {
  /** "inference" (frozen forward passes, feature extraction) or "training" (back-propagation). Default "training". */
  purpose?: BackendPurpose;
  /** Force a backend; overrides TL_BACKEND. */
  backend?: string;
  /** Environment to read TL_BACKEND from (tests). */
  env?: NodeJS.ProcessEnv;
  /** Print the banner with console.log (default false). */
  verbose?: boolean;
  /**
   * For "training": whether gradients flow through convolutions (default true). Set false when training only a
   * dense head on cached features: then wasm need not back-propagate through convolutions to be chosen over cpu.
   */
  trainsConvolutions?: boolean;
}

/**
 * Activate the fastest backend that loads for `purpose` and return what was chosen.
 * `TL_BACKEND` (or `opts.backend`) forces one of BACKEND_NAMES; an unknown or unloadable name throws a
 * ConfigError that says why and how to fix it (never a silent fallback).
 */
export async function setupBackend(opts: SetupBackendOptions = {}): Promise<BackendInfo> {
  const purpose = opts.purpose ?? "training";
  const env = opts.env ?? process.env;
  const requested = (opts.backend ?? env[ENV.backend] ?? "").trim().toLowerCase();
  let info: BackendInfo | undefined;
  if (requested !== "") {
    if (!BACKEND_NAMES.includes(requested)) {
      throw new ConfigError(
        `Unknown backend '${requested}' in ${opts.backend ? "setupBackend({ backend })" : ENV.backend}. ` +
          `Use one of: ${BACKEND_NAMES.join(", ")}, or unset ${ENV.backend} for the automatic choice.`,
      );
    }
    let a: Attempt;
    if (requested === "tensorflow-gpu") a = await tryTensorflow(true, purpose, true);
    else if (requested === "tensorflow") {
      a = await tryTensorflow(true, purpose, true);
      if (!a.info) {
        const b = await tryTensorflow(false, purpose, true);
        a = b.info ? b : { reason: `${a.reason}; ${b.reason}` };
      }
    } else if (requested === "torch") a = await tryTorch(purpose, true);
    else if (requested === RESIDENT_CUDA_BACKEND || requested === RESIDENT_CPU_BACKEND) a = await tryResident(requested, purpose, true);
    else if (requested === "wasm") a = await tryWasm(purpose, true);
    else a = await tryCpu(purpose, true);
    if (!a.info) {
      const fix =
        requested.startsWith("tensorflow")
          ? "install @tensorflow/tfjs-node (or -gpu) 4.22.0 next to @tensorflow/tfjs"
          : requested === "torch"
            ? "build the native addon (see backend/native)"
            : requested === RESIDENT_CUDA_BACKEND
              ? "install a CUDA build of PyTorch (pip install torch) on a machine with an NVIDIA GPU, then native/build.sh"
              : requested === RESIDENT_CPU_BACKEND
                ? "build the native addons (apt-get install libtorch-dev, then native/build.sh)"
                : "reinstall dependencies";
      throw new ConfigError(`${ENV.backend}=${requested} cannot be used: ${a.reason}. Fix: ${fix}, or unset ${ENV.backend}.`);
    }
    info = a.info;
  } else {
    const reasons: string[] = [];
    const attempts = [
      () => tryResident(RESIDENT_CUDA_BACKEND, purpose, false),
      () => tryTensorflow(true, purpose, false),
      () => tryTensorflow(false, purpose, false),
    ];
    for (const attempt of attempts) {
      const a = await attempt();
      if (a.info) {
        info = a.info;
        break;
      }
      reasons.push(a.reason!);
    }
    // A dense head on cached features: per-step overhead, not FLOPs, is its cost, and the resident backend (tensors
    // stay in ATen) has half torch's (`npm run bench`, "train dense head": 1.9x torch, 1.2x PyTorch).
    if (!info && purpose === "training" && opts.trainsConvolutions === false) {
      const r = await tryResident(RESIDENT_CPU_BACKEND, purpose, false);
      if (r.info) info = r.info;
      else reasons.push(r.reason!);
    }
    // In process: torch first for every other job (fastest for both, `npm run bench`); without it, frozen
    // forward passes and dense heads go to wasm, convolution training to wasm if it can differentiate
    // convolutions (probed), else cpu.
    if (!info) {
      const t = await tryTorch(purpose, false);
      if (t.info) info = t.info;
      else reasons.push(t.reason!);
    }
    if (!info && (purpose === "inference" || opts.trainsConvolutions === false)) {
      const w = await tryWasm(purpose, false);
      if (w.info) info = w.info;
      else reasons.push(w.reason!);
    }
    if (!info) {
      const w = await tryWasm(purpose, false);
      if (w.info && (w.info.canTrainConvolutions || opts.trainsConvolutions === false)) info = w.info;
      else {
        const c = await tryCpu(purpose, false);
        if (!c.info) throw new Error(`No tfjs backend could be initialised: ${[...reasons, w.reason, c.reason].filter(Boolean).join("; ")}`);
        info = c.info;
        if (w.info) info.notes.push("cpu chosen for training: wasm cannot back-propagate through convolutions");
      }
    }
  }
  current = info;
  currentTrainsConvolutions = opts.trainsConvolutions;
  if (opts.verbose) console.log(backendBanner(info));
  return info;
}

/** One line: backend, threads, SIMD, GPU (or the CPU-fallback warning). */
export function backendBanner(info: BackendInfo | undefined = current): string {
  if (!info) return `backend: ${tf.getBackend() ?? "none"} (setupBackend() not called)`;
  const parts = [`backend: ${info.name} (${info.source})`, `for ${info.purpose}`, `${info.threads} thread${info.threads === 1 ? "" : "s"}`];
  if (info.simd !== undefined) parts.push(`SIMD ${info.simd ? "on" : "off"}`);
  if (info.gpu) parts.push(`GPU: ${info.gpu}`);
  if (info.forced) parts.push(`forced by ${ENV.backend}`);
  let line = parts.join(", ");
  if (info.notes.length) line += ` [${info.notes.join("; ")}]`;
  return line;
}

/**
 * Switch backend mid-notebook, e.g. `await useBackendFor("training")` after extracting features on wasm.
 * tfjs moves a tensor's data to the active backend the first time an op uses it (as long as the old
 * backend stays registered, which we never undo), so existing models keep working; call
 * `moveModelToActiveBackend(model)` to do that copy once, up front, instead of during the first step.
 * Creating models after switching is the simplest rule.
 */
export async function useBackendFor(purpose: BackendPurpose, opts: Omit<SetupBackendOptions, "purpose"> = {}): Promise<BackendInfo> {
  return setupBackend({ ...opts, purpose });
}

/**
 * Make the active backend the one the automatic choice picks for `purpose`, when the helpers chose the current one
 * (startNotebook / setupBackend without TL_BACKEND). A backend forced by TL_BACKEND, or one activated by hand with
 * `tf.setBackend`, is left alone, as is everything before any setupBackend call. `trainModel` and `extractFeatures`
 * call this with their own purpose, so notebooks don't switch backends themselves. Probes are memoised: a switch
 * costs an activation.
 */
export async function backendFor(purpose: BackendPurpose, opts: { trainsConvolutions?: boolean } = {}): Promise<void> {
  const cur = current;
  if (!cur || cur.forced || tf.getBackend() !== cur.name) return;
  const wantsConvolutions = purpose === "training" ? opts.trainsConvolutions !== false : undefined;
  const hasConvolutions = cur.purpose === "training" ? currentTrainsConvolutions !== false : undefined;
  if (cur.purpose === purpose && wantsConvolutions === hasConvolutions) return;
  await setupBackend({ purpose, trainsConvolutions: opts.trainsConvolutions });
}

/** Copy every weight of `model` onto the active backend (after `useBackendFor`). Returns the number of tensors copied. */
export function moveModelToActiveBackend(model: tf.LayersModel): number {
  const weights = model.weights;
  for (const w of weights) {
    const old = w.read();
    const copy = tf.tensor(old.dataSync() as Float32Array, old.shape, old.dtype);
    w.write(copy);
    copy.dispose();
  }
  return weights.length;
}
