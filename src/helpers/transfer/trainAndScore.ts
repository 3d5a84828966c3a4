/** Train a classifier on one stream and report its accuracy on another: one row of a "which start is better" table. */
import type * as tf from "@tensorflow/tfjs";
import type { BatchStream } from "../types";
import { trainModel, type TrainOptions } from "../train/fit";
import { evaluateClassifier } from "../eval";

export interface TrainAndScoreResult {
  /** Accuracy on `test` after training, as a fraction. */
  accuracy: number;
  /** Wall time of training and evaluation. */
  seconds: number;
}

/** `trainModel(model, train, opts)`, then `evaluateClassifier(model, test, classes)`. */
export async function trainAndScore(
  model: tf.LayersModel,
  train: BatchStream,
  test: BatchStream,
  classes: string[],
  opts: TrainOptions,
): Promise<TrainAndScoreResult> {
  const out = model.outputs[0]?.shape;
  const units = out?.[out.length - 1];
  if (units !== classes.length) {
    throw new Error(`trainAndScore: the model '${model.name}' has ${units} outputs but ${classes.length} classes were given (${classes.join(", ")}); build it with numClasses: ${classes.length}.`);
  }
  const t0 = Date.now();
  await trainModel(model, train, opts);
  const accuracy = (await evaluateClassifier(model, test, classes)).accuracy;
  return { accuracy, seconds: (Date.now() - t0) / 1000 };
}
