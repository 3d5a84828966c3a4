/** Transfer-learning operations on tf.LayersModel: cut, add a head, freeze/unfreeze, count parameters. */
import * as tf from "@tensorflow/tfjs";
import { selectLayers, type LayerSelector } from "../models/layerSelect";

/** Model from `model`'s input to the output of `layerName` (shares weights with `model`). */
export function cutAtLayer(model: tf.LayersModel, layerName: string): tf.LayersModel {
  const layer = model.layers.find((l) => l.name === layerName);
  if (!layer) {
    const close = model.layers
      .map((l) => l.name)
      .filter((n) => {
        // same name apart from digits, or one contains the other: "conv3" suggests conv1, conv2
        const strip = (s: string) => s.replace(/\d+/g, "");
        return n.includes(layerName) || layerName.includes(n) || strip(n) === strip(layerName);
      })
      .slice(0, 8);
    throw new Error(
      `cutAtLayer: model '${model.name}' has no layer '${layerName}'.` +
        (close.length ? ` Similar names: ${close.join(", ")}.` : ` Its last layers: ${model.layers.slice(-5).map((l) => l.name).join(", ")}.`),
    );
  }
  return tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor, name: `${model.name}_to_${layerName}` });
}

export interface HeadOptions {
  numClasses: number;
  /** Dropout rate before the dense layer (default 0.2; 0 for none). */
  dropout?: number;
  /** "softmax" (default, single-label), "sigmoid" (multi-label) or "linear" (logits). */
  activation?: "softmax" | "sigmoid" | "linear";
  /** Initializer seed (default 42). */
  seed?: number;
  /** Hidden dense layer before the classifier (units), none by default. */
  hiddenUnits?: number;
  /** Layer name prefix (default "head"): layers are head_pool, head_dropout, head_dense. */
  name?: string;
}

/** Global average pool (for 4-D feature maps) + dropout + dense, applied to a symbolic tensor. */
function headLayers(x: tf.SymbolicTensor, o: HeadOptions): tf.SymbolicTensor {
  const p = o.name ?? "head";
  const seed = o.seed ?? 42;
  if (x.shape.length === 4) x = tf.layers.globalAveragePooling2d({ name: `${p}_pool` }).apply(x) as tf.SymbolicTensor;
  else if (x.shape.length !== 2) throw new Error(`addClassifierHead: expected a [B,H,W,C] feature map or [B,D] features, got shape [${x.shape}].`);
  if (o.hiddenUnits) {
    x = tf.layers.dense({ units: o.hiddenUnits, activation: "relu", kernelInitializer: tf.initializers.heNormal({ seed: seed + 1 }), name: `${p}_hidden` }).apply(x) as tf.SymbolicTensor;
  }
  if ((o.dropout ?? 0.2) > 0) x = tf.layers.dropout({ rate: o.dropout ?? 0.2, name: `${p}_dropout` }).apply(x) as tf.SymbolicTensor;
  return tf.layers
    .dense({ units: o.numClasses, activation: o.activation ?? "softmax", kernelInitializer: tf.initializers.glorotUniform({ seed }), name: `${p}_dense` })
    .apply(x) as tf.SymbolicTensor;
}

/** Backbone + head as one model (the backbone's layers are shared, so freezing by name works on the result). */
export function addClassifierHead(backbone: tf.LayersModel, opts: HeadOptions): tf.LayersModel {
  const out = headLayers(backbone.outputs[0], opts);
  return tf.model({ inputs: backbone.inputs, outputs: out, name: `${backbone.name}_with_head` });
}

/** A stand-alone head for cached features of shape `featureShape` ([D] or [H, W, C]). */
export function buildHeadModel(featureShape: number[], opts: HeadOptions): tf.LayersModel {
  const input = tf.input({ shape: featureShape, name: `${opts.name ?? "head"}_input` });
  return tf.model({ inputs: input, outputs: headLayers(input, opts), name: opts.name ?? "head" });
}

const BN_PATCHED = Symbol("tl_bn_inference_when_frozen");

/**
 * Keras-2 semantics for frozen batch norm: a BatchNormalization layer with trainable=false runs in inference mode
 * (moving statistics, no updates) even when the model is called with training=true. TF.js ignores `trainable` there,
 * which would silently corrupt a frozen backbone's statistics during fine-tuning; this patch fixes it per layer.
 */
function patchBatchNorm(layer: tf.layers.Layer): void {
  const l = layer as any;
  if (layer.getClassName() !== "BatchNormalization" || l[BN_PATCHED]) return;
  const orig = l.call.bind(layer);
  l.call = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => orig(inputs, layer.trainable ? kwargs : { ...kwargs, training: false });
  l[BN_PATCHED] = true;
}

/** Set `trainable` on the selected layers; returns the names changed. */
export function setTrainable(model: tf.LayersModel, sel: LayerSelector, trainable: boolean): string[] {
  const idx = selectLayers(model, sel);
  const names: string[] = [];
  for (const i of idx) {
    const layer = model.layers[i];
    patchBatchNorm(layer);
    if (layer.trainable !== trainable) names.push(layer.name);
    layer.trainable = trainable;
  }
  return names;
}

/** Freeze the selected layers (default: all). */
export function freezeLayers(model: tf.LayersModel, sel: LayerSelector = { all: true }): string[] {
  return setTrainable(model, sel, false);
}

/** Unfreeze the selected layers (default: all). */
export function unfreezeLayers(model: tf.LayersModel, sel: LayerSelector = { all: true }): string[] {
  return setTrainable(model, sel, true);
}

export interface ParamCounts {
  /** Parameters the optimizer updates. */
  trainable: number;
  /** Frozen weights plus always-frozen state such as batch-norm moving mean/variance (as Keras counts them). */
  nonTrainable: number;
  total: number;
}

/** Trainable vs frozen parameter counts. */
export function countParams(model: tf.LayersModel): ParamCounts {
  const size = (ws: tf.LayerVariable[]) => ws.reduce((s, w) => s + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);
  const trainable = size(model.trainableWeights);
  const nonTrainable = size(model.nonTrainableWeights);
  return { trainable, nonTrainable, total: trainable + nonTrainable };
}

/** MobileNetV2's stages, mirroring ResNet's conv1 / layer1 / layer2 / layer3+4 / fc for per-stage learning rates. */
export type MobileNetV2Stage = "stem" | "early" | "middle" | "late" | "head";
export const MOBILENET_V2_STAGES: readonly MobileNetV2Stage[] = ["stem", "early", "middle", "late", "head"];

/**
 * Stage of a Keras MobileNetV2 layer name (or a course head layer, `head_*`): stem = Conv1 + expanded_conv,
 * early = block_1–2, middle = block_3–5, late = block_6–16 + Conv_1/out_relu. Undefined for other names.
 */
export function mobileNetV2Stage(layerName: string): MobileNetV2Stage | undefined {
  if (layerName.startsWith("head_")) return "head";
  const block = /^block_(\d+)_/.exec(layerName);
  if (!block) return /^(Conv1|bn_Conv1|expanded_conv)/.test(layerName) ? "stem" : /^(Conv_1|out_relu)/.test(layerName) ? "late" : undefined;
  const n = Number(block[1]);
  return n <= 2 ? "early" : n <= 5 ? "middle" : "late";
}
