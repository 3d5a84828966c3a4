/**
 * PyTorch's AdaptiveAvgPool2d as a TF.js layer: output bin i averages input rows floor(i*H/out) .. ceil((i+1)*H/out)-1
 * (likewise for columns), so any input size gives the fixed output size AlexNet and VGG expect before their
 * classifier. Computed as two small matrix products (rows, then columns), which back-propagates with built-in ops.
 * Registered with tf.serialization, so models saved with it load through the helpers (a plain browser page must
 * register the class too).
 */
import * as tf from "@tensorflow/tfjs";

/** The [out, size] averaging matrix of torch's adaptive pooling along one axis. */
export function adaptivePoolMatrix(size: number, out: number): Float32Array {
  const m = new Float32Array(out * size);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * size) / out);
    const end = Math.ceil(((i + 1) * size) / out);
    for (let j = start; j < end; j++) m[i * size + j] = 1 / (end - start);
  }
  return m;
}

export interface AdaptiveAvgPool2dArgs {
  outputSize: [number, number];
  name?: string;
}

export class AdaptiveAvgPool2d extends tf.layers.Layer {
  static className = "AdaptiveAvgPool2d";
  readonly outputSize: [number, number];

  constructor(args: AdaptiveAvgPool2dArgs) {
    super({ name: args.name });
    this.outputSize = [args.outputSize[0], args.outputSize[1]];
  }

  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [s[0], this.outputSize[0], this.outputSize[1], s[3]];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    const [oh, ow] = this.outputSize;
    const [b, h, w, c] = x.shape;
    if (h === oh && w === ow) return tf.clone(x);
    return tf.tidy(() => {
      // rows: [H, B*W*C] -> [oh, B*W*C]
      let y = tf.matMul(tf.tensor2d(adaptivePoolMatrix(h, oh), [oh, h]), tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, b * w * c]));
      // columns: [W, B*oh*C] -> [ow, B*oh*C]
      y = tf.reshape(tf.transpose(tf.reshape(y, [oh, b, w, c]), [2, 1, 0, 3]), [w, b * oh * c]);
      y = tf.matMul(tf.tensor2d(adaptivePoolMatrix(w, ow), [ow, w]), y);
      return tf.transpose(tf.reshape(y, [ow, b, oh, c]), [1, 2, 0, 3]);
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), outputSize: this.outputSize };
  }
}
tf.serialization.registerClass(AdaptiveAvgPool2d);

/** `tf.layers`-style factory. */
export function adaptiveAvgPool2d(args: AdaptiveAvgPool2dArgs): AdaptiveAvgPool2d {
  return new AdaptiveAvgPool2d(args);
}
