// Kernels the resident backend has no native version of run on a private tfjs cpu backend: the inputs are copied out of
// ATen, the cpu kernel runs, the outputs are copied back in. Every such call is counted (kernel name → calls, bytes
// copied), so the bench and the tests can show that a training step makes none.
import * as tf from "@tensorflow/tfjs";
import type { ResidentBackend } from "./backend";
import { Unsupported } from "../native/kernels";

export interface FallbackCount {
  calls: number;
  /** Bytes copied out of and back into the device. */
  bytes: number;
}

const counts = new Map<string, FallbackCount>();

/** Kernels that ran through the cpu fallback since the last reset, with their calls and copied bytes. */
export function residentFallbacks(reset = false): Record<string, FallbackCount> {
  const out: Record<string, FallbackCount> = {};
  for (const [k, v] of counts) out[k] = { ...v };
  if (reset) counts.clear();
  return out;
}

// A native kernel throws UNSUPPORTED (the torch backend's marker, a shared non-Error: no stack trace) for a case it
// does not cover (an odd layout, dtype or attribute): the call then takes the counted fallback.
export { UNSUPPORTED } from "../native/kernels";

type KernelArgs = Parameters<tf.KernelFunc>[0];
type KernelResult = tf.TensorInfo | tf.TensorInfo[];
type CpuBackend = tf.KernelBackend & { firstUse?: boolean };

let privateCpu: CpuBackend | undefined;
/** A cpu backend of our own (not the registered one, whose data map the engine manages). */
function cpuBackend(): CpuBackend {
  if (!privateCpu) {
    const registered = tf.findBackend("cpu");
    if (!registered) throw new Error("the tfjs cpu backend is not registered; the resident backend's fallback needs it");
    privateCpu = new (registered.constructor as new () => CpuBackend)();
    privateCpu.firstUse = false; // no "install tfjs-node" banner
  }
  return privateCpu;
}

const bytesOf = (v: unknown): number =>
  ArrayBuffer.isView(v) ? v.byteLength : Array.isArray(v) ? v.reduce((n: number, s: Uint8Array) => n + s.length, 0) : 0;

/** Runs the cpu kernel `kernel` on copies of the inputs and returns copies of its outputs on `args.backend`. */
export function runOnCpu(kernel: tf.KernelConfig, args: KernelArgs): KernelResult {
  const backend = args.backend as ResidentBackend;
  const cpu = cpuBackend();
  const made: object[] = [];
  let bytes = 0;
  const copyIn = (t: tf.TensorInfo): tf.TensorInfo => {
    const values = backend.readSync(t.dataId);
    bytes += bytesOf(values);
    const dataId = cpu.write(values, t.shape, t.dtype);
    made.push(dataId);
    return { dataId, shape: t.shape, dtype: t.dtype };
  };
  // Concat, AddN and friends take an array of inputs; keep it an array.
  const inputs = Array.isArray(args.inputs)
    ? (args.inputs as tf.TensorInfo[]).map(copyIn)
    : Object.fromEntries(Object.entries(args.inputs).filter(([, t]) => t != null).map(([k, t]) => [k, copyIn(t as tf.TensorInfo)]));
  try {
    const out = kernel.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend: cpu, attrs: args.attrs });
    const outs = Array.isArray(out) ? out : [out];
    const results = outs.map((o) => {
      made.push(o.dataId);
      const values = cpu.readSync(o.dataId) as Float32Array | Int32Array | Uint8Array | Uint8Array[];
      bytes += bytesOf(values);
      return backend.makeTensorInfo(o.shape, o.dtype, values);
    });
    return Array.isArray(out) ? results : results[0];
  } finally {
    for (const id of new Set(made)) cpu.disposeData(id, true);
    const c = counts.get(kernel.kernelName) ?? { calls: 0, bytes: 0 };
    c.calls++;
    c.bytes += bytes;
    counts.set(kernel.kernelName, c);
  }
}

/** A native kernel that takes the counted fallback when it throws UNSUPPORTED (and there is a cpu kernel). */
export function withFallback(native: (args: KernelArgs) => KernelResult, cpuKernel: tf.KernelConfig | undefined): tf.KernelFunc {
  return (args) => {
    try {
      return native(args);
    } catch (e) {
      if (e instanceof Unsupported && cpuKernel) return runOnCpu(cpuKernel, args);
      if (e instanceof Unsupported) throw new Error("resident backend: unsupported case of a kernel with no cpu version");
      throw e;
    }
  };
}
