import { describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import type { BatchStream, LabeledBatch } from "../../../src/helpers/types";
import { cacheDir } from "../../../src/helpers/config";
import {
  Rng, arrayStream, deriveSeed, featureStream, fewShotIndices, fileStream, seededShuffle,
  streamToTensors, takeIndices, trainValSplit, type DecodedPixels,
} from "../../../src/helpers/pipeline";
import { composeTransforms, randomHorizontalFlip, randomResizedCrop, resizeTransform, centerCrop } from "../../../src/helpers/pipeline/transforms";

tf.setBackend("cpu");

/** N tiny 2x2x1 images whose pixels all equal the sample index, so batches reveal which samples they hold. */
function indexedImages(n: number, w = 2, h = 2, c = 1) {
  const images = new Uint8Array(n * w * h * c);
  for (let i = 0; i < n; i++) images.fill(i, i * w * h * c, (i + 1) * w * h * c);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  return { images, labels, imageShape: [h, w, c] as [number, number, number] };
}

/** Iterate an epoch, returning each batch's data as plain arrays and disposing the tensors. */
async function drain(stream: BatchStream, epoch = 0): Promise<{ xs: Float32Array[]; ys: number[][]; shapes: number[][] }> {
  const xs: Float32Array[] = [], ys: number[][] = [], shapes: number[][] = [];
  for await (const b of stream.iterate(epoch)) {
    xs.push(b.x.dataSync() as Float32Array);
    ys.push(Array.from(b.y.dataSync()));
    shapes.push(b.x.shape);
    tf.dispose([b.x, b.y]);
  }
  return { xs, ys, shapes };
}
const firstPixels = (xs: Float32Array[], per: number) => xs.flatMap((x) => Array.from({ length: x.length / per }, (_, i) => x[i * per]));

describe("Rng", () => {
  it("is reproducible, and resumes from a saved state", () => {
    const a = new Rng(123), b = new Rng(123);
    const seqA = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(seqA);
    expect(new Rng(124).nextUint32()).not.toBe(seqA[0]);
    const saved = JSON.parse(JSON.stringify(a.state()));
    const next = [a.next(), a.int(10), a.normal()];
    const resumed = Rng.fromState(saved);
    expect([resumed.next(), resumed.int(10), resumed.normal()]).toEqual(next);
    expect(() => Rng.fromState([1, 2, 3] as never)).toThrow(/4 integers/);
  });

  it("draws uniform integers without bias and valid permutations", () => {
    const rng = new Rng(7);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[rng.int(6)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(400);
    const p = new Rng(3).permutation(100);
    expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(new Rng(3).permutation(100))).toEqual(Array.from(p));
    expect(seededShuffle(["a", "b", "c", "d", "e", "f"], 1)).toEqual(seededShuffle(["a", "b", "c", "d", "e", "f"], 1));
    expect(deriveSeed(1, 2)).not.toBe(deriveSeed(2, 1));
  });
});

describe("splits and few-shot subsets", () => {
  const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 60 ? 0 : i < 90 ? 1 : 2)); // 60/30/10

  it("splits by fraction, stratified, disjoint and reproducible", () => {
    const { train, val } = trainValSplit(labels, { valFraction: 0.2, seed: 1 });
    const count = (idx: Int32Array, c: number) => Array.from(idx).filter((i) => labels[i] === c).length;
    expect([count(val, 0), count(val, 1), count(val, 2)]).toEqual([12, 6, 2]);
    expect(train.length + val.length).toBe(100);
    expect(new Set([...train, ...val]).size).toBe(100);
    expect(Array.from(trainValSplit(labels, { valFraction: 0.2, seed: 1 }).val)).toEqual(Array.from(val));
    expect(Array.from(trainValSplit(labels, { valFraction: 0.2, seed: 2 }).val)).not.toEqual(Array.from(val));
  });

  it("splits by per-class counts and explains impossible requests", () => {
    const { train, val } = trainValSplit(labels, { trainPerClass: 5, seed: 0 });
    expect(train.length).toBe(15);
    expect(val.length).toBe(85);
    expect(trainValSplit(labels, { valPerClass: 4 }).val.length).toBe(12);
    expect(() => trainValSplit(labels, { valPerClass: 11 })).toThrow(/class 2 has only 10 samples/);
    expect(() => trainValSplit(labels, { valFraction: 0.1, valPerClass: 2 })).toThrow(/exactly one of/);
    expect(() => trainValSplit([0, 1.5], { valFraction: 0.5 })).toThrow(/labels\[1\] = 1.5/);
  });

  it("takes k seeded samples per class", () => {
    const idx = fewShotIndices(labels, 4, 9);
    expect(idx.length).toBe(12);
    for (const c of [0, 1, 2]) expect(Array.from(idx).filter((i) => labels[i] === c).length).toBe(4);
    expect(Array.from(fewShotIndices(labels, 4, 9))).toEqual(Array.from(idx));
    expect(Array.from(fewShotIndices(labels, 4, 10))).not.toEqual(Array.from(idx));
    expect(() => fewShotIndices(labels, 11, 0)).toThrow(/class 2 has 10 samples, fewer than k=11/);
    expect(fewShotIndices(labels, 11, 0, { allowFewer: true }).length).toBe(32);
    expect(takeIndices(["a", "b", "c"], [2, 0])).toEqual(["c", "a"]);
  });
});

describe("arrayStream", () => {
  const data = indexedImages(10);

  it("batches every sample once, in order without shuffle, with dropLast", async () => {
    const s = arrayStream({ ...data, batchSize: 4, normalize: "none" });
    expect([s.numSamples, s.batchSize, s.numBatches]).toEqual([10, 4, 3]);
    const { xs, ys, shapes } = await drain(s);
    expect(shapes).toEqual([[4, 2, 2, 1], [4, 2, 2, 1], [2, 2, 2, 1]]);
    expect(firstPixels(xs, 4)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ys.flat()).toEqual(Array.from(data.labels));
    const dropped = arrayStream({ ...data, batchSize: 4, dropLast: true });
    expect(dropped.numBatches).toBe(2);
    expect((await drain(dropped)).shapes.length).toBe(2);
  });

  it("shuffles differently each epoch, reproducibly for (seed, epoch)", async () => {
    const s = arrayStream({ ...data, batchSize: 3, shuffle: true, seed: 5, normalize: "none" });
    const e0 = firstPixels((await drain(s, 0)).xs, 4);
    const e0again = firstPixels((await drain(s, 0)).xs, 4);
    const e1 = firstPixels((await drain(s, 1)).xs, 4);
    expect(e0).toEqual(e0again);
    expect(e0).not.toEqual(e1);
    expect([...e0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(e0).toEqual(Array.from(s.order(0)));
    const other = arrayStream({ ...data, batchSize: 3, shuffle: true, seed: 6, normalize: "none" });
    expect(firstPixels((await drain(other, 0)).xs, 4)).not.toEqual(e0);
  });

  it("normalises at the end and keeps labels aligned with shuffled samples", async () => {
    const s = arrayStream({ ...data, batchSize: 10, shuffle: true, seed: 1 }); // default "unit": x / 255
    const { x, y } = await streamToTensors(s);
    const xv = x.dataSync(), yv = y.dataSync();
    for (let b = 0; b < 10; b++) {
      const sample = Math.round(xv[b * 4] * 255);
      expect(xv[b * 4]).toBeCloseTo(sample / 255, 6);
      expect(yv[b]).toBe(data.labels[sample]);
    }
    tf.dispose([x, y]);
  });

  it("gives each sample the same augmentation for a (seed, epoch) whatever the batch size", async () => {
    const rgb = new Uint8Array(6 * 8 * 8 * 3).map((_, i) => (i * 37) % 251);
    const base = { images: rgb, imageShape: [8, 8, 3] as [number, number, number], labels: [0, 1, 0, 1, 0, 1], seed: 3, normalize: "none" as const };
    const transform = composeTransforms([randomResizedCrop(5), randomHorizontalFlip()]);
    const a = await streamToTensors(arrayStream({ ...base, batchSize: 4, transform }), 2);
    const b = await streamToTensors(arrayStream({ ...base, batchSize: 1, transform, prefetch: 3 }), 2);
    const c = await streamToTensors(arrayStream({ ...base, batchSize: 4, transform }), 3);
    expect(a.x.shape).toEqual([6, 5, 5, 3]);
    expect(Array.from(a.x.dataSync())).toEqual(Array.from(b.x.dataSync()));
    expect(Array.from(a.x.dataSync())).not.toEqual(Array.from(c.x.dataSync()));
    tf.dispose([a.x, a.y, b.x, b.y, c.x, c.y]);
  });

  it("does not leak tensors over an epoch, an early break, or a batchTransform", async () => {
    const s = arrayStream({
      ...indexedImages(50), batchSize: 8, shuffle: true,
      batchTransform: ({ x, y }) => ({ x: x.mul(2).sub(1), y }),
    });
    const before = tf.memory().numTensors;
    for await (const b of s.iterate(0)) tf.dispose([b.x, b.y]);
    expect(tf.memory().numTensors).toBe(before);
    for await (const b of s.iterate(1)) {
      tf.dispose([b.x, b.y]);
      break;
    }
    await new Promise((r) => setTimeout(r, 10)); // let the abandoned prefetch settle
    expect(tf.memory().numTensors).toBe(before);
    const failing = arrayStream({ ...indexedImages(4), batchSize: 2, batchTransform: ({ x }) => { x.square(); throw new Error("boom"); } });
    await expect(failing.iterate(0).next()).rejects.toThrow(/boom/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("passes float images through 'unit' and gives batchTransform a reproducible per-batch rng", async () => {
    const images = new Float32Array(4 * 4).map((_, i) => i / 16);
    const noisy = () => arrayStream({
      images, imageShape: [2, 2, 1], labels: [0, 1, 0, 1], batchSize: 2, seed: 1,
      batchTransform: ({ x, y }, { rng, batchIndex }) => ({ x: x.add(rng.next() + batchIndex), y }),
    });
    const a = await streamToTensors(noisy(), 0), b = await streamToTensors(noisy(), 0), c = await streamToTensors(noisy(), 1);
    expect(Array.from(a.x.dataSync())).toEqual(Array.from(b.x.dataSync()));
    expect(Array.from(a.x.dataSync())).not.toEqual(Array.from(c.x.dataSync()));
    const plain = await streamToTensors(arrayStream({ images, imageShape: [2, 2, 1], labels: [0, 1, 0, 1], batchSize: 4 }));
    expect(Array.from(plain.x.dataSync())).toEqual(Array.from(images));
    tf.dispose([a.x, a.y, b.x, b.y, c.x, c.y, plain.x, plain.y]);
  });

  it("applies batchTransform, one-hot and multi-hot labels, subsets and mid-epoch resume", async () => {
    const d = indexedImages(9);
    const s = arrayStream({ ...d, batchSize: 4, normalize: "none", oneHot: 3, batchTransform: ({ x, y }) => ({ x: x.add(1), y }) });
    const first = await s.iterate(0).next();
    const b = first.value as LabeledBatch;
    expect(b.y.shape).toEqual([4, 3]);
    expect(Array.from(b.y.dataSync())).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0]);
    expect(b.x.dataSync()[0]).toBe(1);
    tf.dispose([b.x, b.y]);
    const multi = arrayStream({ ...d, labels: new Float32Array(9 * 2).fill(1), labelDim: 2, batchSize: 9 });
    const m = await streamToTensors(multi);
    expect(m.y.shape).toEqual([9, 2]);
    expect(m.y.dtype).toBe("float32");
    tf.dispose([m.x, m.y]);
    const sub = arrayStream({ ...d, batchSize: 2, indices: [7, 2, 5], normalize: "none" });
    expect(firstPixels((await drain(sub)).xs, 4)).toEqual([7, 2, 5]);
    const shuffled = arrayStream({ ...d, batchSize: 2, shuffle: true, seed: 4, normalize: "none" });
    const full = firstPixels((await drain(shuffled, 1)).xs, 4);
    const tail: number[] = [];
    for await (const bb of shuffled.iterate(1, 2)) { tail.push(...firstPixels([bb.x.dataSync() as Float32Array], 4)); tf.dispose([bb.x, bb.y]); }
    expect(tail).toEqual(full.slice(4));
  });

  it("explains bad arguments", () => {
    expect(() => arrayStream({ ...data, batchSize: 0 })).toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => arrayStream({ ...data, labels: [1, 2], batchSize: 2 })).toThrow(/10 samples but 2 labels/);
    expect(() => arrayStream({ ...data, imageShape: [3, 3, 1], batchSize: 2 })).toThrow(/not a multiple of 3x3x1/);
    expect(() => arrayStream({ ...data, batchSize: 2, oneHot: 2 })).toThrow(/labels\[2\] = 2 is not < oneHot classes \(2\)/);
    expect(() => arrayStream({ ...data, batchSize: 2, indices: [10] })).toThrow(/out of range/);
    expect(() => arrayStream({ ...data, batchSize: 2, normalize: "imagnet" as never })).toThrow(/Unknown normalization "imagnet"/);
  });
});

describe("featureStream", () => {
  it("streams feature rows [B, D] in shuffled but reproducible order", async () => {
    const n = 7, D = 5;
    const features = Float32Array.from({ length: n * D }, (_, i) => Math.floor(i / D) + (i % D) / 10);
    const s = featureStream({ features, dim: D, labels: Array.from({ length: n }, (_, i) => i), batchSize: 3, shuffle: true, seed: 2 });
    const { xs, ys, shapes } = await drain(s);
    expect(shapes).toEqual([[3, 5], [3, 5], [1, 5]]);
    const rowsFirst = firstPixels(xs, D);
    expect(rowsFirst).toEqual(ys.flat()); // row i starts with value i and has label i
    expect(xs[0][1] - xs[0][0]).toBeCloseTo(0.1, 6);
    expect(() => featureStream({ features, dim: 4, labels: [], batchSize: 1 })).toThrow(/not a multiple of dim 4/);
  });
});

describe("fileStream", () => {
  /** Fake decoder: sizes vary per file; records how many decodes run at once. */
  function fakeDecoder(delayMs = 2) {
    const st = { active: 0, maxActive: 0, calls: 0 };
    const decode = async (p: string): Promise<DecodedPixels> => {
      st.calls++;
      st.active++;
      st.maxActive = Math.max(st.maxActive, st.active);
      await new Promise((r) => setTimeout(r, delayMs));
      st.active--;
      const i = Number(p.replace("img", ""));
      const w = 20 + i, h = 16 + (i % 4);
      return { data: new Uint8Array(w * h * 3).fill(i), width: w, height: h };
    };
    return { decode, st };
  }
  const samples = Array.from({ length: 20 }, (_, i) => ({ path: `img${i}`, label: i % 2 }));

  it("decodes lazily with bounded concurrency and one batch of prefetch", async () => {
    const { decode, st } = fakeDecoder();
    const s = fileStream({ samples, decode, batchSize: 4, concurrency: 2, transform: resizeTransform([8, 8]), normalize: "none" });
    const it0 = s.iterate(0);
    const first = (await it0.next()).value as LabeledBatch;
    expect(first.x.shape).toEqual([4, 8, 8, 3]);
    await new Promise((r) => setTimeout(r, 30));
    expect(st.calls).toBeLessThanOrEqual(8); // this batch + one prefetched, not the whole set
    tf.dispose([first.x, first.y]);
    const before = tf.memory().numTensors;
    let seen = 4;
    for await (const b of it0) { seen += b.x.shape[0]; tf.dispose([b.x, b.y]); }
    expect(seen).toBe(20);
    expect(st.maxActive).toBeLessThanOrEqual(2);
    expect(st.maxActive).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("says how to fix samples of different sizes, and names files that fail to decode", async () => {
    const { decode } = fakeDecoder(0);
    const s = fileStream({ samples, decode, batchSize: 4 });
    await expect(s.iterate(0).next()).rejects.toThrow(/different shapes.*randomResizedCrop\(224\)/s);
    const bad = fileStream({ samples, decode: async () => { throw new Error("corrupt JPEG"); }, batchSize: 2 });
    await expect(bad.iterate(0).next()).rejects.toThrow(/could not decode img\d+: corrupt JPEG/);
  });

  const ants = path.join(cacheDir(), "datasets", "hymenoptera_data", "train", "ants"); // TL_CACHE_DIR: CI points it at the pre-filled cache
  it.skipIf(!fs.existsSync(ants))("streams real JPEGs decoded by sharp with RandomResizedCrop + flip", async () => {
    const files = fs.readdirSync(ants).filter((f) => f.endsWith(".jpg")).slice(0, 6).map((f) => ({ path: path.join(ants, f), label: 0 }));
    const decode = async (p: string): Promise<DecodedPixels> => {
      const { data, info } = await sharp(p).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: info.channels };
    };
    const train = fileStream({ samples: files, decode, batchSize: 4, shuffle: true, seed: 1, normalize: "imagenet",
      transform: composeTransforms([randomResizedCrop(64), randomHorizontalFlip()]) });
    const a = await streamToTensors(train, 0), b = await streamToTensors(train, 0);
    expect(a.x.shape).toEqual([6, 64, 64, 3]);
    expect(Array.from(a.x.dataSync())).toEqual(Array.from(b.x.dataSync()));
    const mean = a.x.mean().dataSync()[0];
    expect(mean).toBeGreaterThan(-2);
    expect(mean).toBeLessThan(2);
    const evalStream = fileStream({ samples: files, decode, batchSize: 6, transform: composeTransforms([resizeTransform(72), centerCrop(64)]) });
    const e = await streamToTensors(evalStream);
    expect(e.x.max().dataSync()[0]).toBeLessThanOrEqual(1);
    tf.dispose([a.x, a.y, b.x, b.y, e.x, e.y]);
  });
});
