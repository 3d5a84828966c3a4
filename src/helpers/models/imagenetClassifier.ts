/**
 * A zoo backbone together with its own 1000-class ImageNet classifier (MobileNet v1 ships with it), and the
 * ImageNet class names from the model folder's metadata.json, so a notebook can ask what the network already sees.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureDownloaded } from "../fetch";
import { loadLayersModelFromDir, ModelFormatError } from "./io";
import { backboneDir, backboneSpec, ensureModelFiles, type BackboneSpec } from "./zoo";

export interface ImageNetClassifier {
  /** Input image to the softmax over the 1000 classes. */
  model: tf.LayersModel;
  /** Class names in output order, e.g. "ant, emmet, pismire". */
  labels: string[];
  spec: BackboneSpec;
}

/** The first synonym of an ImageNet class name ("ant, emmet, pismire" -> "ant"). */
export function shortImageNetName(label: string): string {
  return label.split(",")[0].trim();
}

/** Read and check a metadata.json whose `labels` are the model's class names. */
export function readClassLabels(metadataFile: string, expected: number): string[] {
  let labels: unknown;
  try {
    labels = JSON.parse(fs.readFileSync(metadataFile, "utf8")).labels;
  } catch (e) {
    throw new ModelFormatError(`${metadataFile} is not readable JSON (${(e as Error).message}); delete it so it is downloaded again.`);
  }
  if (!Array.isArray(labels) || labels.length !== expected || !labels.every((l) => typeof l === "string")) {
    throw new ModelFormatError(`${metadataFile} must hold "labels": ${expected} strings (one per model output), found ${Array.isArray(labels) ? `${labels.length} entries` : typeof labels}; delete it so it is downloaded again.`);
  }
  return labels as string[];
}

/**
 * Load a zoo model whole, classifier included (e.g. "mobilenet_v1_0.75"), downloading model.json, its weights and
 * metadata.json into the cache when missing. Throws when the stored model has no 1000-way output.
 */
export async function loadImageNetClassifier(name: string): Promise<ImageNetClassifier> {
  const spec = backboneSpec(name);
  const dir = backboneDir(spec);
  const modelJson = await ensureModelFiles(spec.url, dir, spec.name);
  const metadataFile = path.join(dir, "metadata.json");
  if (!fs.existsSync(metadataFile)) await ensureDownloaded(new URL("metadata.json", spec.url).toString(), metadataFile, { name: `${spec.name} metadata.json` });
  const model = await loadLayersModelFromDir(modelJson);
  const outShape = model.outputs[0].shape;
  if (outShape.length !== 2 || outShape[1] !== 1000) {
    model.dispose();
    throw new ModelFormatError(`${spec.name} (${modelJson}) ends in [${outShape}], not a 1000-class ImageNet classifier; only models published with their classifier (e.g. mobilenet_v1_*) can be loaded whole.`);
  }
  return { model, labels: readClassLabels(metadataFile, 1000), spec };
}

/** The `k` most probable classes of one score row, best first. */
export function topKClasses(scores: ArrayLike<number>, labels: readonly string[], k = 5): { index: number; label: string; probability: number }[] {
  if (scores.length !== labels.length) throw new Error(`topKClasses: ${scores.length} scores but ${labels.length} labels; pass the labels of the model that produced the scores.`);
  if (!Number.isInteger(k) || k < 1) throw new Error(`topKClasses: k must be a positive integer, got ${k}.`);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, k).map((index) => ({ index, label: labels[index], probability: scores[index] }));
}
