import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import sharp from "sharp";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evalPreprocessing, imageSamplesStream, makePixelImage, Rng, trainAugmentation } from "../../../src/helpers/pipeline";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-presets-"));
const files: { path: string; label: number }[] = [];
beforeAll(async () => {
  // 300x200 images: left half red, right half blue; label 0/1 alternating.
  for (let i = 0; i < 5; i++) {
    const raw = Buffer.alloc(300 * 200 * 3);
    for (let y = 0; y < 200; y++) for (let x = 0; x < 300; x++) raw.set(x < 150 ? [255, 0, 0] : [0, 0, 255], (y * 300 + x) * 3);
    const p = path.join(dir, `img${i}.png`);
    await sharp(raw, { raw: { width: 300, height: 200, channels: 3 } }).png().toFile(p);
    files.push({ path: p, label: i % 2 });
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("classification presets", () => {
  it("eval preprocessing resizes the short side then center-crops, deterministically", () => {
    const img = makePixelImage(new Uint8Array(300 * 200 * 3).fill(7), 300, 200, 3);
    const out = evalPreprocessing(224)(img, new Rng(1));
    expect([out.height, out.width]).toEqual([224, 224]);
    expect(evalPreprocessing(224)(img, new Rng(2)).data).toEqual(out.data);
    expect(() => evalPreprocessing(224, 200)).toThrow(/at least the crop size/);
  });

  it("train augmentation gives the target size and differs between seeds", () => {
    const data = new Uint8Array(300 * 200 * 3).map((_, i) => (i * 37) % 251);
    const img = makePixelImage(data, 300, 200, 3);
    const a = trainAugmentation(64)(img, new Rng(1));
    const b = trainAugmentation(64)(img, new Rng(2));
    expect([a.height, a.width, b.height, b.width]).toEqual([64, 64, 64, 64]);
    expect(Buffer.from(a.data as Uint8Array).equals(Buffer.from(b.data as Uint8Array))).toBe(false);
    expect(trainAugmentation(64)(img, new Rng(1)).data).toEqual(a.data);
  });

  it("streams image files in [-1, 1] with the eval recipe, in file order, without leaking tensors", async () => {
    const before = tf.memory().numTensors;
    const s = imageSamplesStream(files, { batchSize: 2, mode: "eval", size: 32 });
    expect([s.numSamples, s.numBatches]).toEqual([5, 3]);
    const labels: number[] = [];
    for await (const b of s.iterate(0)) {
      expect(b.x.shape.slice(1)).toEqual([32, 32, 3]);
      const x = (await b.x.data()) as Float32Array;
      expect(Math.min(...x)).toBeGreaterThanOrEqual(-1 - 1e-6);
      expect(Math.max(...x)).toBeLessThanOrEqual(1 + 1e-6);
      // centre crop of a red|blue split image: left column red (R=1, B=-1), right column blue
      expect(x[0]).toBeCloseTo(1, 5);
      expect(x[2]).toBeCloseTo(-1, 5);
      expect(x[3 * 31 + 2]).toBeCloseTo(1, 5); // right edge: blue
      labels.push(...Array.from(await b.y.data()));
      tf.dispose([b.x, b.y]);
    }
    expect(labels).toEqual([0, 1, 0, 1, 0]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => imageSamplesStream(files, { batchSize: 2, mode: "test" as never })).toThrow(/mode must be/);
  });

  it("mirror gives the left-right flipped eval view, and is refused with the train recipe", async () => {
    const first = async (mirror: boolean) => {
      for await (const batch of imageSamplesStream(files, { batchSize: 1, mode: "eval", size: 32, mirror }).iterate(0)) {
        const x = Array.from(await batch.x.data());
        tf.dispose([batch.x, batch.y]);
        return x;
      }
      throw new Error("no batch");
    };
    const plain = await first(false);
    const mirrored = await first(true);
    // the red|blue split swaps sides: pixel (0, c) of one equals pixel (0, 31 - c) of the other
    for (let c = 0; c < 32; c++) for (let ch = 0; ch < 3; ch++) expect(mirrored[c * 3 + ch]).toBeCloseTo(plain[(31 - c) * 3 + ch], 5);
    expect(mirrored[0]).toBeCloseTo(-1, 5); // left column is now blue
    expect(() => imageSamplesStream(files, { batchSize: 2, mode: "train", mirror: true })).toThrow(/mirror is for mode "eval"/);
  });
});
