process.env.TL_CACHE_DIR ??= require("node:path").resolve(__dirname, "../../../../shared/cache");
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import sharp from "sharp";
import { setupBackend, backendBanner } from "../../../src/helpers/backend";
import { loadBackbone } from "../../../src/helpers/models";
import { cutAtLayer, extractFeatures } from "../../../src/helpers/transfer";
import type { BatchStream } from "../../../src/helpers/types";

// Test-only decoding of a handful of JPEGs; the real ImageFolder loader lives in src/helpers/sets.
async function decode224(file: string): Promise<Float32Array> {
  const raw = await sharp(file).removeAlpha().resize(224, 224, { fit: "fill" }).raw().toBuffer();
  return Float32Array.from(raw);
}

let tmp: string;
let stream: BatchStream;
const files: string[] = [];
beforeAll(async () => {
  const info = await setupBackend({ purpose: "inference" });
  console.log(backendBanner(info));
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-mnv2-"));
  const root = path.join(process.env.TL_CACHE_DIR!, "datasets/hymenoptera_data/train");
  for (const [cls, dir] of ["ants", "bees"].entries()) {
    const names = fs.readdirSync(path.join(root, dir)).filter((f) => f.endsWith(".jpg")).sort().slice(0, 4);
    for (const n of names) files.push(path.join(root, dir, n));
    void cls;
  }
  const pixels = await Promise.all(files.map(decode224));
  const labels = files.map((f) => (f.includes("/bees/") ? 1 : 0));
  stream = {
    numSamples: 8, batchSize: 4, numBatches: 2,
    async *iterate() {
      for (let b = 0; b < 2; b++) {
        const buf = new Float32Array(4 * 224 * 224 * 3);
        for (let i = 0; i < 4; i++) buf.set(pixels[b * 4 + i], i * 224 * 224 * 3);
        yield { x: tf.tensor4d(buf, [4, 224, 224, 3]), y: tf.tensor1d(labels.slice(b * 4, b * 4 + 4), "int32") };
      }
    },
  };
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("MobileNetV2 0.35 features on hymenoptera", () => {
  it("extracts 1280-d features deterministically and caches them", async () => {
    const { model, spec } = await loadBackbone("mobilenet_v2_0.35");
    const backbone = cutAtLayer(model, "out_relu");
    const opts = { backbone, backboneName: spec.name, layer: "out_relu", preprocessing: spec.preprocessing, data: stream, cacheRoot: tmp };
    const a = await extractFeatures(opts);
    console.log(`feature extraction: 8 images in ${a.seconds.toFixed(2)} s on ${tf.getBackend()} (${(8 / a.seconds).toFixed(1)} img/s incl. hashing)`);
    expect(a.fromCache).toBe(false);
    expect(a.featureShape).toEqual([1280]);
    expect(a.numSamples).toBe(8);
    expect(Array.from(a.labels)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    // averaged ReLU6 activations: finite, in [0, 6], not all zero
    expect(a.features.every((v) => Number.isFinite(v) && v >= 0 && v <= 6)).toBe(true);
    expect(a.features.filter((v) => v > 0).length).toBeGreaterThan(8 * 100);
    // different images give different features
    expect(Array.from(a.features.subarray(0, 1280))).not.toEqual(Array.from(a.features.subarray(1280, 2560)));

    const b = await extractFeatures({ ...opts, refresh: true });
    expect(b.fromCache).toBe(false);
    for (let i = 0; i < a.features.length; i++) expect(Math.abs(a.features[i] - b.features[i])).toBeLessThan(1e-5);

    const c = await extractFeatures(opts);
    expect(c.fromCache).toBe(true);
    expect(Array.from(c.features)).toEqual(Array.from(b.features));
  });
});
