/** Random and fixed geometric transforms as in torchvision: resize, center/random crops, random resized crop, flips. */
import type { Rng } from "../rng";
import { type SampleTransform, type WarpFillMode, pyRound, parseSize, checkProb } from "./image";
import { resizeImage, cropImage, flipImage, type ImageResizeOptions, type ImageCropBox } from "./resample";

/**
 * torchvision `Resize`: a number resizes the shorter edge to `size` keeping the aspect ratio
 * (longer edge = floor(size * long / short)); `[height, width]` resizes to exactly that.
 */
export function resizeTransform(size: number | readonly [number, number], opts: ImageResizeOptions = {}): SampleTransform {
  if (typeof size === "number") parseSize(size, "resizeTransform");
  else parseSize(size, "resizeTransform");
  return (img) => {
    let h: number, w: number;
    if (typeof size === "number") {
      if (img.width <= img.height) { w = size; h = Math.floor((size * img.height) / img.width); }
      else { h = size; w = Math.floor((size * img.width) / img.height); }
    } else [h, w] = size;
    if (h === img.height && w === img.width) return img;
    return resizeImage(img, h, w, opts);
  };
}

/** torchvision `CenterCrop`: offsets round((H - h) / 2); zero-padded if the image is smaller than the crop. */
export function centerCrop(size: number | readonly [number, number]): SampleTransform {
  const [ch, cw] = parseSize(size, "centerCrop");
  return (img) => {
    const top = img.height >= ch ? pyRound((img.height - ch) / 2) : -Math.floor((ch - img.height) / 2);
    const left = img.width >= cw ? pyRound((img.width - cw) / 2) : -Math.floor((cw - img.width) / 2);
    return cropImage(img, top, left, ch, cw);
  };
}

/** Options for `randomResizedCrop`. */
export interface RandomResizedCropOptions extends ImageResizeOptions {
  /** Range of the crop's area as a fraction of the image area. Default [0.08, 1]. */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio w/h (sampled log-uniformly). Default [3/4, 4/3]. */
  ratio?: readonly [number, number];
}

/**
 * torchvision `RandomResizedCrop.get_params`: 10 attempts at a random area/log-ratio box that fits, then the fallback
 * (central crop clamped to the ratio range). Returns the crop box in source pixels.
 */
export function randomResizedCropBox(
  height: number, width: number, rng: Rng,
  scale: readonly [number, number] = [0.08, 1], ratio: readonly [number, number] = [3 / 4, 4 / 3],
): ImageCropBox {
  const area = height * width;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = pyRound(Math.sqrt(targetArea * aspect));
    const h = pyRound(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number, h: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) { w = width; h = pyRound(w / Math.min(ratio[0], ratio[1])); }
  else if (inRatio > Math.max(ratio[0], ratio[1])) { h = height; w = pyRound(h * Math.max(ratio[0], ratio[1])); }
  else { w = width; h = height; }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** torchvision `RandomResizedCrop(size, scale, ratio)`: random box, then (fused) bilinear resize to `size`. */
export function randomResizedCrop(size: number | readonly [number, number], opts: RandomResizedCropOptions = {}): SampleTransform {
  const [oh, ow] = parseSize(size, "randomResizedCrop");
  const scale = opts.scale ?? [0.08, 1], ratio = opts.ratio ?? [3 / 4, 4 / 3];
  if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw new Error(`randomResizedCrop: scale must satisfy 0 < lo <= hi <= 1, got ${JSON.stringify(scale)}.`);
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw new Error(`randomResizedCrop: ratio must satisfy 0 < lo <= hi, got ${JSON.stringify(ratio)}.`);
  return (img, rng) => {
    const box = randomResizedCropBox(img.height, img.width, rng, scale, ratio);
    return resizeImage(img, oh, ow, { ...opts, box });
  };
}

/** torchvision `RandomCrop(size, padding)`: pad (default constant 0; CIFAR uses padding 4), then a uniform random crop. */
export function randomCrop(
  size: number | readonly [number, number],
  opts: { padding?: number; fillMode?: WarpFillMode; fillValue?: number } = {},
): SampleTransform {
  const [ch, cw] = parseSize(size, "randomCrop");
  const pad = opts.padding ?? 0;
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`randomCrop: padding must be a non-negative integer, got ${pad}.`);
  return (img, rng) => {
    const ph = img.height + 2 * pad, pw = img.width + 2 * pad;
    if (ph < ch || pw < cw) throw new Error(`randomCrop: crop ${ch}x${cw} is larger than the padded image ${ph}x${pw}; increase padding or resize first.`);
    const top = rng.int(ph - ch + 1) - pad;
    const left = rng.int(pw - cw + 1) - pad;
    return cropImage(img, top, left, ch, cw, opts);
  };
}

/** Flip left-right with probability p (default 0.5). Always draws one number, so the rng advances the same either way. */
export function randomHorizontalFlip(p: number = 0.5): SampleTransform {
  checkProb(p, "randomHorizontalFlip");
  return (img, rng) => (rng.next() < p ? flipImage(img, "horizontal") : img);
}

/** Flip top-bottom with probability p (default 0.5). */
export function randomVerticalFlip(p: number = 0.5): SampleTransform {
  checkProb(p, "randomVerticalFlip");
  return (img, rng) => (rng.next() < p ? flipImage(img, "vertical") : img);
}
