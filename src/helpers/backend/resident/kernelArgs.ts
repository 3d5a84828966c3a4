// What every resident kernel needs: its arguments typed, the backend, handles in and tensors out, dtype codes.
import * as tf from "@tensorflow/tfjs";
import { DTYPE_CODE, type Handle, type NumericDtype } from "./addon";
import type { ResidentBackend } from "./backend";
import { UNSUPPORTED } from "./fallback";

export type KernelArgs = Parameters<tf.KernelFunc>[0];
export type KernelResult = tf.TensorInfo | tf.TensorInfo[];
export type NativeKernel = (args: KernelArgs) => KernelResult;
export type Attrs = Record<string, unknown>;

export const backendOf = (args: KernelArgs) => args.backend as ResidentBackend;
export const attrsOf = (args: KernelArgs) => (args.attrs ?? {}) as Attrs;
export const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** The addon's code for a dtype; strings and complex numbers take the fallback. */
export function dtypeCode(dtype: tf.DataType): number {
  const code = DTYPE_CODE[dtype as NumericDtype];
  if (code === undefined) throw UNSUPPORTED;
  return code;
}

/** The native handle of an input (strings and missing inputs take the fallback). */
export function handleOf(b: ResidentBackend, t: tf.TensorInfo | undefined | null): Handle {
  if (!t || !b.isNative(t)) throw UNSUPPORTED;
  return b.handle(t);
}

/** An optional input's handle, or -1. */
export const optHandle = (b: ResidentBackend, t: tf.TensorInfo | undefined | null): Handle => (t ? handleOf(b, t) : -1);

/** Input `name` of a kernel. */
export function input(args: KernelArgs, name: string): tf.TensorInfo {
  const t = (args.inputs as Record<string, tf.TensorInfo | undefined>)[name];
  if (!t) throw UNSUPPORTED;
  return t;
}

/** The inputs of an n-ary kernel (Concat, Pack, AddN), which tfjs passes as an array. */
export const inputList = (args: KernelArgs) => (Array.isArray(args.inputs) ? args.inputs : Object.values(args.inputs)) as tf.TensorInfo[];
