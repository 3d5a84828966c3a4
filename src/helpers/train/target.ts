/** What `trainModel` trains: a tf.LayersModel, or a forward function with its variables. */
import * as tf from "@tensorflow/tfjs";

/** A model given as a function: `forward(x, training)` returns predictions; `variables` are trained. */
export interface FunctionModel {
  forward(x: tf.Tensor, training: boolean): tf.Tensor;
  variables: tf.Variable[];
}
export type TrainTarget = tf.LayersModel | FunctionModel;

export function isLayersModel(t: TrainTarget): t is tf.LayersModel {
  return typeof (t as tf.LayersModel).apply === "function" && Array.isArray((t as tf.LayersModel).layers);
}

/** All state tensors of a target, in a stable order (for checkpoints). */
export function stateTensors(t: TrainTarget): { name: string; variable: tf.Variable }[] {
  if (isLayersModel(t)) return t.weights.map((w) => ({ name: w.originalName, variable: w.read() as tf.Variable }));
  return t.variables.map((v) => ({ name: v.name, variable: v }));
}
export function forward(t: TrainTarget, x: tf.Tensor, training: boolean): tf.Tensor {
  if (isLayersModel(t)) return t.apply(x, { training }) as tf.Tensor;
  return t.forward(x, training);
}
