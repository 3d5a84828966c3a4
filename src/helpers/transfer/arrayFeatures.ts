/**
 * Cached backbone features of an in-memory image array (CIFAR-10, MNIST...): stream the images in batches,
 * upsample each batch to the backbone's input size on the active backend, apply the backbone's preprocessing,
 * and extract pooled features through the on-disk cache of `extractFeatures`. Two notebooks that call this with
 * the same backbone, input size, preprocessing and images share one cache entry.
 */
import * as tf from "@tensorflow/tfjs";
import * as crypto from "node:crypto";
import type { PreprocessingSpec } from "../models/zoo";
import { arrayStream } from "../pipeline/streams";
import { upsampleBatch } from "../pipeline/batchResize";
import { extractFeatures, type FeatureSet } from "./features";
import { backendFor, releasingNativeBuffers } from "../backend";

export interface ArrayFeaturesOptions {
  /** Frozen backbone; its input size (e.g. after `withInputSize`) is the size images are upsampled to. */
  backbone: tf.LayersModel;
  /** Name for the cache key, e.g. "mobilenet_v2_0.35". */
  backboneName: string;
  preprocessing: PreprocessingSpec | "none";
  /** N images HWC uint8 (0..255), concatenated. */
  images: Uint8Array;
  imageShape: readonly [number, number, number];
  labels: ArrayLike<number>;
  /** Images per backbone call (default 64). */
  batchSize?: number;
  /** Restrict to these sample indices (the hash covers only them). */
  indices?: ArrayLike<number>;
  refresh?: boolean;
  cacheRoot?: string;
  onBatch?: (done: number, total: number) => void;
}

/** sha256 over the shape, the selected images' bytes and labels. */
export function hashImageArray(images: Uint8Array, imageShape: readonly number[], labels: ArrayLike<number>, indices?: ArrayLike<number>): string {
  const h = crypto.createHash("sha256");
  const per = imageShape.reduce((a, b) => a * b, 1);
  h.update(`u8:${imageShape.join("x")};`);
  if (!indices) {
    h.update(Buffer.from(images.buffer, images.byteOffset, images.byteLength));
    h.update(Buffer.from(Int32Array.from(labels).buffer));
  } else {
    const idx = Array.from(indices);
    h.update(`n=${idx.length};`);
    for (const i of idx) h.update(Buffer.from(images.buffer, images.byteOffset + i * per, per));
    h.update(Buffer.from(Int32Array.from(idx, (i) => labels[i]).buffer));
  }
  return h.digest("hex");
}

/** Extract (or read from the cache) pooled features of `images` at the backbone's input size. */
export async function extractArrayFeatures(opts: ArrayFeaturesOptions): Promise<FeatureSet> {
  await backendFor("inference");
  // The native backend's step-sized buffer pool is not needed between runs.
  return releasingNativeBuffers(() => extractArrayFeaturesOnce(opts));
}

async function extractArrayFeaturesOnce(opts: ArrayFeaturesOptions): Promise<FeatureSet> {
  const inShape = opts.backbone.inputs[0].shape;
  const [h, w] = [inShape[1], inShape[2]];
  if (typeof h !== "number" || typeof w !== "number") throw new Error(`extractArrayFeatures: the backbone's input size is not fixed ([${inShape}]); give it one with withInputSize().`);
  const data = arrayStream({
    images: opts.images,
    imageShape: opts.imageShape,
    labels: opts.labels,
    indices: opts.indices,
    batchSize: opts.batchSize ?? 64,
    normalize: "none",
    batchTransform: upsampleBatch([h, w]),
  });
  return extractFeatures({
    backbone: opts.backbone,
    backboneName: opts.backboneName,
    preprocessing: opts.preprocessing,
    data,
    contentHash: hashImageArray(opts.images, opts.imageShape, opts.labels, opts.indices),
    keyExtra: "uint8 array, bilinear upsample",
    refresh: opts.refresh,
    cacheRoot: opts.cacheRoot,
    onBatch: opts.onBatch,
  });
}
