/**
 * Feature extraction with an on-disk cache: run a frozen backbone once over a dataset, store the features as raw
 * float32 + JSON under buildDir()/cache/features/<key>/, and skip the backbone on reruns. The key hashes the
 * backbone name, layer, preprocessing, input size, pooling and the dataset's content hash.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { buildDir } from "../config";
import type { BatchStream, LabeledBatch } from "../types";
import { applyPreprocessing, PreprocessingSpec } from "../models/zoo";
import { cutAtLayer } from "./ops";
import { featureStream } from "../pipeline/streams";
import { weightsFingerprint } from "../models/fingerprint";
import { backendFor, releasingNativeBuffers } from "../backend";
import { beginWork } from "../display/interrupt";
import { delayedProgress } from "../display/autoProgress";

/** Features of a whole dataset, in the order the stream's `iterate(0)` yields samples. */
/**
 * Samples per forward pass inside one stream batch. A whole batch of 32 photos at 224 through MobileNetV2 peaks at
 * about 500 MB of activations on the native backend (whole-set extraction: peak RSS ~960 MB, 1.6x PyTorch's twin);
 * 16 at a time measured ~740 MB, 8 at a time ~500 MB but slower. Same features: inference-mode BatchNorm, no cross-sample ops.
 */
const PREDICT_CHUNK = 16;

export interface FeatureSet {
  features: Float32Array;
  /** Shape of one sample's features, e.g. [1280] or [7, 7, 1280]. */
  featureShape: number[];
  /** Class indices (int32) or multi-hot rows (float32). */
  labels: Int32Array | Float32Array;
  /** Shape of one sample's label: [] for class indices, [C] for multi-hot. */
  labelShape: number[];
  numSamples: number;
  /** Cache key and folder. */
  key: string;
  dir: string;
  /** True when read from the cache (the backbone did not run). */
  fromCache: boolean;
  /** Wall time of this call. */
  seconds: number;
}

export interface ExtractFeaturesOptions {
  backbone: tf.LayersModel;
  /** Name used in the cache key, e.g. "mobilenet_v2_0.35". */
  backboneName: string;
  /** Layer to take features from (default: the backbone's output layer). */
  layer?: string;
  /** Applied to each batch's x before the backbone ("none" when the pipeline already did it). */
  preprocessing: PreprocessingSpec | "none";
  data: BatchStream;
  /**
   * Content hash of the dataset (e.g. from the loader, over file bytes). When omitted, the batches are hashed in a
   * first pass, which decodes the images but still skips the backbone on a cache hit.
   */
  contentHash?: string;
  /**
   * Anything else that changes the features and is not in the key, e.g. the data pipeline's transforms when it
   * normalises images itself (preprocessing "none") and `contentHash` covers only the files.
   */
  keyExtra?: string;
  /** "avg" (default): global-average-pool 4-D maps to vectors; "none": keep the map. */
  pool?: "avg" | "none";
  /** Root of the cache (default buildDir()/cache/features). */
  cacheRoot?: string;
  /** Ignore any cached copy and recompute. */
  refresh?: boolean;
  onBatch?: (done: number, total: number) => void;
  /** Show a progress bar once extraction has run 2 s (default: in a notebook, a terminal or the headless run). */
  progress?: boolean;
}

/** Root of the feature cache. */
export function featureCacheRoot(): string {
  return path.join(buildDir(), "cache", "features");
}

/** Hash the x and y of every batch of `iterate(0)` (disposes them). */
export async function hashBatchStream(data: BatchStream, work?: { checkpoint(describe?: () => string): Promise<void> }): Promise<string> {
  const h = crypto.createHash("sha256");
  for await (const b of data.iterate(0)) {
    for (const t of [b.x, b.y]) {
      h.update(`${t.dtype}:${t.shape.join("x")};`);
      const v = await t.data();
      h.update(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      t.dispose();
    }
    await work?.checkpoint(() => "while hashing the data for the feature cache");
  }
  return h.digest("hex");
}

/** Hash files' bytes (e.g. a dataset's image files, sorted by path) for use as `contentHash`. */
export function hashFiles(files: string[]): string {
  const h = crypto.createHash("sha256");
  for (const f of [...files].sort()) {
    h.update(f.length + ":" + path.basename(f));
    h.update(fs.readFileSync(f));
  }
  return h.digest("hex");
}

function readCache(dir: string): Omit<FeatureSet, "fromCache" | "seconds" | "key" | "dir"> | undefined {
  const metaFile = path.join(dir, "meta.json");
  if (!fs.existsSync(metaFile)) return undefined;
  try {
    const meta = JSON.parse(fs.readFileSync(metaFile, "utf8"));
    const fb = fs.readFileSync(path.join(dir, "features.f32"));
    const lb = fs.readFileSync(path.join(dir, "labels.bin"));
    const perSample = meta.featureShape.reduce((a: number, b: number) => a * b, 1);
    if (fb.byteLength !== meta.numSamples * perSample * 4) return undefined; // damaged: recompute
    const features = new Float32Array(fb.buffer.slice(fb.byteOffset, fb.byteOffset + fb.byteLength));
    const lab = lb.buffer.slice(lb.byteOffset, lb.byteOffset + lb.byteLength);
    const labels = meta.labelDtype === "int32" ? new Int32Array(lab) : new Float32Array(lab);
    return { features, featureShape: meta.featureShape, labels, labelShape: meta.labelShape, numSamples: meta.numSamples };
  } catch {
    return undefined;
  }
}

/**
 * Extract (or load cached) features for every sample of `opts.data`. The backbone runs in inference mode
 * (training=false) batch by batch; no tensors are kept.
 */
export async function extractFeatures(opts: ExtractFeaturesOptions): Promise<FeatureSet> {
  await backendFor("inference");
  // Kernel > Interrupt: checked (and the event loop given a turn) after every batch; see display/interrupt.ts.
  const work = beginWork("feature extraction");
  try {
    // The native backend's step-sized buffer pool is not needed between runs.
    return await releasingNativeBuffers(() => extractFeaturesOnce(opts, work));
  } finally {
    work.end();
  }
}

async function extractFeaturesOnce(opts: ExtractFeaturesOptions, work: ReturnType<typeof beginWork>): Promise<FeatureSet> {
  const t0 = Date.now();
  const model = opts.layer && opts.backbone.outputs[0] && (opts.backbone.outputs[0] as any).sourceLayer?.name !== opts.layer ? cutAtLayer(opts.backbone, opts.layer) : opts.backbone;
  const layer = opts.layer ?? (model.outputs[0] as any).sourceLayer?.name ?? "output";
  const inShape = model.inputs[0].shape.slice(1);
  const pool = opts.pool ?? "avg";
  const contentHash = opts.contentHash ?? (await hashBatchStream(opts.data, work));
  // The weights are part of the key: a backbone fine-tuned (or trained) in the notebook under the same name must
  // never get the pretrained backbone's cached features back.
  const keyParts = { v: 2, backbone: opts.backboneName, weights: weightsFingerprint(model), layer, preprocessing: opts.preprocessing, inputShape: inShape, pool, contentHash, extra: opts.keyExtra ?? null };
  const key = crypto.createHash("sha256").update(JSON.stringify(keyParts)).digest("hex").slice(0, 24);
  const dir = path.join(opts.cacheRoot ?? featureCacheRoot(), `${opts.backboneName.replace(/[^\w.-]/g, "_")}-${key}`);
  if (!opts.refresh) {
    const hit = readCache(dir);
    if (hit) return { ...hit, key, dir, fromCache: true, seconds: (Date.now() - t0) / 1000 };
  }
  const featChunks: Float32Array[] = [];
  const labelChunks: (Int32Array | Float32Array)[] = [];
  let featureShape: number[] | undefined;
  let labelShape: number[] = [];
  let labelDtype: "int32" | "float32" = "int32";
  let n = 0;
  let done = 0;
  const bar = delayedProgress({ total: opts.data.numBatches, label: `features ${opts.backboneName}`, show: opts.progress });
  for await (const b of opts.data.iterate(0) as AsyncIterable<LabeledBatch>) {
    const f = tf.tidy(() => {
      const x = applyPreprocessing(b.x, opts.preprocessing);
      let y = model.predict(x, { batchSize: PREDICT_CHUNK }) as tf.Tensor;
      if (pool === "avg" && y.rank === 4) y = tf.mean(y, [1, 2]);
      return y;
    });
    featureShape = f.shape.slice(1);
    featChunks.push((await f.data()) as Float32Array);
    f.dispose();
    labelShape = b.y.shape.slice(1);
    labelDtype = b.y.dtype === "int32" ? "int32" : "float32";
    const yv = await b.y.data();
    labelChunks.push(labelDtype === "int32" ? Int32Array.from(yv as Int32Array) : Float32Array.from(yv as Float32Array));
    n += b.x.shape[0];
    b.x.dispose();
    b.y.dispose();
    opts.onBatch?.(++done, opts.data.numBatches);
    bar.tick();
    // Nothing is cached from a partial pass: a re-run extracts again from the start.
    await work.checkpoint(() => `at batch ${done}/${opts.data.numBatches} (nothing cached; re-running the cell extracts again)`);
  }
  bar.done();
  if (!featureShape) throw new Error("extractFeatures: the data stream yielded no batches.");
  const features = concatTyped(featChunks, (n) => new Float32Array(n));
  const labels = labelDtype === "int32" ? concatTyped(labelChunks as Int32Array[], (n) => new Int32Array(n)) : concatTyped(labelChunks as Float32Array[], (n) => new Float32Array(n));
  // Write to a temp folder then rename, so an interrupted run never leaves a half cache that looks complete.
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, "features.f32"), Buffer.from(features.buffer, features.byteOffset, features.byteLength));
  fs.writeFileSync(path.join(tmp, "labels.bin"), Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength));
  fs.writeFileSync(
    path.join(tmp, "meta.json"),
    JSON.stringify({ ...keyParts, key, numSamples: n, featureShape, labelShape, labelDtype, createdAt: new Date().toISOString() }, null, 2),
  );
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  return { features, featureShape, labels, labelShape, numSamples: n, key, dir, fromCache: false, seconds: (Date.now() - t0) / 1000 };
}

/** Join typed-array chunks into one array of the same type. */
function concatTyped<T extends Float32Array | Int32Array>(parts: T[], make: (n: number) => T): T {
  const out = make(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Stack feature sets of the same shape into one (e.g. features of several augmented views of a training set, so a
 * head trained on cached features still sees augmentation). Samples keep their order: set 0 first, then set 1...
 */
export function concatFeatureSets(sets: readonly Pick<FeatureSet, "features" | "featureShape" | "labels" | "labelShape" | "numSamples">[]): Pick<FeatureSet, "features" | "featureShape" | "labels" | "labelShape" | "numSamples"> {
  if (sets.length === 0) throw new Error("concatFeatureSets: give at least one feature set.");
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  sets.forEach((s, i) => {
    if (!same(s.featureShape, sets[0].featureShape) || !same(s.labelShape, sets[0].labelShape) || s.labels.constructor !== sets[0].labels.constructor) {
      throw new Error(`concatFeatureSets: set ${i} has features [${s.featureShape}] and labels [${s.labelShape}] (${s.labels.constructor.name}), set 0 has [${sets[0].featureShape}] and [${sets[0].labelShape}] (${sets[0].labels.constructor.name}); extract them with the same backbone, layer and pooling.`);
    }
  });
  const features = concatTyped(sets.map((s) => s.features), (n) => new Float32Array(n));
  const labels = sets[0].labels instanceof Int32Array
    ? concatTyped(sets.map((s) => s.labels as Int32Array), (n) => new Int32Array(n))
    : concatTyped(sets.map((s) => s.labels as Float32Array), (n) => new Float32Array(n));
  return { features, featureShape: [...sets[0].featureShape], labels, labelShape: [...sets[0].labelShape], numSamples: sets.reduce((a, s) => a + s.numSamples, 0) };
}

export interface FeatureStreamOptions {
  batchSize: number;
  /** Shuffle each epoch with seed + epoch (default false). */
  shuffle?: boolean;
  seed?: number;
  /** Restrict to these sample indices (train/val splits of one extracted set). */
  indices?: ArrayLike<number>;
}

/**
 * A BatchStream over an extracted FeatureSet (for training heads on cached features): the pipeline's
 * `featureStream`, with x reshaped back to the set's feature shape when it is a map (pool "none").
 */
export function featureBatchStream(set: Pick<FeatureSet, "features" | "featureShape" | "labels" | "labelShape" | "numSamples">, opts: FeatureStreamOptions): BatchStream {
  const dim = set.featureShape.reduce((a, b) => a * b, 1);
  const labelDim = set.labelShape.length ? set.labelShape.reduce((a, b) => a * b, 1) : undefined;
  return featureStream({
    features: set.features,
    dim,
    labels: set.labels,
    labelDim,
    batchSize: opts.batchSize,
    shuffle: opts.shuffle ?? false,
    seed: opts.seed ?? 0,
    indices: opts.indices,
    batchTransform: set.featureShape.length > 1 ? (b) => ({ x: b.x.reshape([-1, ...set.featureShape]), y: b.y }) : undefined,
  });
}
