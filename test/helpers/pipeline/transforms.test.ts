import { describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../../src/helpers/pipeline/rng";
import {
  type PixelImage, affineWarpMatrix, centerCrop, colorJitter, composeTransforms, cropImage, denormalizeToUint8, flipImage,
  makePixelImage, mobileNetScale, normalizeTransform, padImage, randomAffine, randomCrop, randomHorizontalFlip,
  randomResizedCrop, randomResizedCropBox, randomRotation, randomVerticalFlip, resizeImage, resizeTransform,
  rotateImage, toRgbImage, unscaleMobileNetToUint8, warpAffineImage,
} from "../../../src/helpers/pipeline/transforms";

/** Image whose pixel (x, y, c) = f(x, y, c). */
function pattern(w: number, h: number, c: number, f: (x: number, y: number, c: number) => number, float = false): PixelImage {
  const data = float ? new Float32Array(w * h * c) : new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) data[(y * w + x) * c + k] = f(x, y, k);
  return { data, width: w, height: h, channels: c };
}
const px = (img: PixelImage, x: number, y: number, c = 0) => img.data[(y * img.width + x) * img.channels + c];
const ids = (w: number, h: number) => pattern(w, h, 1, (x, y) => y * w + x); // unique value per pixel
const rows = (img: PixelImage) => Array.from({ length: img.height }, (_, y) => Array.from({ length: img.width }, (_, x) => px(img, x, y)));

describe("geometry: exact pixels", () => {
  it("flips horizontally and vertically", () => {
    const img = pattern(3, 2, 2, (x, y, c) => 10 * y + x + 100 * c);
    const h = flipImage(img, "horizontal");
    expect(rows(h)).toEqual([[2, 1, 0], [12, 11, 10]]);
    expect(px(h, 0, 0, 1)).toBe(102);
    expect(rows(flipImage(img, "vertical"))).toEqual([[10, 11, 12], [0, 1, 2]]);
    expect(img.data[0]).toBe(0); // input untouched
  });

  it("crops inside, and zero-fills outside the image", () => {
    const img = ids(4, 3);
    expect(rows(cropImage(img, 1, 1, 2, 2))).toEqual([[5, 6], [9, 10]]);
    expect(rows(cropImage(img, -1, 2, 2, 3))).toEqual([[0, 0, 0], [2, 3, 0]]);
  });

  it("pads with constant, edge (nearest) and reflect modes", () => {
    const img = ids(3, 1); // [0 1 2]
    expect(rows(padImage(img, [0, 2, 0, 2]))).toEqual([[0, 0, 0, 1, 2, 0, 0]]);
    expect(rows(padImage(img, [0, 2, 0, 2], { fillMode: "nearest" }))).toEqual([[0, 0, 0, 1, 2, 2, 2]]);
    expect(rows(padImage(img, [0, 2, 0, 2], { fillMode: "reflect" }))).toEqual([[1, 0, 0, 1, 2, 2, 1]]);
    expect(rows(padImage(img, [0, 2, 0, 2], { fillMode: "wrap" }))).toEqual([[1, 2, 0, 1, 2, 0, 1]]);
  });

  it("center-crops with torchvision's round-half-even offsets and zero-pads small images", () => {
    const img = ids(4, 5);
    // top = round((5-2)/2) = round(1.5) = 2 (Python rounds half to even), left = 1
    expect(rows(centerCrop(2)(img, new Rng(0)))).toEqual([[9, 10], [13, 14]]);
    const small = ids(2, 2).data.map((v) => v + 1);
    const out = centerCrop([4, 3])(makePixelImage(small, 2, 2, 1), new Rng(0));
    expect(rows(out)).toEqual([[0, 0, 0], [1, 2, 0], [3, 4, 0], [0, 0, 0]]);
  });

  it("rotates by 90/180 degrees exactly (np.rot90 convention: counter-clockwise)", () => {
    const n = 5;
    const img = pattern(n, n, 3, (x, y, c) => y * n + x + c * 50);
    const r90 = rotateImage(img, 90);
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) for (let c = 0; c < 3; c++) {
      expect(px(r90, x, y, c)).toBe(px(img, n - 1 - y, x, c));
    }
    const r180 = rotateImage(img, 180);
    expect(Array.from(r180.data)).toEqual(Array.from(flipImage(flipImage(img, "vertical"), "horizontal").data));
    expect(Array.from(rotateImage(img, 0).data)).toEqual(Array.from(img.data));
  });

  it("shifts by whole pixels with Keras fill mode nearest", () => {
    const img = ids(4, 2);
    const m = affineWarpMatrix(4, 2, { shiftX: 1 }); // source = output + 1: content moves left
    expect(rows(warpAffineImage(img, m))).toEqual([[1, 2, 3, 3], [5, 6, 7, 7]]);
    expect(rows(warpAffineImage(img, m, { fillMode: "constant", fillValue: 9 }))).toEqual([[1, 2, 3, 9], [5, 6, 7, 9]]);
  });

  it("shears about the centre: the centre column stays, Keras' (row, col) shear matrix", () => {
    const img = pattern(5, 5, 1, (x, y) => y * 5 + x);
    const out = warpAffineImage(img, affineWarpMatrix(5, 5, { shear: 30 }));
    for (let y = 0; y < 5; y++) expect(px(out, 2, y)).toBe(px(img, 2, y));
    expect(Array.from(out.data)).not.toEqual(Array.from(img.data));
  });

  it("zooms about the centre (zoom 2 samples half the field: Keras zoom > 1 zooms out)", () => {
    const img = pattern(5, 1, 1, (x) => x * 10, true);
    const out = warpAffineImage(img, affineWarpMatrix(5, 1, { zoomX: 2 }));
    // source x = 2 + 2 (x - 2): 0,2,4 map to -2(clamped 0),2,6(clamped 4)
    expect(Array.from(out.data)).toEqual([0, 0, 20, 40, 40]);
  });
});

describe("resize", () => {
  it("upsamples 2x with half-pixel centres (PIL / torchvision bilinear)", () => {
    const img = makePixelImage(new Uint8Array([0, 100]), 2, 1, 1);
    expect(Array.from(resizeImage(img, 1, 4).data)).toEqual([0, 25, 75, 100]);
  });

  it("downsamples with a PIL-style antialias filter, or plain bilinear when antialias is off", () => {
    const img = makePixelImage(new Uint8Array([0, 100, 200, 255]), 4, 1, 1);
    // antialias: triangle filter of width 2 -> (0*.75 + 100*.75 + 200*.25)/1.75 = 71.4, (100*.25+200*.75+255*.75)/1.75 = 209.3
    expect(Array.from(resizeImage(img, 1, 2).data)).toEqual([71, 209]);
    expect(Array.from(resizeImage(img, 1, 2, { antialias: false }).data)).toEqual([50, 228]);
  });

  it("matches tf.image.resizeBilinear(halfPixelCenters) when antialias is off", () => {
    const rng = new Rng(3);
    const img = pattern(13, 9, 3, () => rng.uniform(0, 1), true);
    for (const [oh, ow] of [[20, 31], [5, 6], [9, 13]]) {
      const ours = resizeImage(img, oh, ow, { antialias: false }).data;
      const ref = tf.tidy(() => tf.image.resizeBilinear(tf.tensor3d(img.data, [9, 13, 3]), [oh, ow], false, true).dataSync());
      let maxErr = 0;
      for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(ref[i] - ours[i]));
      expect(maxErr).toBeLessThan(1e-5);
    }
  });

  it("keeps constant images constant, and fuses crop+resize (box) exactly like crop then resize", () => {
    const flat = resizeImage(pattern(37, 23, 3, () => 77), 224, 224);
    expect(flat.data.every((v) => v === 77)).toBe(true);
    const rng = new Rng(5);
    const img = pattern(40, 30, 3, () => rng.int(256));
    const box = { top: 3, left: 7, height: 20, width: 25 };
    const fused = resizeImage(img, 12, 11, { box });
    const twoStep = resizeImage(cropImage(img, 3, 7, 20, 25), 12, 11);
    expect(Array.from(fused.data)).toEqual(Array.from(twoStep.data));
  });

  it("resizeTransform(size) matches the shorter edge like torchvision", () => {
    const out = resizeTransform(256)(pattern(500, 375, 3, () => 1), new Rng(0));
    expect([out.width, out.height]).toEqual([341, 256]); // floor(256 * 500 / 375) = 341
  });
});

describe("random transforms", () => {
  const photo = pattern(500, 375, 3, (x, y, c) => (x * 3 + y * 5 + c * 40) % 256);

  it("randomResizedCrop is deterministic for a seed and its boxes follow torchvision's rules", () => {
    const t = randomResizedCrop(224);
    const a = t(photo, new Rng(42)), b = t(photo, new Rng(42)), c = t(photo, new Rng(43));
    expect([a.width, a.height, a.channels]).toEqual([224, 224, 3]);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
    expect(Buffer.from(a.data).equals(Buffer.from(c.data))).toBe(false);
    const rng = new Rng(1);
    for (let i = 0; i < 500; i++) {
      const box = randomResizedCropBox(375, 500, rng);
      expect(box.top >= 0 && box.left >= 0 && box.top + box.height <= 375 && box.left + box.width <= 500).toBe(true);
      const area = (box.height * box.width) / (375 * 500);
      expect(area).toBeGreaterThan(0.07);
      const ratio = box.width / box.height;
      expect(ratio).toBeGreaterThan(0.7);
      expect(ratio).toBeLessThan(1.4);
    }
  });

  it("randomResizedCrop falls back to a centred ratio-clamped crop when 10 attempts fail", () => {
    // A 1x100 strip can never hold a box with ratio <= 4/3 and area >= 8%: fallback h=1, w=round(4/3)=1, centred.
    expect(randomResizedCropBox(1, 100, new Rng(0))).toEqual({ top: 0, left: 49, height: 1, width: 1 });
  });

  it("randomCrop with padding 4 reaches every offset and equals pad-then-crop", () => {
    const img = pattern(32, 32, 3, (x, y, c) => 1 + ((x + 2 * y + c) % 200));
    const t = randomCrop(32, { padding: 4 });
    const seen = new Set<string>();
    const padded = padImage(img, 4);
    for (let s = 0; s < 600; s++) {
      const out = t(img, new Rng(s));
      // Same draws as the transform: top then left, each uniform in [0, 40 - 32] on the padded image.
      const r = new Rng(s);
      const top = r.int(9), left = r.int(9);
      expect(Array.from(out.data)).toEqual(Array.from(cropImage(padded, top, left, 32, 32).data));
      seen.add(`${top},${left}`);
    }
    expect(seen.has("0,0") && seen.has("8,8") && seen.has("0,8") && seen.has("8,0")).toBe(true);
  });

  it("flips with probability p", () => {
    const img = ids(3, 2);
    const rng = new Rng(9);
    let flips = 0;
    for (let i = 0; i < 1000; i++) if (randomHorizontalFlip()(img, rng) !== img) flips++;
    expect(flips).toBeGreaterThan(430);
    expect(flips).toBeLessThan(570);
    expect(randomVerticalFlip(0)(img, rng)).toBe(img);
    expect(rows(randomVerticalFlip(1)(img, rng))).toEqual([[3, 4, 5], [0, 1, 2]]);
  });

  it("randomAffine / randomRotation are reproducible and identity when ranges are 0", () => {
    const small = pattern(32, 24, 3, (x, y, c) => (x * 7 + y * 3 + c * 50) % 256);
    expect(randomAffine({})(small, new Rng(1))).toBe(small);
    const t = randomAffine({ rotationRange: 20, widthShiftRange: 0.1, heightShiftRange: 0.1, shearRange: 10, zoomRange: 0.2 });
    const a = t(small, new Rng(7)), b = t(small, new Rng(7));
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(small.data));
    const r = randomRotation(30)(small, new Rng(2));
    expect([r.width, r.height]).toEqual([32, 24]);
  });

  it("colorJitter: brightness scales all channels, gray stays gray under saturation/hue, reproducible", () => {
    const img = pattern(8, 8, 3, (x, y, c) => 20 + x * 10 + y * 5 + c * 30);
    const out = colorJitter({ brightness: 0.5 })(img, new Rng(3));
    const f = px(out, 7, 7, 2) / px(img, 7, 7, 2);
    for (let i = 0; i < img.data.length; i++) expect(Math.abs(out.data[i] - Math.min(255, img.data[i] * f))).toBeLessThanOrEqual(1);
    const gray = pattern(4, 4, 3, (x, y) => 40 + x * 20 + y);
    const g2 = colorJitter({ saturation: 0.9, hue: 0.5 })(gray, new Rng(4));
    expect(Array.from(g2.data)).toEqual(Array.from(gray.data));
    const full = colorJitter({ brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 });
    expect(Array.from(full(img, new Rng(5)).data)).toEqual(Array.from(full(img, new Rng(5)).data));
    expect(() => colorJitter({ hue: 0.7 })).toThrow(/hue must be in \[0, 0.5\]/);
  });

  it("hue jitter changes the hue but keeps HSV value and saturation", () => {
    const red = pattern(1, 1, 3, (_x, _y, c) => (c === 0 ? 200 : 0));
    const out = colorJitter({ hue: 0.5 })(red, new Rng(11));
    const vals = Array.from(out.data).sort((a, b) => a - b);
    expect(vals[2]).toBe(200); // HSV value preserved
    expect(vals[0]).toBe(0); // saturation preserved
    expect(Array.from(out.data)).not.toEqual([200, 0, 0]);
  });
});

describe("normalisation and inverses", () => {
  const img = pattern(4, 3, 3, (x, y, c) => (x * 60 + y * 17 + c * 90) % 256);

  it("ImageNet normalise then denormalise round-trips uint8 exactly", () => {
    const n = normalizeTransform("imagenet")(img, new Rng(0));
    expect(n.data).toBeInstanceOf(Float32Array);
    expect(n.data[0]).toBeCloseTo((img.data[0] / 255 - 0.485) / 0.229, 5);
    expect(n.data[1]).toBeCloseTo((img.data[1] / 255 - 0.456) / 0.224, 5);
    expect(Array.from(denormalizeToUint8(n.data, "imagenet"))).toEqual(Array.from(img.data));
  });

  it("MobileNet scaling is x/127.5 - 1 and inverts", () => {
    const ends = makePixelImage(new Uint8Array([0, 255, 51]), 1, 1, 3);
    const s = mobileNetScale()(ends, new Rng(0));
    expect(s.data[0]).toBeCloseTo(-1, 6);
    expect(s.data[1]).toBeCloseTo(1, 6);
    expect(s.data[2]).toBeCloseTo(51 / 127.5 - 1, 6);
    expect(Array.from(unscaleMobileNetToUint8(mobileNetScale()(img, new Rng(0)).data))).toEqual(Array.from(img.data));
  });

  it("rejects mean/std that do not match the channels", () => {
    expect(() => normalizeTransform({ mean: [0.5, 0.5], std: [1, 1] })(img, new Rng(0))).toThrow(/2\/2 values but the image has 3 channels/);
  });
});

describe("compose and helpers", () => {
  it("composes left to right with one rng, deterministically", () => {
    const img = pattern(60, 40, 3, (x, y, c) => (x + y + c) % 256);
    const t = composeTransforms([randomResizedCrop(16), randomHorizontalFlip(), normalizeTransform("imagenet")]);
    const a = t(img, new Rng(1)), b = t(img, new Rng(1));
    expect([a.width, a.height]).toEqual([16, 16]);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });

  it("toRgbImage repeats gray channels (and works inside compose); makePixelImage reports bad lengths", () => {
    const mnistLike = makePixelImage(new Uint8Array(28 * 28).fill(9), 28, 28, 1);
    const up = composeTransforms([toRgbImage, resizeTransform(32)])(mnistLike, new Rng(0));
    expect([up.width, up.height, up.channels, up.data[100]]).toEqual([32, 32, 3, 9]);
    const g = toRgbImage(makePixelImage(new Uint8Array([5, 6]), 2, 1, 1));
    expect(Array.from(g.data)).toEqual([5, 5, 5, 6, 6, 6]);
    expect(() => makePixelImage(new Uint8Array(10), 2, 2, 3)).toThrow(/does not match width 2 x height 2 x channels 3/);
  });
});
