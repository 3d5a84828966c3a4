/** Gradient reversal (Ganin & Lempitsky 2015): identity forward, gradient multiplied by -lambda backward. */
import * as tf from "@tensorflow/tfjs";

/** y = x forward; dL/dx = -lambda * dL/dy backward. */
export function gradientReversal(x: tf.Tensor, lambda = 1): tf.Tensor {
  // customGrad's generic signature is awkward for a one-input function; the cast keeps the public type simple.
  const f = tf.customGrad(((a: tf.Tensor) => ({
    value: a.clone(),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, -lambda),
  })) as any);
  return f(x);
}

export interface GradientReversalLayerArgs {
  lambda?: number;
  name?: string;
}

/** The same as a layer, usable inside tf.model / tf.sequential and serialisable (class "GradientReversal"). */
export class GradientReversalLayer extends tf.layers.Layer {
  static className = "GradientReversal";
  /** Scale of the reversed gradient; may be changed between steps (e.g. the DANN schedule). */
  lambda: number;
  constructor(args: GradientReversalLayerArgs = {}) {
    super({ name: args.name });
    this.lambda = args.lambda ?? 1;
  }
  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    return gradientReversal(x, this.lambda);
  }
  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }
  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), lambda: this.lambda };
  }
}
tf.serialization.registerClass(GradientReversalLayer);

/** Factory in the style of tf.layers.*: `gradientReversalLayer({ lambda: 0.5 }).apply(x)`. */
export function gradientReversalLayer(args: GradientReversalLayerArgs = {}): GradientReversalLayer {
  return new GradientReversalLayer(args);
}
