// Data-movement and reduction kernels of the resident backend. Shapes and attribute parsing are tfjs' own
// (slice_util, backend_util, util), so results have tfjs' shapes; ATen moves the values.
import * as tf from "@tensorflow/tfjs";
import type { ResidentAddon } from "./addon";
import { UNSUPPORTED } from "./fallback";
import { attrsOf, backendOf, dtypeCode, handleOf, input, inputList, type NativeKernel } from "./kernelArgs";

const axesOf = (axis: unknown, shape: number[]) => tf.util.parseAxisParam(axis as number | number[], shape);

/** Output dtype per reduction, as tfjs' cpu kernels choose it. */
const REDUCE_DTYPE: Record<string, (x: tf.DataType) => tf.DataType> = {
  Sum: (d) => tf.backend_util.upcastType(d, "int32"), Prod: (d) => tf.backend_util.upcastType(d, "int32"),
  Mean: () => "float32", Max: (d) => d, Min: (d) => d, All: () => "bool", Any: () => "bool",
};

function reduceKernel(addon: ResidentAddon, name: string, op: number): NativeKernel {
  return (args) => {
    const b = backendOf(args);
    const x = input(args, "x");
    const a = attrsOf(args);
    const axes = axesOf(name === "Max" ? a.reductionIndices : a.axis, x.shape);
    const [outShape] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const shape = a.keepDims ? tf.backend_util.expandShapeToKeepDim(outShape, axes) : outShape;
    const dtype = REDUCE_DTYPE[name](x.dtype);
    return b.adopt(addon.reduce(op, handleOf(b, x), axes, Boolean(a.keepDims), dtypeCode(dtype)), shape, dtype);
  };
}

function argKernel(addon: ResidentAddon, isMax: boolean): NativeKernel {
  return (args) => {
    const b = backendOf(args);
    const x = input(args, "x");
    const [axis] = axesOf(attrsOf(args).axis, x.shape);
    return b.adopt(addon.argMinMax(isMax, handleOf(b, x), axis), x.shape.filter((_, i) => i !== axis), "int32");
  };
}

function cumulativeKernel(addon: ResidentAddon, isProduct: boolean): NativeKernel {
  return (args) => {
    const b = backendOf(args);
    const x = input(args, "x");
    const a = attrsOf(args);
    const dtype = tf.backend_util.upcastType(x.dtype, "int32");
    const [axis] = axesOf(a.axis, x.shape);
    return b.adopt(addon.cumulative(isProduct, handleOf(b, x), axis, Boolean(a.exclusive), Boolean(a.reverse), dtypeCode(dtype)), x.shape, dtype);
  };
}

/** tfjs' Range element count (rangeImpl), or 0 for an empty range. */
function rangeCount(start: number, stop: number, step: number): number {
  if (start === stop || (start < stop && step < 0) || (stop < start && step > 1)) return 0;
  return Math.abs(Math.ceil((stop - start) / step));
}

export function shapeKernels(addon: ResidentAddon): Record<string, NativeKernel> {
  const out: Record<string, NativeKernel> = {};
  addon.opNames().reduce.forEach((name, op) => (out[name] = reduceKernel(addon, name, op)));
  return {
    ...out,
    ArgMax: argKernel(addon, true),
    ArgMin: argKernel(addon, false),
    Cumsum: cumulativeKernel(addon, false),
    Cumprod: cumulativeKernel(addon, true),
    Transpose: (args) => {
      const b = backendOf(args);
      const x = input(args, "x");
      const perm = attrsOf(args).perm as number[];
      return b.adopt(addon.transpose(handleOf(b, x), perm), perm.map((p) => x.shape[p]), x.dtype);
    },
    Slice: (args) => {
      const b = backendOf(args);
      const x = input(args, "x");
      const a = attrsOf(args);
      const [begin, size] = tf.slice_util.parseSliceParams(x as tf.Tensor, a.begin as number[], a.size as number[]);
      tf.slice_util.assertParamsValid(x as tf.Tensor, begin, size);
      return b.adopt(addon.slice(handleOf(b, x), begin, size), size, x.dtype);
    },
    StridedSlice: (args) => {
      const b = backendOf(args);
      const x = input(args, "x");
      const a = attrsOf(args);
      const info = tf.slice_util.sliceInfo(
        x.shape, a.begin as number[], a.end as number[], a.strides as number[], a.beginMask as number, a.endMask as number,
        a.ellipsisMask as number, a.newAxisMask as number, a.shrinkAxisMask as number,
      );
      if (info.isIdentity) return b.adopt(addon.reshape(handleOf(b, x), info.finalShape), info.finalShape, x.dtype);
      const sizes = info.finalShapeSparse;
      if (sizes.length !== x.shape.length) throw UNSUPPORTED;
      return b.adopt(addon.stridedSlice(handleOf(b, x), info.begin, info.strides, sizes, info.finalShape), info.finalShape, x.dtype);
    },
    Concat: (args) => {
      const b = backendOf(args);
      const xs = inputList(args);
      const [axis] = axesOf(attrsOf(args).axis, xs[0].shape);
      const shape = tf.backend_util.computeOutShape(xs.map((t) => t.shape), axis);
      if (xs.some((t) => t.dtype !== xs[0].dtype)) throw UNSUPPORTED;
      return b.adopt(addon.concat(xs.map((t) => handleOf(b, t)), axis), shape, xs[0].dtype);
    },
    Pack: (args) => {
      const b = backendOf(args);
      const xs = inputList(args);
      const rank = xs[0].shape.length;
      let axis = Number(attrsOf(args).axis ?? 0);
      if (axis < 0) axis += rank + 1;
      if (xs.some((t) => t.dtype !== xs[0].dtype)) throw UNSUPPORTED;
      const shape = [...xs[0].shape.slice(0, axis), xs.length, ...xs[0].shape.slice(axis)];
      return b.adopt(addon.stack(xs.map((t) => handleOf(b, t)), axis), shape, xs[0].dtype);
    },
    Unpack: (args) => {
      const b = backendOf(args);
      const x = input(args, "value");
      const [axis] = axesOf(attrsOf(args).axis, x.shape);
      const shape = x.shape.filter((_, i) => i !== axis);
      return addon.unstack(handleOf(b, x), axis).map((h) => b.adopt(h, shape, x.dtype));
    },
    SplitV: (args) => {
      const b = backendOf(args);
      const x = input(args, "x");
      const a = attrsOf(args);
      const [axis] = axesOf(a.axis, x.shape);
      const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, a.numOrSizeSplits as number[], axis);
      return addon.split(handleOf(b, x), sizes, axis).map((h, i) => b.adopt(h, x.shape.map((d, j) => (j === axis ? sizes[i] : d)), x.dtype));
    },
    Tile: (args) => {
      const b = backendOf(args);
      const x = input(args, "x");
      const reps = attrsOf(args).reps as number[];
      return b.adopt(addon.tile(handleOf(b, x), reps), x.shape.map((d, i) => d * reps[i]), x.dtype);
    },
    PadV2: (args) => {
      const b = backendOf(args);
      const x = input(args, "x");
      const a = attrsOf(args);
      const paddings = a.paddings as Array<[number, number]>;
      if (paddings.some(([p, q]) => p < 0 || q < 0)) throw UNSUPPORTED;
      const shape = x.shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
      return b.adopt(addon.pad(handleOf(b, x), paddings.flat(), Number(a.constantValue ?? 0)), shape, x.dtype);
    },
    Reverse: (args) => {
      const b = backendOf(args);
      const x = input(args, "x");
      return b.adopt(addon.flip(handleOf(b, x), axesOf(attrsOf(args).dims, x.shape)), x.shape, x.dtype);
    },
    GatherV2: (args) => {
      const b = backendOf(args);
      const x = input(args, "x"), indices = input(args, "indices");
      const a = attrsOf(args);
      if (Number(a.batchDims ?? 0) !== 0) throw UNSUPPORTED;
      const [axis] = axesOf(a.axis, x.shape);
      const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
      return b.adopt(addon.gather(handleOf(b, x), handleOf(b, indices), axis), shape, x.dtype);
    },
    Range: (args) => {
      const b = backendOf(args);
      const a = attrsOf(args);
      const [start, stop, step] = [Number(a.start), Number(a.stop), Number(a.step)];
      const dtype = (a.dtype as tf.DataType) ?? "float32";
      const n = rangeCount(start, stop, step);
      return b.adopt(addon.range(start, step, n, dtypeCode(dtype), b.device), [n], dtype);
    },
    OneHot: (args) => {
      const b = backendOf(args);
      const indices = input(args, "indices");
      const a = attrsOf(args);
      const depth = Number(a.depth);
      const dtype = (a.dtype as tf.DataType) ?? "int32";
      const h = addon.oneHot(handleOf(b, indices), depth, Number(a.onValue ?? 1), Number(a.offValue ?? 0), dtypeCode(dtype));
      return b.adopt(h, [...indices.shape, depth], dtype);
    },
    Softmax: (args) => {
      const b = backendOf(args);
      const x = input(args, "logits");
      const dim = Number(attrsOf(args).dim ?? -1);
      return b.adopt(addon.softmax(handleOf(b, x), dim), x.shape, x.dtype);
    },
    TopK: (args) => {
      const b = backendOf(args);
      const x = input(args, "x");
      const a = attrsOf(args);
      const k = Number(a.k);
      if (x.dtype !== "float32" || k > x.shape[x.shape.length - 1]) throw UNSUPPORTED;
      const shape = [...x.shape.slice(0, -1), k];
      const [values, indices] = addon.topK(handleOf(b, x), k, a.sorted !== false);
      return [b.adopt(values, shape, x.dtype), b.adopt(indices, shape, "int32")];
    },
  };
}
