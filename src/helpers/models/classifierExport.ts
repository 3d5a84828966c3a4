/**
 * Export a trained image classifier as ONE browser-loadable TF.js layers model (backbone and head together) with a
 * metadata.json that says how to prepare a photo for it, so a web page (the course's demo, or your own) can use it
 * with nothing but tfjs. `loadImageClassifier` / `classifyImageFile` are the Node twins the tests compare against.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";
import { decodeImage } from "../pipeline/decode";
import { checkClassifierPipeline, classifyPixels, pipelineOutputSize, type ClassifierPipelineStep } from "./classifierPipeline";
import { loadTrainedModel, saveTrainedModel, type TrainedModelMetadata } from "./saved";

/** What metadata.json of an exported classifier holds (a superset of `saveTrainedModel`'s metadata). */
export interface ExportedClassifierMetadata extends TrainedModelMetadata {
  format: "tl-image-classifier/1";
  /** Human-readable model name shown by the demo, e.g. "MobileNetV2 α0.35 fine-tuned on ants vs bees". */
  name: string;
  /** Evaluation preprocessing, applied in order to an 8-bit RGB photo. */
  pipeline: ClassifierPipelineStep[];
  /** Which run produced the model. */
  run?: { notebook?: string; profile?: string; backend?: string; started?: string };
}

export interface ExportClassifierOptions {
  name: string;
  classes: string[];
  pipeline: ClassifierPipelineStep[];
  metrics?: Record<string, number>;
  backbone?: string;
  /** The run that trained it: a `NotebookRun` (from `startNotebook`) or the same fields by hand. */
  run?: { notebook?: string; profile?: string; backend?: string; startedAt?: Date; started?: string };
  extra?: Record<string, unknown>;
}

/**
 * A backbone and a head trained on its pooled features, joined into one model: image -> backbone ->
 * global average pooling (when the head takes vectors and the backbone gives maps) -> head. The layers (and
 * weights) are shared with the two models, not copied. Heads must be a chain of layers (as `buildHeadModel` makes).
 */
export function composeClassifier(backbone: tf.LayersModel, head: tf.LayersModel, opts: { name?: string } = {}): tf.LayersModel {
  const feat = backbone.outputs[0];
  const headIn = head.inputs[0].shape;
  let x: tf.SymbolicTensor = feat;
  if (feat.shape.length === 4 && headIn.length === 2) {
    x = tf.layers.globalAveragePooling2d({ name: `${head.name}_input_pool` }).apply(x) as tf.SymbolicTensor;
  }
  const want = headIn.slice(1).join(","), got = x.shape.slice(1).join(",");
  if (want !== got) throw new Error(`composeClassifier: the head takes [${want}] but the backbone gives [${got}]; train the head on this backbone's features.`);
  for (const layer of head.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    // Node 0 is the layer's place in the head itself (later nodes come from earlier joins): one input each = a chain.
    if ((layer.inboundNodes[0]?.inboundLayers?.length ?? 1) !== 1) {
      throw new Error(`composeClassifier: head layer '${layer.name}' is not part of a simple chain; export the whole model with exportImageClassifier(model, ...) instead.`);
    }
    x = layer.apply(x) as tf.SymbolicTensor;
  }
  return tf.model({ inputs: backbone.inputs, outputs: x, name: opts.name ?? `${backbone.name}_${head.name}` });
}

/**
 * Write `dir/model.json`, `dir/weights.bin` and `dir/metadata.json`. `model` is a whole image classifier, or
 * `{ backbone, head }` to join with `composeClassifier`. The pipeline must end at the model's input size.
 */
export async function exportImageClassifier(
  dir: string,
  model: tf.LayersModel | { backbone: tf.LayersModel; head: tf.LayersModel },
  opts: ExportClassifierOptions,
): Promise<ExportedClassifierMetadata> {
  const full = model instanceof tf.LayersModel ? model : composeClassifier(model.backbone, model.head);
  checkClassifierPipeline(opts.pipeline);
  const inShape = full.inputs[0].shape;
  const size = pipelineOutputSize(opts.pipeline);
  if (inShape.length !== 4 || inShape[1] !== size || inShape[2] !== size || inShape[3] !== 3) {
    throw new Error(`exportImageClassifier: the model takes [${inShape}] but the pipeline produces ${size ?? "?"}x${size ?? "?"}x3 images; ` +
      "end the pipeline with a centerCrop or upsample to the model's input size.");
  }
  const metadata: ExportedClassifierMetadata = {
    format: "tl-image-classifier/1",
    name: opts.name,
    classes: opts.classes,
    inputSize: size,
    pipeline: opts.pipeline,
    metrics: opts.metrics,
    backbone: opts.backbone,
    run: opts.run && {
      notebook: opts.run.notebook, profile: opts.run.profile, backend: opts.run.backend,
      started: opts.run.started ?? opts.run.startedAt?.toISOString(),
    },
    extra: opts.extra,
  };
  await saveTrainedModel(full, dir, metadata);
  return JSON.parse(fs.readFileSync(path.join(dir, "metadata.json"), "utf8")) as ExportedClassifierMetadata;
}

/** Load what `exportImageClassifier` wrote; a folder without its metadata format is refused with the reason. */
export async function loadImageClassifier(dir: string): Promise<{ model: tf.LayersModel; metadata: ExportedClassifierMetadata }> {
  const { model, metadata } = await loadTrainedModel(dir);
  const meta = metadata as ExportedClassifierMetadata;
  if (meta.format !== "tl-image-classifier/1") {
    model.dispose();
    throw new Error(`${path.join(dir, "metadata.json")} is not an exported image classifier (format '${String(meta.format)}'); write it with exportImageClassifier.`);
  }
  checkClassifierPipeline(meta.pipeline);
  return { model, metadata: meta };
}

/** Class probabilities of one image file (decoded like the training data, then the exported pipeline). */
export async function classifyImageFile(
  exported: { model: tf.LayersModel; metadata: ExportedClassifierMetadata },
  file: string,
): Promise<{ probabilities: Float32Array; top1: string; index: number }> {
  const img = await decodeImage(file);
  const probabilities = classifyPixels(exported.model, img, exported.metadata.pipeline);
  let index = 0;
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i] > probabilities[index]) index = i;
  return { probabilities, top1: exported.metadata.classes[index], index };
}
