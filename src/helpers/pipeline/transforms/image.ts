/**
 * The image type of the per-sample transforms (plain typed arrays, HWC, row-major; torchvision / Keras semantics),
 * and the checks and helpers every transform shares.
 *
 * Why plain JS and not tf ops: these run once per sample inside the input pipeline, usually on uint8 data
 * straight from the decoder. Working on typed arrays avoids creating (and having to dispose) tensors per sample,
 * fuses crop+resize into one pass, and is deterministic given the `Rng` passed in.
 *
 * Conventions
 * - An image is `{ data, width, height, channels }`, `data` is `Uint8Array` (0..255) or `Float32Array`.
 *   Colour and normalisation transforms assume float images are in [0, 1] (torchvision's convention after ToTensor).
 * - Geometric transforms keep the array type; uint8 outputs are rounded to nearest and clamped.
 * - A `SampleTransform` is `(img, rng) => img`. Random transforms draw only from `rng`, so the same seed
 *   gives the same output. Transforms never modify their input; they may return it unchanged when nothing happens.
 * - Pixel coordinates: pixel (x, y) has its centre at (x, y) in index space, i.e. half-pixel-centre
 *   ("align_corners = false") sampling, like PIL, torchvision and tf.image.resizeBilinear(halfPixelCenters=true).
 */
import type { Rng } from "../rng";

/** Pixel storage: bytes 0..255, or floats. */
export type PixelArray = Uint8Array | Float32Array;

/** An HWC image (or any H x W x C grid): `data.length === height * width * channels`. */
export interface PixelImage {
  data: PixelArray;
  width: number;
  height: number;
  channels: number;
}

/** A per-sample transform. It must not modify `img`; random choices come only from `rng`. */
export type SampleTransform = (img: PixelImage, rng: Rng) => PixelImage;

/** ResizeInterpolation for resampling transforms. */
export type ResizeInterpolation = "bilinear" | "nearest";

/**
 * How to fill pixels that a geometric transform samples from outside the image:
 * `nearest` repeats the edge (Keras default: aaa|abcd|ddd), `constant` uses `fillValue`,
 * `reflect` mirrors including the edge pixel (dcba|abcd|dcba, scipy "reflect"), `wrap` tiles (abcd|abcd|abcd).
 */
export type WarpFillMode = "nearest" | "constant" | "reflect" | "wrap";

// ---------------------------------------------------------------------------------------------
// Basics

/** Build an `PixelImage`, checking the data length; `channels` defaults to data.length / (width*height). */
export function makePixelImage(data: PixelArray, width: number, height: number, channels?: number): PixelImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`Image width and height must be positive integers, got ${width}x${height}.`);
  }
  const c = channels ?? data.length / (width * height);
  if (!Number.isInteger(c) || c <= 0 || data.length !== width * height * c) {
    throw new Error(
      `Image data has ${data.length} values, which does not match width ${width} x height ${height}` +
        (channels ? ` x channels ${channels}` : " x an integer channel count") +
        ". Pass HWC data (row-major, channels last) with exactly width*height*channels values.",
    );
  }
  return { data, width, height, channels: c };
}

export function checkImage(img: PixelImage, who: string): void {
  if (!img || !(img.data instanceof Uint8Array || img.data instanceof Float32Array)) {
    throw new Error(`${who}: expected an image {data: Uint8Array|Float32Array, width, height, channels}.`);
  }
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new Error(
      `${who}: image data length ${img.data.length} != width ${img.width} x height ${img.height} x channels ${img.channels}.`,
    );
  }
}

export function allocLike(like: PixelArray, n: number): PixelArray {
  return like instanceof Uint8Array ? new Uint8Array(n) : new Float32Array(n);
}

/** Python's round() (half to even), used where torchvision computes crop offsets with round(). */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function parseSize(size: number | readonly [number, number], who: string): [number, number] {
  const [h, w] = typeof size === "number" ? [size, size] : size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new Error(`${who}: size must be a positive integer or [height, width] of positive integers, got ${JSON.stringify(size)}.`);
  }
  return [h, w];
}

export function checkProb(p: number, who: string): void {
  if (!(p >= 0 && p <= 1)) throw new Error(`${who}: probability p must be in [0, 1], got ${p}.`);
}

/** Chain transforms left to right, all drawing from the same rng (like torchvision `Compose`). */
export function composeTransforms(transforms: readonly SampleTransform[]): SampleTransform {
  transforms.forEach((t, i) => {
    if (typeof t !== "function") throw new Error(`composeTransforms: item ${i} is not a transform function (got ${typeof t}).`);
  });
  return (img, rng) => {
    let out = img;
    for (const t of transforms) out = t(out, rng);
    return out;
  };
}

/**
 * Convert grayscale (1 channel) to RGB by repeating the channel; RGB passes through; RGBA drops alpha.
 * Usable directly as a transform, e.g. for MNIST into an ImageNet model: composeTransforms([toRgbImage, resizeTransform(32)]).
 */
export function toRgbImage(img: PixelImage): PixelImage {
  checkImage(img, "toRgbImage");
  if (img.channels === 3) return img;
  if (img.channels !== 1 && img.channels !== 4) throw new Error(`toRgbImage: cannot convert ${img.channels} channels to RGB (need 1, 3 or 4).`);
  const n = img.width * img.height;
  const out = allocLike(img.data, n * 3);
  const src = img.data, c = img.channels;
  for (let i = 0; i < n; i++) {
    const s = i * c;
    out[i * 3] = src[s];
    out[i * 3 + 1] = src[c === 1 ? s : s + 1];
    out[i * 3 + 2] = src[c === 1 ? s : s + 2];
  }
  return { data: out, width: img.width, height: img.height, channels: 3 };
}
