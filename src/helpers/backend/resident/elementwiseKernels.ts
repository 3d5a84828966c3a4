// Elementwise and bookkeeping kernels of the resident backend: unary and binary ops (named by the addon's op tables),
// the gradient helpers the shared gradient overrides call, casts, select, addN, identity/reshape, fills.
import * as tf from "@tensorflow/tfjs";
import type { ResidentAddon } from "./addon";
import { CLIP_GRAD_KERNEL, MEAN_GRAD_KERNEL } from "../native/kernels";
import { UNSUPPORTED } from "./fallback";
import {
  attrsOf, backendOf, dtypeCode, handleOf, input, inputList, sizeOf, type KernelArgs, type NativeKernel,
} from "./kernelArgs";

/** Output dtypes of unary kernels that differ from their input's (tfjs' cpu kernels keep the input's otherwise). */
const UNARY_DTYPE: Record<string, tf.DataType> = { Exp: "float32", IsFinite: "bool", IsInf: "bool", IsNan: "bool", LogicalNot: "bool" };
/** Numeric attributes [p0, p1] per unary kernel. */
const UNARY_PARAMS: Record<string, (a: Record<string, unknown>) => [number, number]> = {
  ClipByValue: (a) => [Number(a.clipValueMin), Number(a.clipValueMax)],
  LeakyRelu: (a) => [Number(a.alpha ?? 0.2), 0],
  Step: (a) => [Number(a.alpha ?? 0), 0],
};
/** Binary kernels with a fixed output dtype (the rest: tfjs' upcast of the inputs' dtypes). */
const BINARY_DTYPE: Record<string, tf.DataType> = {
  Greater: "bool", GreaterEqual: "bool", Less: "bool", LessEqual: "bool", Equal: "bool", NotEqual: "bool",
  LogicalAnd: "bool", LogicalOr: "bool", Prelu: "float32", EluGrad: "float32",
};
/** tfjs input names of binary kernels that do not call them a and b. */
const BINARY_INPUTS: Record<string, [string, string]> = { Prelu: ["x", "alpha"], EluGrad: ["dy", "y"] };

function unaryKernel(addon: ResidentAddon, name: string, op: number): NativeKernel {
  const params = UNARY_PARAMS[name];
  return (args) => {
    const b = backendOf(args);
    const x = input(args, "x");
    const out = UNARY_DTYPE[name] ?? x.dtype;
    const [p0, p1] = params ? params(attrsOf(args)) : [0, 0];
    return b.adopt(addon.unary(op, handleOf(b, x), dtypeCode(out), p0, p1), x.shape, out);
  };
}

function binaryKernel(addon: ResidentAddon, name: string, op: number): NativeKernel {
  const [na, nb] = BINARY_INPUTS[name] ?? ["a", "b"];
  return (args) => {
    const b = backendOf(args);
    const x = input(args, na), y = input(args, nb);
    const out = BINARY_DTYPE[name] ?? tf.backend_util.upcastType(x.dtype, y.dtype);
    const shape = tf.backend_util.assertAndGetBroadcastShape(x.shape, y.shape);
    return b.adopt(addon.binary(op, handleOf(b, x), handleOf(b, y), dtypeCode(out), 0, 0), shape, out);
  };
}

/** Unary and binary kernels by tfjs kernel name, as the addon lists them (plus the gradient helpers). */
export function elementwiseKernels(addon: ResidentAddon): Record<string, NativeKernel> {
  const names = addon.opNames();
  const out: Record<string, NativeKernel> = {};
  names.unary.forEach((name, op) => (out[name] = unaryKernel(addon, name, op)));
  names.binary.forEach((name, op) => (out[name] = binaryKernel(addon, name, op)));
  // The clip gradient is a binary op {dy, x} with the clip range as attributes.
  const clip = names.binary.indexOf("TorchClipGrad");
  out[CLIP_GRAD_KERNEL] = (args) => {
    const b = backendOf(args);
    const dy = input(args, "dy"), x = input(args, "x");
    const a = attrsOf(args);
    return b.adopt(addon.binary(clip, handleOf(b, dy), handleOf(b, x), 0, Number(a.clipValueMin), Number(a.clipValueMax)), x.shape, "float32");
  };
  // {dy} in keep-dims shape, {shape, scale}: dy broadcast to the input's shape, times 1/n.
  const affine = names.unary.indexOf("TorchAffine");
  out[MEAN_GRAD_KERNEL] = (args) => {
    const b = backendOf(args);
    const a = attrsOf(args);
    const shape = a.shape as number[];
    const wide = addon.broadcastTo(handleOf(b, input(args, "dy")), shape);
    try {
      return b.adopt(addon.unary(affine, wide, 0, Number(a.scale), 0), shape, "float32");
    } finally {
      addon.dispose(wide);
    }
  };
  return out;
}

/** Casts, select, addN, identity and reshape, fills. */
export function bookkeepingKernels(addon: ResidentAddon): Record<string, NativeKernel> {
  return {
    Identity: (args) => backendOf(args).share(input(args, "x")),
    Reshape: (args) => {
      const b = backendOf(args);
      const x = input(args, "x");
      const shape = tf.util.inferFromImplicitShape(attrsOf(args).shape as number[], sizeOf(x.shape));
      return b.adopt(addon.reshape(handleOf(b, x), shape), shape, x.dtype);
    },
    Cast: (args) => {
      const b = backendOf(args);
      const x = input(args, "x");
      const dtype = attrsOf(args).dtype as tf.DataType;
      if (dtype === x.dtype) return b.share(x);
      return b.adopt(addon.cast(handleOf(b, x), dtypeCode(dtype)), x.shape, dtype);
    },
    Select: (args) => {
      const b = backendOf(args);
      const c = input(args, "condition"), t = input(args, "t"), e = input(args, "e");
      const dtype = tf.backend_util.upcastType(t.dtype, e.dtype);
      if (dtype !== t.dtype || dtype !== e.dtype) throw UNSUPPORTED;
      return b.adopt(addon.where(handleOf(b, c), handleOf(b, t), handleOf(b, e)), t.shape, dtype);
    },
    AddN: (args) => {
      const b = backendOf(args);
      const xs = inputList(args);
      const dtype = xs.map((x) => x.dtype).reduce((p, q) => tf.backend_util.upcastType(p, q));
      return b.adopt(addon.addN(xs.map((x) => handleOf(b, x)), dtypeCode(dtype)), xs[0].shape, dtype);
    },
    ZerosLike: (args) => fillLike(addon, args, 0),
    OnesLike: (args) => fillLike(addon, args, 1),
    Fill: (args) => {
      const b = backendOf(args);
      const a = attrsOf(args);
      const dtype = (a.dtype as tf.DataType | undefined) ?? "float32";
      if (typeof a.value !== "number") throw UNSUPPORTED;
      const shape = a.shape as number[];
      return b.adopt(addon.fill(shape, a.value, dtypeCode(dtype), b.device), shape, dtype);
    },
  };
}

function fillLike(addon: ResidentAddon, args: KernelArgs, value: number) {
  const b = backendOf(args);
  const x = input(args, "x");
  return b.adopt(addon.fill(x.shape, value, dtypeCode(x.dtype), b.device), x.shape, x.dtype);
}
