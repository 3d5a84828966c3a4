/**
 * One shape for a chapter's image-classification data, whatever it is stored as (an in-memory array such as
 * CIFAR-10, or image files such as Stanford Dogs): class names, labels, cached backbone features of each split,
 * an image to show, and a timed uncached backbone pass. Chapter 4 runs the same cells on either.
 */
import * as tf from "@tensorflow/tfjs";
import type { BatchStream } from "../types";
import type { ArrayDataset } from "../sets/arrays";
import type { ImageSample } from "../sets/imagefolder";
import { arrayImage } from "../sets/arrayImage";
import { decodeImage } from "../pipeline/decode";
import { arrayStream } from "../pipeline/streams";
import { upsampleBatch } from "../pipeline/batchResize";
import { imageSamplesStream } from "../pipeline/presets";
import { applyPreprocessing, type PreprocessingSpec } from "../models/zoo";
import { releasingNativeBuffers } from "../backend";
import { extractFeatures, type FeatureSet } from "./features";
import { extractArrayFeatures } from "./arrayFeatures";

export type DataSplit = "train" | "test";

/** A frozen backbone at the input size it should run at (e.g. after `withInputSize`). */
export interface FrozenBackbone {
  model: tf.LayersModel;
  /** Name for the feature cache key, e.g. "mobilenet_v1_0.75". */
  name: string;
  preprocessing: PreprocessingSpec;
}

export interface ClassificationData {
  name: string;
  classes: string[];
  trainLabels: Int32Array;
  testLabels: Int32Array;
  /** Pooled features of a split through the backbone, read from the feature cache when present. */
  features(split: DataSplit, backbone: FrozenBackbone): Promise<FeatureSet>;
  /** Image `i` of a split, for image grids. */
  image(split: DataSplit, i: number): Promise<{ data: Uint8Array; width: number; height: number; channels: number }>;
  /** Images per second of an uncached backbone pass (input pipeline included) over the first `n` training images. */
  extractionSpeed(backbone: FrozenBackbone, n: number): Promise<number>;
}

function inputSizeOf(model: tf.LayersModel): [number, number] {
  const [, h, w] = model.inputs[0].shape;
  if (typeof h !== "number" || typeof w !== "number") throw new Error(`The backbone's input size is not fixed ([${model.inputs[0].shape}]); give it one with withInputSize().`);
  return [h, w];
}

/**
 * Time `data` through `model` (after `preprocessing`), excluding one warm-up batch (kernel set-up and buffer
 * allocation happen once per model and size, not per image). Returns images per second.
 */
export async function timeBackbonePass(model: tf.LayersModel, data: BatchStream, preprocessing: PreprocessingSpec | "none"): Promise<number> {
  return releasingNativeBuffers(async () => {
    let images = 0;
    let t0 = 0;
    let batch = 0;
    for await (const b of data.iterate(0)) {
      const y = tf.tidy(() => model.predict(applyPreprocessing(b.x, preprocessing)) as tf.Tensor);
      await y.data();
      if (batch++ === 0) t0 = performance.now();
      else images += b.x.shape[0];
      tf.dispose([y, b.x, b.y]);
    }
    if (batch < 2) throw new Error(`timeBackbonePass: the stream has ${batch} batch(es); give it at least two (one is a warm-up).`);
    return images / ((performance.now() - t0) / 1000);
  });
}

/** Batch size of a timed pass over n images: the usual 64, but always at least two batches (one is a warm-up). */
function speedBatchSize(n: number, available: number, usual: number): number {
  if (!Number.isInteger(n) || n < 2 || n > available) throw new Error(`extractionSpeed: n must be an integer from 2 to ${available} (the training images), got ${n}.`);
  return Math.min(usual, Math.floor(n / 2));
}

/** Adapter over in-memory image arrays (CIFAR-10): images are upsampled, a batch at a time, to the backbone's input. */
export function arrayClassificationData(name: string, train: ArrayDataset, test: ArrayDataset): ClassificationData {
  if (train.classes.join("\n") !== test.classes.join("\n")) throw new Error(`arrayClassificationData: train and test have different classes (${train.classes.length} vs ${test.classes.length}); load both splits of one dataset.`);
  const of = (split: DataSplit) => (split === "train" ? train : test);
  return {
    name,
    classes: train.classes,
    trainLabels: Int32Array.from(train.labels),
    testLabels: Int32Array.from(test.labels),
    features: (split, bb) =>
      extractArrayFeatures({ backbone: bb.model, backboneName: bb.name, preprocessing: bb.preprocessing, images: of(split).images, imageShape: of(split).imageShape, labels: of(split).labels }),
    image: async (split, i) => arrayImage(of(split), i),
    extractionSpeed: async (bb, n) => {
      const data = arrayStream({
        images: train.images, imageShape: train.imageShape, labels: train.labels, indices: Int32Array.from({ length: n }, (_, i) => i),
        batchSize: speedBatchSize(n, train.count, 64), normalize: "none", batchTransform: upsampleBatch(inputSizeOf(bb.model)),
      });
      return timeBackbonePass(bb.model, data, bb.preprocessing);
    },
  };
}

/**
 * Adapter over image files: the eval recipe (resize, center crop to the backbone's input), then the backbone's own
 * preprocessing ([-1, 1] for the Keras MobileNets, ImageNet mean/std for torchvision's ResNet), on the active backend.
 */
export function folderClassificationData(name: string, classes: string[], train: readonly ImageSample[], test: readonly ImageSample[]): ClassificationData {
  const of = (split: DataSplit) => (split === "train" ? train : test);
  // Raw 0..255 pixels: each backbone applies its own preprocessing (extractFeatures / timeBackbonePass).
  const stream = (samples: readonly ImageSample[], size: number, batchSize = 32) => imageSamplesStream(samples, { batchSize, mode: "eval", size, normalize: "none" });
  return {
    name,
    classes,
    trainLabels: Int32Array.from(train, (s) => s.label),
    testLabels: Int32Array.from(test, (s) => s.label),
    features: async (split, bb) => {
      const size = inputSizeOf(bb.model)[0];
      return extractFeatures({ backbone: bb.model, backboneName: bb.name, preprocessing: bb.preprocessing, data: stream(of(split), size), keyExtra: `eval ${size} raw` });
    },
    image: async (split, i) => {
      const s = of(split)[i];
      if (!s) throw new Error(`image: index ${i} is out of range; the ${split} split has ${of(split).length} images.`);
      return decodeImage(s.path, { size: 160, fit: "cover" });
    },
    extractionSpeed: async (bb, n) => {
      const batchSize = speedBatchSize(n, train.length, 32);
      return timeBackbonePass(bb.model, stream(train.slice(0, n), inputSizeOf(bb.model)[0], batchSize), bb.preprocessing);
    },
  };
}
