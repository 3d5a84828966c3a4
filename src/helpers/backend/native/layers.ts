// Training-mode BatchNormalization on "torch": tfjs-layers computes it as tf.moments (Mean, Sub,
// Square, Mean) + tf.batchNorm, i.e. ~6 full-size kernels forward and ~15 backward per layer.
// Here one native kernel computes y, mean and variance, and one computes the gradient — what
// PyTorch's batch_norm does. Layers in any other configuration, or on other backends, run the
// original tfjs-layers code unchanged.
import * as tf from "@tensorflow/tfjs";
import { BN_TRAIN_GRAD_KERNEL, BN_TRAIN_KERNEL } from "./kernels";

interface LayerVar {
  read(): tf.Tensor;
  write(t: tf.Tensor): void;
}
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma?: LayerVar | null;
  beta?: LayerVar | null;
  movingMean: LayerVar;
  movingVariance: LayerVar;
}
type CallFn = (this: BatchNormLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
interface BatchNormProto {
  call: CallFn;
  torchPatched?: boolean;
}

/** Gradient of the fused kernel: saved = [x, gamma, mean, variance]; dys = [dy, dMean, dVariance]. */
export function registerBatchNormTrainGradient(): void {
  tf.registerGradient({
    kernelName: BN_TRAIN_KERNEL,
    inputsToSave: ["x", "gamma"],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [dy, dMean, dVariance] = dys as tf.Tensor[];
      const [x, gamma, mean, variance] = saved;
      const inputs: tf.NamedTensorMap = { x, dy, mean, variance, gamma, dMean, dVariance };
      const [dx, dGamma, dBeta] = tf.engine().runKernel(BN_TRAIN_GRAD_KERNEL, inputs, attrs) as tf.Tensor[];
      return { x: () => dx, gamma: () => tf.reshape(dGamma, gamma.shape), beta: () => tf.reshape(dBeta, gamma.shape) };
    },
  });
}

/** Backends whose layers take the fast paths below ("torch" and the resident backends register theirs). */
const fastPathBackends = new Set<string>();
const fast = () => fastPathBackends.has(tf.getBackend());

export function patchBatchNormalization(backendName: string): void {
  fastPathBackends.add(backendName);
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as BatchNormProto;
  if (proto.torchPatched) return;
  const original = proto.call;
  proto.call = function (inputs, kwargs) {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const axis = x ? (this.axis >= 0 ? this.axis : this.axis + x.rank) : -1;
    const c = x ? x.shape[x.rank - 1] : 0;
    const fits = (v: LayerVar | null | undefined) => {
      const t = v?.read();
      return !!t && t.dtype === "float32" && t.size === c;
    };
    if (
      !fast() || !kwargs?.training || !x || x.dtype !== "float32" || x.rank < 2 ||
      axis !== x.rank - 1 || !fits(this.gamma) || !fits(this.beta)
    ) {
      return original.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const gamma = this.gamma!.read(), beta = this.beta!.read();
      const [y, mean, variance] = tf.engine().runKernel(BN_TRAIN_KERNEL, { x, gamma, beta }, { varianceEpsilon: this.epsilon }) as tf.Tensor[];
      // Same moving-average update as tfjs-layers: v -= (v - value) * (1 - momentum).
      for (const [v, value] of [[this.movingMean, mean], [this.movingVariance, variance]] as const) {
        tf.tidy(() => {
          const orig = v.read();
          v.write(tf.sub(orig, tf.mul(tf.sub(orig, value), 1 - this.momentum)));
        });
      }
      return y;
    });
  };
  proto.torchPatched = true;
}

interface ReLULayer {
  maxValue?: number | null;
}
interface ReLUProto {
  call: (this: ReLULayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
  torchPatched?: boolean;
}

/**
 * tfjs-layers' ReLU(maxValue: 6) (MobileNet's activation) runs Relu then ClipByValue: two passes
 * forward and two gradient kernels backward. relu6 is the same function in one kernel each way.
 */
export function patchReLU6(backendName: string): void {
  fastPathBackends.add(backendName);
  const proto = Object.getPrototypeOf(tf.layers.reLU({ maxValue: 6 })) as ReLUProto;
  if (proto.torchPatched) return;
  const original = proto.call;
  proto.call = function (inputs, kwargs) {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    if (!fast() || this.maxValue !== 6 || !x || x.dtype !== "float32") return original.call(this, inputs, kwargs);
    return tf.relu6(x);
  };
  proto.torchPatched = true;
}

interface DenseLayer {
  kernel?: LayerVar | null;
  bias?: LayerVar | null;
  activation?: { apply(t: tf.Tensor): tf.Tensor } | null;
  invokeCallHook(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): void;
}
interface DenseProto {
  call: (this: DenseLayer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];
  torchPatched?: boolean;
}

/**
 * tfjs-layers' Dense uses tf.fused.matMul, whose custom gradient eagerly computes the gradient
 * of the input as well — a wasted matmul for a transfer head on frozen features. The same
 * layer as matMul + add + activation has lazy per-input gradients, so that product is skipped.
 */
export function patchDense(backendName: string): void {
  fastPathBackends.add(backendName);
  const proto = Object.getPrototypeOf(tf.layers.dense({ units: 1 })) as DenseProto;
  if (proto.torchPatched) return;
  const original = proto.call;
  proto.call = function (inputs, kwargs) {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const kernel = this.kernel?.read();
    if (!fast() || !x || x.rank !== 2 || x.dtype !== "float32" || !kernel || kernel.rank !== 2) {
      return original.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      this.invokeCallHook(inputs, kwargs);
      let out = tf.matMul(x, kernel);
      if (this.bias) out = tf.add(out, this.bias.read());
      return this.activation ? this.activation.apply(out) : out;
    });
  };
  proto.torchPatched = true;
}
