/** Save trained models in TF.js format (browser-loadable) plus a metadata.json describing how to use them. */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";
import { atomicWrite, fileIOHandler, loadLayersModelFromDir } from "./io";
import type { PreprocessingSpec } from "./zoo";

export interface TrainedModelMetadata {
  /** Class names in output order. */
  classes: string[];
  /** How to turn [0, 255] RGB pixels into model input. */
  preprocessing?: PreprocessingSpec | "none";
  /** Input size in pixels (square), when an image model. */
  inputSize?: number;
  /** Final metrics, e.g. { val_acc: 0.93 }. */
  metrics?: Record<string, number>;
  /** Backbone zoo name, when transfer learning. */
  backbone?: string;
  /** Anything else worth keeping (hyper-parameters, dataset name). */
  extra?: Record<string, unknown>;
  /** Filled in on save. */
  savedAt?: string;
  tfjsVersion?: string;
}

/** Write `dir/model.json`, `dir/weights.bin` and `dir/metadata.json`. */
export async function saveTrainedModel(model: tf.LayersModel, dir: string, metadata: TrainedModelMetadata): Promise<string> {
  if (!Array.isArray(metadata.classes)) throw new Error("saveTrainedModel: metadata.classes (class names in output order) is required.");
  const outUnits = model.outputs[0].shape[model.outputs[0].shape.length - 1];
  if (outUnits != null && metadata.classes.length !== outUnits) {
    throw new Error(`saveTrainedModel: model has ${outUnits} outputs but metadata.classes lists ${metadata.classes.length} names.`);
  }
  await model.save(fileIOHandler(dir));
  const meta: TrainedModelMetadata = { ...metadata, savedAt: new Date().toISOString(), tfjsVersion: tf.version.tfjs };
  atomicWrite(path.join(dir, "metadata.json"), JSON.stringify(meta, null, 2));
  return dir;
}

/** Load what saveTrainedModel wrote. */
export async function loadTrainedModel(dir: string): Promise<{ model: tf.LayersModel; metadata: TrainedModelMetadata }> {
  const metaFile = path.join(dir, "metadata.json");
  if (!fs.existsSync(metaFile)) throw new Error(`${dir} has no metadata.json: was it written by saveTrainedModel? (plain TF.js models load with loadLayersModelFromDir)`);
  const metadata = JSON.parse(fs.readFileSync(metaFile, "utf8")) as TrainedModelMetadata;
  const model = await loadLayersModelFromDir(path.join(dir, "model.json"));
  return { model, metadata };
}
