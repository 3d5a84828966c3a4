// Gradient overrides shared by the "torch" and resident backends: fewer, fused kernels for the gradients of batch
// norm, the ReLU family, Square and Mean (each backend registers the helper kernels they call).
import * as tf from "@tensorflow/tfjs";
import {
  CLIP_GRAD_KERNEL, MEAN_GRAD_KERNEL, RELU6_GRAD_KERNEL, RELU_GRAD_KERNEL, SQUARE_GRAD_KERNEL, bnGradSupported,
} from "./kernels";

let installed = false;
type GradMap = ReturnType<tf.GradConfig["gradFunc"]>;
type FastGrad = (dy: tf.Tensor, saved: tf.Tensor[], attrs: tf.NamedAttrMap) => GradMap | null;

/** Backends whose gradients take the fast paths below. */
const fastBackends = new Set<string>();

/**
 * Gradients are global in tfjs (not per backend), so each override runs its fast path only
 * on the backends that registered the helper kernels and for supported inputs (returning null
 * otherwise), delegating to the original.
 */
function overrideGradient(kernelName: string, fast: FastGrad): void {
  const original = tf.getGradient(kernelName);
  if (!original || (original as { torchOverride?: boolean }).torchOverride) return;
  const config: tf.GradConfig & { torchOverride: boolean } = {
    ...original,
    torchOverride: true,
    gradFunc: (dy, saved, attrs) => {
      if (fastBackends.has(tf.getBackend()) && !Array.isArray(dy) && dy.dtype === "float32") {
        const g = fast(dy, saved, attrs);
        if (g) return g;
      }
      return original.gradFunc(dy, saved, attrs);
    },
  };
  tf.registerGradient(config);
}

const isF32 = (...ts: (tf.Tensor | undefined | null)[]) => ts.every((t) => !t || t.dtype === "float32");
const run = (name: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap = {}) =>
  tf.engine().runKernel(name, inputs, attrs) as tf.Tensor;

/**
 * Route the gradients of FusedBatchNorm, ClipByValue, Relu, Relu6, Square and Mean through the helper kernels
 * (CLIP_GRAD_KERNEL & co.) while `backendName` is active; the backend must register those kernels.
 */
export function installFastGradients(backendName: string): void {
  fastBackends.add(backendName);
  if (installed) return;
  installed = true;
  // Stock: Tile + 4 separate reductions per input. Here each input's gradient is built only when the tape asks
  // for it. A frozen BatchNorm (fine-tuning with the ImageNet statistics) needs dx alone: dy times a per-channel
  // gain, one pass over the activations instead of the five-output kernel's extra reads and reductions.
  overrideGradient("FusedBatchNorm", (dy, saved, attrs) => {
    const [x, mean, variance, scale] = saved;
    if (!isF32(x, mean, variance, scale) || !bnGradSupported(x, mean, variance, scale)) return null;
    const c = x.shape[x.rank - 1];
    const eps = Number(attrs.varianceEpsilon ?? 0.001);
    const inv = () => tf.rsqrt(tf.add(tf.reshape(variance, [c]), eps));
    const gain = () => (scale ? tf.mul(tf.reshape(scale, [c]), inv()) : inv());
    const rows = () => tf.reshape(dy, [-1, c]);
    const sumDy = () => tf.sum(rows(), 0);
    const sumDyXc = () => tf.sum(tf.mul(rows(), tf.sub(tf.reshape(x, [-1, c]), tf.reshape(mean, [c]))), 0);
    return {
      x: () => tf.mul(dy, gain()),
      mean: () => tf.reshape(tf.neg(tf.mul(gain(), sumDy())), mean.shape),
      variance: () => tf.reshape(tf.mul(tf.mul(gain(), tf.square(inv())), tf.mul(sumDyXc(), -0.5)), mean.shape),
      scale: () => tf.reshape(tf.mul(inv(), sumDyXc()), (scale ?? mean).shape),
      offset: () => tf.reshape(sumDy(), mean.shape),
    };
  });
  // Stock: GreaterEqual, LessEqual, LogicalAnd, ZerosLike, Select (the ReLU6 layer's clip).
  overrideGradient("ClipByValue", (dy, [x], attrs) =>
    isF32(x) ? { x: () => run(CLIP_GRAD_KERNEL, { dy, x }, attrs) } : null);
  // Stock: Step, Cast, Multiply.
  overrideGradient("Relu", (dy, [x]) => (isF32(x) ? { x: () => run(RELU_GRAD_KERNEL, { a: dy, b: x }) } : null));
  // Stock: LessEqual, Step, Multiply, Cast, Multiply.
  overrideGradient("Relu6", (dy, [x]) => (isF32(x) ? { x: () => run(RELU6_GRAD_KERNEL, { a: dy, b: x }) } : null));
  // Stock: Cast, Multiply, Multiply.
  overrideGradient("Square", (dy, [x]) => (isF32(x) ? { x: () => run(SQUARE_GRAD_KERNEL, { a: dy, b: x }) } : null));
  // Stock: Reshape, OnesLike-sized Fill, Multiply, RealDiv (all full size).
  overrideGradient("Mean", (dy, [x], attrs) => {
    if (!isF32(x)) return null;
    const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
    const reduceSize = axes.reduce((p, a) => p * x.shape[a], 1);
    const keep = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    return { x: () => run(MEAN_GRAD_KERNEL, { dy: tf.reshape(dy, keep) }, { shape: x.shape, scale: 1 / reduceSize }) };
  });
}

