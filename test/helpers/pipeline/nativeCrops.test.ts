/**
 * The libvips crops against torchvision/PIL (reference outputs computed here by Debian's python3-torchvision),
 * against the JS transforms, and their determinism inside a prefetching stream.
 * Tolerance (levels of 0..255): at most 4 per pixel, mean under 0.5; a JPEG that shrinks while decoding: at most 8, mean under 1.
 * (Measured on the hymenoptera photos: max 2-4, mean 0.15-0.25; these synthetic pictures have finer stripes.)
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import sharp from "sharp";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  decodeImage, decodeRandomResizedCrop, decodeResizeCenterCrop, evalPreprocessing, fileStream, ImageDecodeError, makePixelImage,
  randomHorizontalFlip, randomResizedCrop, randomResizedCropBox, Rng,
} from "../../../src/helpers/pipeline";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tl-native-crops-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A photo-like picture: smooth colour gradients, an edge and fine stripes, so both filters and alignment matter. */
function picture(w: number, h: number): Buffer {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      raw[i] = Math.round(127 + 120 * Math.sin(x / 23 + y / 41));
      raw[i + 1] = x > w * 0.6 ? 220 : Math.round((255 * y) / h);
      raw[i + 2] = Math.round(127 + 100 * Math.sin(x / 3.1) * Math.cos(y / 5.3));
    }
  }
  return raw;
}

const images: Record<string, string> = {};
beforeAll(async () => {
  const make = async (name: string, w: number, h: number, fmt: "jpeg" | "png") => {
    const p = path.join(dir, name);
    const s = sharp(picture(w, h), { raw: { width: w, height: h, channels: 3 } });
    await (fmt === "jpeg" ? s.jpeg({ quality: 92 }) : s.png()).toFile(p);
    images[name] = p;
  };
  await make("landscape.jpg", 500, 375, "jpeg");
  await make("portrait.png", 333, 500, "png");
  await make("large.jpg", 1984, 1488, "jpeg"); // short side >= 2 x 256: shrink-on-load
  await make("small.png", 200, 150, "png"); // short side < 256: Resize enlarges
});

const python = "/usr/bin/python3";
const hasTorchvision = spawnSync(python, ["-c", "import torchvision, PIL"], { stdio: "ignore" }).status === 0;

/** torchvision's output for `file`: Resize(256) + CenterCrop(224), or resized_crop to 224 of a box. */
function torchvision(file: string, box?: { top: number; left: number; height: number; width: number }): Uint8Array {
  const out = path.join(dir, "ref.raw");
  const script = [
    "import sys, numpy as np", "from PIL import Image", "import torchvision.transforms as T, torchvision.transforms.functional as F",
    "img = Image.open(sys.argv[1]).convert('RGB')",
    "r = T.Compose([T.Resize(256), T.CenterCrop(224)])(img) if sys.argv[2] == 'eval' else F.resized_crop(img, *map(int, sys.argv[2].split(',')), [224, 224])",
    "np.asarray(r, dtype=np.uint8).tofile(sys.argv[3])",
  ].join("\n");
  const mode = box ? `${box.top},${box.left},${box.height},${box.width}` : "eval";
  const r = spawnSync(python, ["-c", script, file, mode, out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`torchvision reference failed: ${r.stderr}`);
  return new Uint8Array(fs.readFileSync(out));
}

function diff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

describe("decodeResizeCenterCrop / decodeRandomResizedCrop (libvips)", () => {
  it.skipIf(!hasTorchvision)("matches torchvision Resize(256) + CenterCrop(224) within 4 levels (8 after shrink-on-load)", async () => {
    for (const [name, maxTol, meanTol] of [["landscape.jpg", 4, 0.5], ["portrait.png", 4, 0.5], ["large.jpg", 8, 1], ["small.png", 4, 0.5]] as const) {
      const out = await decodeResizeCenterCrop(images[name], { resize: 256, crop: 224 });
      expect([out.height, out.width, out.channels]).toEqual([224, 224, 3]);
      const d = diff(out.data, torchvision(images[name]));
      expect(d.max, name).toBeLessThanOrEqual(maxTol);
      expect(d.mean, name).toBeLessThan(meanTol);
    }
  });

  it.skipIf(!hasTorchvision)("matches torchvision's resized_crop of the same box (RandomResizedCrop's resize) within 4 levels, shrinking or enlarging", async () => {
    for (const seed of [1, 2, 3, 7]) { // seeds 3 and 7 draw boxes smaller than 224 (enlarged)
      const file = images["landscape.jpg"];
      const box = randomResizedCropBox(375, 500, new Rng(seed));
      const out = await decodeRandomResizedCrop(file, 224, new Rng(seed));
      const d = diff(out.data, torchvision(file, box));
      expect(d.max, `seed ${seed}`).toBeLessThanOrEqual(4);
      expect(d.mean, `seed ${seed}`).toBeLessThan(0.5);
    }
  });

  it("agrees with the JS transforms on decoded images: same geometry and draws, within 4 levels", async () => {
    for (const name of ["landscape.jpg", "portrait.png", "small.png"]) {
      const dec = await decodeImage(images[name]);
      const img = makePixelImage(dec.data, dec.width, dec.height, 3);
      const native = await decodeResizeCenterCrop(images[name], { resize: 256, crop: 224 });
      expect(diff(native.data, evalPreprocessing(224)(img, new Rng(0)).data).max, name).toBeLessThanOrEqual(4);
      const rngA = new Rng(7), rngB = new Rng(7);
      const nativeCrop = await decodeRandomResizedCrop(images[name], 96, rngA);
      expect(diff(nativeCrop.data, randomResizedCrop(96)(img, rngB).data).max, name).toBeLessThanOrEqual(4);
      expect(rngA.next()).toBe(rngB.next()); // the same number of draws: a following flip sees the same stream
    }
  });

  it("gives identical batches for a seed whatever the prefetch depth and concurrency", async () => {
    const samples = Object.values(images).flatMap((p, i) => [{ path: p, label: i % 2 }, { path: p, label: (i + 1) % 2 }]);
    const epoch = async (prefetch: number, concurrency: number) => {
      const s = fileStream({
        samples, batchSize: 2, shuffle: true, seed: 3, prefetch, concurrency,
        decode: (p, rng) => decodeRandomResizedCrop(p, 32, rng), transform: randomHorizontalFlip(),
      });
      const xs: number[][] = [];
      for await (const b of s.iterate(1)) {
        xs.push(Array.from(await b.x.data()));
        tf.dispose([b.x, b.y]);
      }
      return xs;
    };
    const a = await epoch(0, 1);
    expect(a).toHaveLength(4); // 8 samples, batches of 2
    expect(await epoch(3, 4)).toEqual(a);
  });

  it("refuses missing, corrupt and mis-sized inputs with the reason", async () => {
    await expect(decodeResizeCenterCrop(path.join(dir, "nope.jpg"), { resize: 256, crop: 224 })).rejects.toThrow(/Image file not found/);
    const bad = path.join(dir, "bad.jpg");
    fs.writeFileSync(bad, fs.readFileSync(images["landscape.jpg"]).subarray(0, 2000));
    await expect(decodeRandomResizedCrop(bad, 224, new Rng(0))).rejects.toBeInstanceOf(ImageDecodeError);
    await expect(decodeResizeCenterCrop(bad, { resize: 256, crop: 224 })).rejects.toThrow(/Cannot decode image .*bad\.jpg/);
    await expect(() => decodeResizeCenterCrop(images["landscape.jpg"], { resize: 200, crop: 224 })).toThrow(/at least the crop size/);
    await expect(() => decodeRandomResizedCrop(images["landscape.jpg"], 0, new Rng(0))).toThrow(/positive integer/);
  });
});
