/**
 * Model zoo: pretrained backbones loaded through the download cache (`modelDir(name)`: <cache>/models/<name>/).
 * Missing files (model.json, then each weight file it names) are fetched with ensureDownloaded; the
 * model is then read from disk with our own fs IOHandler and cut at the backbone's feature layer.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { modelDir } from "../fetch/cache";
import { ensureDownloaded, registerKnownDownload } from "../fetch";
import { ModelFormatError, loadLayersModelFromDir } from "./io";
import { recordedZooFile, verifyRecordedZooFile } from "./zooChecksums";
import { IMAGENET_MEAN, IMAGENET_STD, TORCHVISION_WEIGHTS, loadTorchvisionPretrained, torchvisionFeatureLayerOf } from "./torchvision/pretrained";

// The hosts of the zoo's model files, registered by prefix (one model.json plus its weight shards per model).
registerKnownDownload({ url: "https://storage.googleapis.com/teachable-machine-models/", name: "Teachable Machine model files" });
registerKnownDownload({ url: "https://storage.googleapis.com/tfjs-models/", name: "TF.js model files" });
registerKnownDownload({ url: "https://tfhub.dev/", name: "TF Hub model files" });

/**
 * Pixel preprocessing applied before the backbone, on RGB values in [0, 255]: `x * scale + offset`, or torchvision's
 * per-channel `(x / 255 - mean) / std`.
 */
export type PreprocessingSpec = { kind: "scale"; scale: number; offset: number } | { kind: "normalize"; mean: readonly number[]; std: readonly number[] };

/** MobileNet convention: [0, 255] -> [-1, 1] (x / 127.5 - 1). */
export const MOBILENET_PREPROCESSING: PreprocessingSpec = { kind: "scale", scale: 1 / 127.5, offset: -1 };

/** torchvision's ImageNet normalisation ((x / 255 - mean) / std per RGB channel), used by its pretrained models. */
export const IMAGENET_PREPROCESSING: PreprocessingSpec = { kind: "normalize", mean: IMAGENET_MEAN, std: IMAGENET_STD };

/** A preprocessing spec in words, for the line a notebook prints beside a backbone's name. */
export function describePreprocessing(p: PreprocessingSpec | "none"): string {
  if (p === "none") return "pixels as they are";
  if (p.kind === "normalize") return `pixels /255, minus mean [${p.mean.join(", ")}], divided by std [${p.std.join(", ")}] (ImageNet statistics)`;
  const lo = p.offset, hi = 255 * p.scale + p.offset;
  return `pixels x ${p.scale.toPrecision(6)} ${p.offset < 0 ? "-" : "+"} ${Math.abs(p.offset)} (0..255 to ${lo}..${+hi.toFixed(4)})`;
}

/** Apply a preprocessing spec to a pixel tensor (returns a new tensor). */
export function applyPreprocessing(x: tf.Tensor, p: PreprocessingSpec | "none"): tf.Tensor {
  if (p === "none") return x.clone();
  if (p.kind === "normalize") {
    const c = x.shape[x.shape.length - 1];
    if (c !== p.mean.length) throw new Error(`applyPreprocessing: images have ${c} channels but the normalisation has ${p.mean.length} means.`);
    return tf.tidy(() => tf.div(tf.sub(tf.div(x.toFloat(), 255), tf.tensor1d(p.mean as number[])), tf.tensor1d(p.std as number[])));
  }
  return tf.tidy(() => tf.add(tf.mul(x.toFloat(), p.scale), p.offset));
}

export interface BackboneSpec {
  /** Zoo key, e.g. "mobilenet_v2_0.35". */
  name: string;
  family: "mobilenet_v2" | "mobilenet_v1" | "torchvision" | "custom";
  alpha?: number;
  url: string;
  /** Folder under <cache>/models/ holding model.json and weights ("" for a model loaded from a path). */
  cacheFolder: string;
  /** Layer whose output is the feature map. */
  featureLayer: string;
  inputSize: number;
  preprocessing: PreprocessingSpec;
  /** Channels of the feature layer. */
  featureDim: number;
}

function v2(alpha: string): BackboneSpec {
  return {
    name: `mobilenet_v2_${alpha}`,
    family: "mobilenet_v2",
    alpha: Number(alpha),
    url: `https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${alpha}_224_no_top/model.json`,
    cacheFolder: `mobilenet_v2_${alpha}_224_no_top`,
    featureLayer: "out_relu",
    inputSize: 224,
    preprocessing: MOBILENET_PREPROCESSING,
    // Keras MobileNetV2 keeps the last conv at 1280 channels for alpha <= 1.
    featureDim: 1280,
  };
}
function v1(alpha: string): BackboneSpec {
  return {
    name: `mobilenet_v1_${alpha}`,
    family: "mobilenet_v1",
    alpha: Number(alpha),
    url: `https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_${alpha}_224/model.json`,
    cacheFolder: `mobilenet_v1_${alpha}_224`,
    featureLayer: "conv_pw_13_relu",
    inputSize: 224,
    preprocessing: MOBILENET_PREPROCESSING,
    featureDim: Math.round(1024 * Number(alpha)),
  };
}

/** The pretrained backbones the course knows by name. */
export const BACKBONES: Readonly<Record<string, BackboneSpec>> = Object.fromEntries(
  [...["0.35", "0.50", "0.75", "1.00"].map(v2), ...["0.25", "0.50", "0.75", "1.0"].map(v1)].map((s) => [s.name, s]),
);

/** A torchvision model of TORCHVISION_WEIGHTS as a backbone: cut at its last feature map, ImageNet normalisation. */
function torchvisionSpec(name: string): BackboneSpec {
  const w = TORCHVISION_WEIGHTS[name];
  const featureDim = w.arch === "resnet50" ? 2048 : w.arch.startsWith("resnet") ? 512 : w.arch === "alexnet" ? 256 : 512;
  return {
    name, family: "torchvision", url: `https://download.pytorch.org/models/${w.file}`, cacheFolder: "torchvision",
    featureLayer: torchvisionFeatureLayerOf(name), inputSize: 224, preprocessing: IMAGENET_PREPROCESSING, featureDim,
  };
}

/** Resolve a zoo name; accepts "mobilenet_v2_0.5" as "mobilenet_v2_0.50" etc., and torchvision's "resnet50", "vgg19", ... */
export function backboneSpec(name: string): BackboneSpec {
  if (BACKBONES[name]) return BACKBONES[name];
  if (Object.prototype.hasOwnProperty.call(TORCHVISION_WEIGHTS, name)) return torchvisionSpec(name);
  const m = /^(mobilenet_v[12])_([\d.]+)$/.exec(name);
  if (m) {
    const found = Object.values(BACKBONES).find((s) => s.family === m[1] && s.alpha === Number(m[2]));
    if (found) return found;
  }
  throw new Error(`Unknown backbone '${name}'. Known: ${[...Object.keys(BACKBONES), ...Object.keys(TORCHVISION_WEIGHTS)].join(", ")}; or pass { path } / { url } of a TF.js layers model.`);
}

/** Make sure model.json and every weight file it names are in `dir`, downloading what's missing. Returns the model.json path. */
export async function ensureModelFiles(url: string, dir: string, name: string): Promise<string> {
  const modelJson = path.join(dir, "model.json");
  // Recorded sums (zoo backbones): the download is verified before it takes its final name, a cached file before use.
  const sums = (file: string) => recordedZooFile(name, file);
  const fetchOrVerify = async (fileUrl: string, dest: string, label: string) => {
    const rec = sums(path.basename(dest));
    if (!fs.existsSync(dest)) await ensureDownloaded(fileUrl, dest, { name: label, ...(rec ? { size: rec.size, sha256: rec.sha256 } : {}) });
    else if (rec) await verifyRecordedZooFile(name, dest, rec);
  };
  await fetchOrVerify(url, modelJson, `${name} model.json`);
  let manifest: tf.io.WeightsManifestConfig;
  try {
    manifest = JSON.parse(fs.readFileSync(modelJson, "utf8"))?.weightsManifest ?? [];
  } catch (e) {
    throw new ModelFormatError(`${modelJson} is not valid JSON (${(e as Error).message}); delete it and retry.`);
  }
  if (!Array.isArray(manifest)) throw new ModelFormatError(`${modelJson} has a weightsManifest that is not a list of weight groups; delete ${dir} and retry.`);
  for (const group of manifest) {
    for (const p of Array.isArray(group?.paths) ? group.paths : []) {
      if (typeof p !== "string" || p.includes("..") || path.isAbsolute(p)) throw new ModelFormatError(`${modelJson} names weight file '${p}' outside its folder; refusing.`);
      const dest = path.join(dir, p);
      await fetchOrVerify(new URL(p, url).toString(), dest, `${name} weights ${p}`);
    }
  }
  return modelJson;
}

export interface LoadedBackbone {
  /** Model from the input to the feature layer. */
  model: tf.LayersModel;
  spec: BackboneSpec;
}

/** Where a zoo backbone's files live in the cache. */
export function backboneDir(spec: BackboneSpec): string {
  return modelDir(spec.cacheFolder);
}

/** Where a user-given model URL is cached: <cache>/models/user/<host>_<hash>/. */
function userModelDir(url: string): string {
  const h = crypto.createHash("sha256").update(url).digest("hex").slice(0, 12);
  const host = (() => {
    try {
      return new URL(url).hostname.replace(/[^a-z0-9.-]/gi, "_");
    } catch {
      return "url";
    }
  })();
  return path.join(modelDir("user"), `${host}_${h}`);
}

export interface CustomModelSource {
  /** Local model.json (or its folder). */
  path?: string;
  /** Remote model.json URL; cached under <cache>/models/user/. */
  url?: string;
  /** Cut at this layer (default: the model's output). */
  featureLayer?: string;
  /** Default MOBILENET_PREPROCESSING. */
  preprocessing?: PreprocessingSpec;
  name?: string;
}

/**
 * Load a pretrained backbone: a zoo name (`"mobilenet_v2_0.35"`) or `{ path }` / `{ url }` of any TF.js layers
 * model. The result ends at the feature layer (the cached MobileNetV2 files already do).
 */
export async function loadBackbone(source: string | CustomModelSource): Promise<LoadedBackbone> {
  let spec: BackboneSpec;
  let modelJson: string;
  if (typeof source === "string" && backboneSpec(source).family === "torchvision") {
    // Downloaded as .pth, converted once to a TF.js model beside the download (./torchvision/pretrained).
    spec = backboneSpec(source);
    const full = await loadTorchvisionPretrained(source);
    const model = tf.model({ inputs: full.inputs, outputs: full.getLayer(spec.featureLayer).output as tf.SymbolicTensor, name: `${spec.name}_to_${spec.featureLayer}` });
    return { model, spec };
  }
  if (typeof source === "string") {
    spec = backboneSpec(source);
    modelJson = await ensureModelFiles(spec.url, backboneDir(spec), spec.name);
  } else {
    if (!source.path && !source.url) throw new Error("loadBackbone({ ... }) needs `path` (local model.json) or `url`.");
    if (source.path) {
      modelJson = source.path.endsWith(".json") ? source.path : path.join(source.path, "model.json");
    } else {
      modelJson = await ensureModelFiles(source.url!, userModelDir(source.url!), source.name ?? source.url!);
    }
    spec = {
      name: source.name ?? path.basename(path.dirname(path.resolve(modelJson))),
      family: "custom",
      url: source.url ?? `file://${path.resolve(modelJson)}`,
      cacheFolder: "",
      featureLayer: source.featureLayer ?? "",
      inputSize: 0,
      preprocessing: source.preprocessing ?? MOBILENET_PREPROCESSING,
      featureDim: 0,
    };
  }
  let model = await loadLayersModelFromDir(modelJson);
  const layer = spec.featureLayer || model.layers[model.layers.length - 1].name;
  if (!model.layers.some((l) => l.name === layer)) {
    model.dispose();
    throw new Error(`Backbone ${spec.name} has no layer '${layer}'. Its last layers: ${model.layers.slice(-5).map((l) => l.name).join(", ")}.`);
  }
  const outName = (model.outputs[0] as any).sourceLayer?.name;
  if (outName !== layer) model = tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tf.SymbolicTensor, name: `${spec.name}_to_${layer}` });
  const inShape = model.inputs[0].shape;
  const outShape = model.outputs[0].shape;
  spec = { ...spec, featureLayer: layer, inputSize: spec.inputSize || (inShape[1] ?? 0), featureDim: outShape[outShape.length - 1] ?? spec.featureDim };
  return { model, spec };
}
