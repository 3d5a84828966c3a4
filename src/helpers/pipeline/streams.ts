/**
 * Input pipelines: batch streams that implement `BatchStream` (shuffles and splits are in splits.ts).
 *
 * Three stream builders, one behaviour:
 *   - `arrayStream`   in-memory images (uint8 or float, N x H x W x C) + labels (CIFAR-10, MNIST, ...)
 *   - `fileStream`    image files + an injected async `decode(path)`: decoded lazily per batch with bounded
 *                     concurrency, and the next batch prepared while the consumer trains on this one
 *   - `featureStream` precomputed feature rows [N, D] (training a head on cached features)
 *
 * Reproducibility: the sample order of epoch e is a permutation seeded by (seed, e); each sample's augmentation
 * uses its own Rng seeded by (seed, e, sampleIndex), so results do not depend on batch size, prefetching or
 * decode order, and resuming at (epoch, batch) needs no saved RNG state.
 *
 * Memory: samples are prepared as typed arrays; tensors are created only for the batch being yielded, and the
 * consumer owns (disposes) them. Stopping early (break) leaves nothing behind: prefetched work holds no tensors.
 */
import * as os from "node:os";
import * as tf from "@tensorflow/tfjs";
import type { BatchStream, LabeledBatch } from "../types";
import { Rng, deriveSeed } from "./rng";
import { checkLabels } from "./splits";
import {
  type PixelImage, type NormalizationSpec, type PixelArray, type SampleTransform,
  checkNormalizationSpec, makePixelImage, normalizationAffine, toRgbImage,
} from "./transforms";

/** What `batchTransform` gets besides the batch. */
export interface BatchTransformInfo {
  epoch: number;
  batchIndex: number;
  rng: Rng;
}

/** Options shared by every stream. */
export interface PipelineStreamOptions {
  /** Samples per batch (positive integer). */
  batchSize: number;
  /** Shuffle each epoch (order seeded by (seed, epoch)). Default false. */
  shuffle?: boolean;
  /** Seed for shuffling and augmentation. Default 0. */
  seed?: number;
  /** Drop the last incomplete batch. Default false. */
  dropLast?: boolean;
  /** Stream only these sample indices (e.g. from trainValSplit / fewShotIndices). */
  indices?: ArrayLike<number>;
  /**
   * Labels as one-hot float32 [B, numClasses] instead of int32 class indices [B].
   * (Ignored when `labelDim` is set.)
   */
  oneHot?: number;
  /** Multi-label: `labels` holds N x labelDim floats (multi-hot); y is float32 [B, labelDim]. */
  labelDim?: number;
  /**
   * Tensor-level transform of each batch (e.g. mixup, tf-op augmentation), run inside tf.tidy; input tensors it
   * does not return are disposed for you. `info.rng` is seeded by (seed, epoch, batchIndex) for reproducibility.
   */
  batchTransform?: (batch: LabeledBatch, info: BatchTransformInfo) => LabeledBatch;
  /** Batches prepared ahead of the consumer (default 1; 0 disables). */
  prefetch?: number;
}

/** Options for image streams. */
export interface PipelineImageOptions extends PipelineStreamOptions {
  /** Per-sample transform on the HWC image (uint8 or float), given a per-sample seeded Rng. */
  transform?: SampleTransform;
  /**
   * Normalisation applied last, while packing the batch (default "unit": uint8 -> [0,1], floats pass through).
   * Uint8 samples are read as 0..255, float samples as already in [0,1]. Use "none" to keep raw values.
   */
  normalize?: NormalizationSpec;
}

interface Prepared {
  x: Float32Array;
  xShape: number[];
  y: Int32Array | Float32Array;
  yShape: number[];
}

interface StreamCore {
  numSamples: number; // size of the underlying source
  /** Fill one batch; `sources` are source indices, `epoch` seeds augmentation. */
  prepare(sources: Int32Array, epoch: number): Promise<{ x: Float32Array; sampleShape: number[] }>;
}

function checkPositiveInt(v: number, name: string): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${v}.`);
}

/** The shared BatchStream implementation behind arrayStream / fileStream / featureStream. */
class IndexedBatchStream implements BatchStream {
  readonly numSamples: number;
  readonly batchSize: number;
  readonly numBatches: number;
  private readonly indices: Int32Array;

  constructor(
    private readonly core: StreamCore,
    private readonly labels: ArrayLike<number>,
    private readonly opts: PipelineStreamOptions,
  ) {
    checkPositiveInt(opts.batchSize, "batchSize");
    const prefetch = opts.prefetch ?? 1;
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new Error(`prefetch must be a non-negative integer, got ${prefetch}.`);
    const n = core.numSamples;
    if (opts.labelDim !== undefined) {
      checkPositiveInt(opts.labelDim, "labelDim");
      if (labels.length !== n * opts.labelDim) {
        throw new Error(`Multi-label data: expected ${n} samples x labelDim ${opts.labelDim} = ${n * opts.labelDim} label values, got ${labels.length}.`);
      }
    } else {
      if (labels.length !== n) {
        throw new Error(`Label count mismatch: ${n} samples but ${labels.length} labels. Pass one class index per sample (or set labelDim for multi-hot labels).`);
      }
      checkLabels(labels, "stream");
      if (opts.oneHot !== undefined) {
        checkPositiveInt(opts.oneHot, "oneHot (number of classes)");
        for (let i = 0; i < n; i++) {
          if (labels[i] >= opts.oneHot) throw new Error(`labels[${i}] = ${labels[i]} is not < oneHot classes (${opts.oneHot}).`);
        }
      }
    }
    if (opts.indices) {
      this.indices = Int32Array.from(opts.indices);
      for (const i of this.indices) if (i < 0 || i >= n) throw new Error(`indices: ${i} is out of range [0, ${n}).`);
    } else {
      this.indices = new Int32Array(n);
      for (let i = 0; i < n; i++) this.indices[i] = i;
    }
    this.numSamples = this.indices.length;
    this.batchSize = opts.batchSize;
    this.numBatches = opts.dropLast ? Math.floor(this.numSamples / this.batchSize) : Math.ceil(this.numSamples / this.batchSize);
  }

  /** The source indices of epoch `epoch`, in the order they will be batched. */
  order(epoch: number = 0): Int32Array {
    const order = this.indices.slice();
    if (this.opts.shuffle) new Rng(deriveSeed(this.opts.seed ?? 0, epoch, -1)).shuffle(order);
    return order;
  }

  private async prepareBatch(sources: Int32Array, epoch: number): Promise<Prepared> {
    const { x, sampleShape } = await this.core.prepare(sources, epoch);
    const B = sources.length;
    const { labelDim, oneHot } = this.opts;
    let y: Int32Array | Float32Array, yShape: number[];
    if (labelDim !== undefined) {
      y = new Float32Array(B * labelDim);
      for (let b = 0; b < B; b++) for (let j = 0; j < labelDim; j++) y[b * labelDim + j] = this.labels[sources[b] * labelDim + j];
      yShape = [B, labelDim];
    } else if (oneHot !== undefined) {
      y = new Float32Array(B * oneHot);
      for (let b = 0; b < B; b++) y[b * oneHot + this.labels[sources[b]]] = 1;
      yShape = [B, oneHot];
    } else {
      y = new Int32Array(B);
      for (let b = 0; b < B; b++) y[b] = this.labels[sources[b]];
      yShape = [B];
    }
    return { x, xShape: [B, ...sampleShape], y, yShape };
  }

  /**
   * One pass over the data. `fromBatch` skips the first batches (resume mid-epoch) without preparing them.
   * The caller owns and must dispose each batch's tensors.
   */
  iterate(epoch: number = 0, fromBatch: number = 0): AsyncIterableIterator<LabeledBatch> {
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`iterate: epoch must be a non-negative integer, got ${epoch}.`);
    if (!Number.isInteger(fromBatch) || fromBatch < 0) throw new Error(`iterate: fromBatch must be a non-negative integer, got ${fromBatch}.`);
    return this.run(epoch, fromBatch);
  }

  private async *run(epoch: number, fromBatch: number): AsyncGenerator<LabeledBatch, void, undefined> {
    const order = this.order(epoch);
    const bs = this.batchSize, total = this.numBatches, prefetch = this.opts.prefetch ?? 1;
    const pending: Promise<Prepared>[] = [];
    let next = fromBatch;
    const launch = () => {
      const sources = order.subarray(next * bs, Math.min((next + 1) * bs, order.length));
      const p = this.prepareBatch(sources, epoch);
      p.catch(() => undefined); // surfaced when awaited; avoids unhandled rejections if the consumer stops early
      pending.push(p);
      next++;
    };
    for (let b = fromBatch; b < total; b++) {
      while (next < total && pending.length <= prefetch) launch();
      const prep = await pending.shift()!;
      yield this.toTensors(prep, epoch, b);
    }
  }

  private toTensors(p: Prepared, epoch: number, batchIndex: number): LabeledBatch {
    const x = tf.tensor(p.x, p.xShape, "float32");
    const y = p.y instanceof Int32Array ? tf.tensor(p.y, p.yShape, "int32") : tf.tensor(p.y, p.yShape, "float32");
    const bt = this.opts.batchTransform;
    if (!bt) return { x, y };
    let out: LabeledBatch;
    try {
      out = tf.tidy(() => {
        const r = bt({ x, y }, { epoch, batchIndex, rng: new Rng(deriveSeed(this.opts.seed ?? 0, epoch, -2 - batchIndex)) });
        // Duck-typed (not instanceof) so tensors from another tfjs package instance are accepted.
        const isTensor = (t: unknown) => !!t && typeof (t as tf.Tensor).dispose === "function" && Array.isArray((t as tf.Tensor).shape);
        if (!r || !isTensor(r.x) || !isTensor(r.y)) throw new Error("batchTransform must return an object {x, y} of tensors.");
        return { x: r.x, y: r.y };
      });
    } catch (e) {
      x.dispose();
      y.dispose();
      throw e;
    }
    if (out.x !== x) x.dispose();
    if (out.y !== y && out.x !== y) y.dispose();
    return out;
  }
}

/** A BatchStream that can also say its per-epoch order and resume mid-epoch. */
export interface SeededBatchStream extends BatchStream {
  /** Source indices in the order epoch `epoch` will yield them. */
  order(epoch?: number): Int32Array;
  iterate(epoch?: number, fromBatch?: number): AsyncIterableIterator<LabeledBatch>;
}

/** Turns per-sample images into one packed, normalised Float32Array batch, checking that shapes agree. */
function packImages(images: PixelImage[], normalize: NormalizationSpec, who: string): { x: Float32Array; sampleShape: number[] } {
  const first = images[0];
  const per = first.width * first.height * first.channels;
  const x = new Float32Array(images.length * per);
  for (let b = 0; b < images.length; b++) {
    const img = images[b];
    if (img.width !== first.width || img.height !== first.height || img.channels !== first.channels) {
      throw new Error(
        `${who}: samples in a batch have different shapes (${first.height}x${first.width}x${first.channels} vs ` +
          `${img.height}x${img.width}x${img.channels}). Add a transform that gives every sample the same size, ` +
          `e.g. composeTransforms([resizeTransform(256), centerCrop(224)]) or randomResizedCrop(224).`,
      );
    }
    const { scale, offset } = normalizationAffine(normalize, img.channels, img.data instanceof Uint8Array ? "uint8" : "unit");
    const src = img.data, C = img.channels, base = b * per;
    if (C === 3) {
      const s0 = scale[0], s1 = scale[1], s2 = scale[2], o0 = offset[0], o1 = offset[1], o2 = offset[2];
      for (let i = 0; i < per; i += 3) {
        x[base + i] = src[i] * s0 + o0;
        x[base + i + 1] = src[i + 1] * s1 + o1;
        x[base + i + 2] = src[i + 2] * s2 + o2;
      }
    } else {
      for (let i = 0; i < per; i++) x[base + i] = src[i] * scale[i % C] + offset[i % C];
    }
  }
  return { x, sampleShape: [first.height, first.width, first.channels] };
}

function sampleRng(opts: PipelineStreamOptions, epoch: number, source: number): Rng {
  return new Rng(deriveSeed(opts.seed ?? 0, epoch, source));
}

/** Input of `arrayStream`. */
export interface ArrayStreamOptions extends PipelineImageOptions {
  /** N images, HWC each, concatenated (e.g. CIFAR-10 `images`, MNIST pixels). */
  images: PixelArray;
  /** [height, width, channels] of one image. */
  imageShape: readonly [number, number, number];
  /** One class index per image (or N x labelDim multi-hot values). */
  labels: ArrayLike<number>;
}

/**
 * Stream in-memory images. Example (CIFAR-10 with the standard augmentation):
 *   arrayStream({ images, imageShape: [32, 32, 3], labels, batchSize: 128, shuffle: true, seed: 1,
 *     transform: composeTransforms([randomCrop(32, { padding: 4 }), randomHorizontalFlip()]), normalize: "imagenet" })
 */
export function arrayStream(opts: ArrayStreamOptions): SeededBatchStream {
  const [h, w, c] = opts.imageShape;
  if (![h, w, c].every((v) => Number.isInteger(v) && v > 0)) throw new Error(`arrayStream: imageShape must be [height, width, channels] positive integers, got ${JSON.stringify(opts.imageShape)}.`);
  if (!(opts.images instanceof Uint8Array || opts.images instanceof Float32Array)) throw new Error("arrayStream: images must be a Uint8Array or Float32Array of N*H*W*C values.");
  const per = h * w * c;
  if (opts.images.length % per !== 0) {
    throw new Error(`arrayStream: images has ${opts.images.length} values, not a multiple of ${h}x${w}x${c} = ${per}. Check imageShape (HWC).`);
  }
  const n = opts.images.length / per;
  const normalize = opts.normalize ?? "unit";
  checkNormalizationSpec(normalize);
  const core: StreamCore = {
    numSamples: n,
    prepare: async (sources, epoch) => {
      const imgs: PixelImage[] = new Array(sources.length);
      for (let b = 0; b < sources.length; b++) {
        const s = sources[b];
        let img: PixelImage = { data: opts.images.subarray(s * per, (s + 1) * per), width: w, height: h, channels: c };
        if (opts.transform) img = opts.transform(img, sampleRng(opts, epoch, s));
        imgs[b] = img;
      }
      return packImages(imgs, normalize, "arrayStream");
    },
  };
  return new IndexedBatchStream(core, opts.labels, opts);
}

/** What a decoder returns: RGB (or gray/RGBA) HWC pixels. Matches the data module's `decodeImage`. */
export interface DecodedPixels {
  data: PixelArray;
  width: number;
  height: number;
  channels?: number;
}

/** Input of `fileStream`. */
export interface FileStreamOptions extends PipelineImageOptions {
  /** Files with labels, e.g. `imageFolder(dir).samples`. */
  samples: readonly { path: string; label: number }[];
  /**
   * Async decoder, e.g. `(p) => decodeImage(p, { size: 256 })` from the data module. It gets the sample's seeded Rng
   * (the one `transform` then continues), so a native random crop (decodeRandomResizedCrop) stays reproducible.
   */
  decode: (path: string, rng: Rng) => Promise<DecodedPixels>;
  /** Decodes running at once, current and prefetched batch together (default min(4, CPU cores); sharp decodes off the main thread). */
  concurrency?: number;
  /** Convert gray/RGBA decodes to RGB (default true). */
  rgb?: boolean;
}

/**
 * Stream image files, decoding lazily: only the current batch (plus `prefetch` batches ahead) is ever decoded.
 * The transform must give every sample the same size (e.g. randomResizedCrop(224) or resize + centerCrop).
 * Decoding dominates the cost for photos; a decoder that shrinks while decoding (sharp shrink-on-load, e.g. the data
 * module's `decodeImage(p, { size })`) is several times faster, at the price of cropping from a smaller image.
 */
export function fileStream(opts: FileStreamOptions): SeededBatchStream {
  if (!Array.isArray(opts.samples)) throw new Error("fileStream: samples must be an array of {path, label}.");
  if (typeof opts.decode !== "function") throw new Error("fileStream: decode must be an async function (path) => {data, width, height}.");
  const concurrency = opts.concurrency ?? Math.max(1, Math.min(4, os.cpus().length));
  checkPositiveInt(concurrency, "fileStream concurrency");
  const normalize = opts.normalize ?? "unit";
  checkNormalizationSpec(normalize);
  const labels = opts.samples.map((s) => s.label);
  const loadOne = async (s: number, epoch: number): Promise<PixelImage> => {
    const { path } = opts.samples[s];
    const rng = sampleRng(opts, epoch, s);
    let dec: DecodedPixels;
    try {
      dec = await opts.decode(path, rng);
    } catch (e) {
      throw new Error(`fileStream: could not decode ${path}: ${(e as Error).message}`);
    }
    let img = makePixelImage(dec.data, dec.width, dec.height, dec.channels);
    if (opts.rgb ?? true) img = toRgbImage(img);
    return opts.transform ? opts.transform(img, rng) : img;
  };
  // One FIFO limiter for the whole stream, so the current and prefetched batches together never run more than
  // `concurrency` decodes, and the current batch's decodes (queued first) are served first.
  const limit = fifoLimiter(concurrency);
  const core: StreamCore = {
    numSamples: opts.samples.length,
    prepare: async (sources, epoch) => {
      const imgs = await Promise.all(Array.from(sources, (s) => limit(() => loadOne(s, epoch))));
      return packImages(imgs, normalize, "fileStream");
    },
  };
  return new IndexedBatchStream(core, labels, opts);
}

/** Run at most `n` async jobs at once, starting queued jobs in call order. */
function fifoLimiter(n: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    active--;
    const next = queue.shift();
    if (next) next();
  };
  return <T>(job: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const start = () => {
        active++;
        job().then(resolve, reject).finally(release);
      };
      if (active < n) start();
      else queue.push(start);
    });
}

/** Input of `featureStream`. */
export interface FeatureArrayStreamOptions extends PipelineStreamOptions {
  /** N x dim features, row-major. */
  features: Float32Array;
  /** Feature dimension D. */
  dim: number;
  labels: ArrayLike<number>;
}

/** Stream precomputed feature rows: x is float32 [B, dim]. */
export function featureStream(opts: FeatureArrayStreamOptions): SeededBatchStream {
  checkPositiveInt(opts.dim, "featureStream dim");
  if (!(opts.features instanceof Float32Array)) throw new Error("featureStream: features must be a Float32Array of N*dim values.");
  if (opts.features.length % opts.dim !== 0) {
    throw new Error(`featureStream: features has ${opts.features.length} values, not a multiple of dim ${opts.dim}.`);
  }
  const D = opts.dim;
  const core: StreamCore = {
    numSamples: opts.features.length / D,
    prepare: async (sources) => {
      const x = new Float32Array(sources.length * D);
      for (let b = 0; b < sources.length; b++) x.set(opts.features.subarray(sources[b] * D, (sources[b] + 1) * D), b * D);
      return { x, sampleShape: [D] };
    },
  };
  return new IndexedBatchStream(core, opts.labels, opts);
}

/**
 * Run one epoch of a stream and concatenate it into single tensors (for small sets: evaluation, plots).
 * Batch tensors are disposed; the caller owns the returned x and y.
 */
export async function streamToTensors(stream: BatchStream, epoch: number = 0): Promise<LabeledBatch> {
  const xs: tf.Tensor[] = [], ys: tf.Tensor[] = [];
  try {
    for await (const b of stream.iterate(epoch)) {
      xs.push(b.x);
      ys.push(b.y);
    }
    if (xs.length === 0) throw new Error("streamToTensors: the stream yielded no batches (empty data, or dropLast with fewer samples than batchSize).");
    return { x: tf.concat(xs, 0), y: tf.concat(ys, 0) };
  } finally {
    tf.dispose(xs);
    tf.dispose(ys);
  }
}
