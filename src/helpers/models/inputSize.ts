/**
 * Run a fully convolutional pretrained model (e.g. MobileNetV2 without its top) at another input size.
 * Keras-converted models fix the input shape in their topology (224x224 for the zoo's MobileNets), yet their
 * weights do not depend on it: rebuild the same topology with a new input shape and copy the weights across.
 */
import * as tf from "@tensorflow/tfjs";

/**
 * A copy of `model` whose input is `height` x `width` (default square). The weights are copied, so the new model
 * is independent of the old one. Throws when the model is not fully convolutional (a Flatten/Dense on the
 * spatial map would need a different weight shape).
 */
export async function withInputSize(model: tf.LayersModel, height: number, width: number = height): Promise<tf.LayersModel> {
  if (![height, width].every((v) => Number.isInteger(v) && v > 0)) throw new Error(`withInputSize: sizes must be positive integers, got ${height}x${width}.`);
  const inShape = model.inputs[0].shape;
  if (inShape.length !== 4) throw new Error(`withInputSize: expected an image model with [B, H, W, C] input, got [${inShape}].`);
  if (inShape[1] === height && inShape[2] === width) return model;
  const topology = model.toJSON(null, false) as any;
  const layers: any[] = topology.config?.layers ?? [];
  let changed = 0;
  for (const l of layers) {
    if (l.class_name === "InputLayer" && Array.isArray(l.config?.batch_input_shape)) {
      const s = l.config.batch_input_shape;
      l.config.batch_input_shape = [s[0] ?? null, height, width, s[3]];
      changed++;
    }
  }
  if (changed === 0) throw new Error(`withInputSize: model '${model.name}' has no InputLayer with a batch_input_shape to change.`);
  let resized: tf.LayersModel;
  try {
    resized = (await tf.models.modelFromJSON({ modelTopology: topology } as any)) as tf.LayersModel;
  } catch (e) {
    throw new Error(`withInputSize: model '${model.name}' cannot be rebuilt at ${height}x${width} (${(e as Error).message}).`);
  }
  const src = model.getWeights();
  const dst = resized.getWeights();
  if (src.length !== dst.length || src.some((w, i) => w.shape.join(",") !== dst[i].shape.join(","))) {
    resized.dispose();
    throw new Error(`withInputSize: model '${model.name}' is not fully convolutional: its weights change shape at ${height}x${width}.`);
  }
  resized.setWeights(src);
  return resized;
}
