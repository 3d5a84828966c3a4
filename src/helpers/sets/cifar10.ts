/** CIFAR-10 from the official binary batches; its URL and checksum are registered here. */
import * as fs from "node:fs";
import * as path from "node:path";
import { ENV } from "../config";
import { datasetDir } from "../fetch/cache";
import { registerKnownDownload } from "../fetch";
import { ensureExtracted, type EnsureDatasetOptions } from "../fetch/ensure";
import type { ArrayDataset } from "./arrays";

// md5 as published on https://www.cs.toronto.edu/~kriz/cifar.html
export const CIFAR10_URL = registerKnownDownload({
  url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", name: "CIFAR-10 (binary version)", md5: "c32a1d4ab5d03f1284b67883e8d87530",
});
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
