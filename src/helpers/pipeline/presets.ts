/**
 * The standard ImageNet-style recipes of torchvision's classification references and the PyTorch
 * transfer-learning tutorial, as one call each, so chapters don't re-assemble them cell by cell:
 *   train: RandomResizedCrop(size) + RandomHorizontalFlip, then normalise
 *   eval:  Resize(size * 256 / 224) on the short side + CenterCrop(size), then normalise
 */
import { decodeRandomResizedCrop, decodeResizeCenterCrop } from "./nativeCrops";
import { fileStream, type SeededBatchStream } from "./streams";
import {
  centerCrop, composeTransforms, flipImage, randomHorizontalFlip, randomResizedCrop, resizeTransform,
  type NormalizationSpec, type SampleTransform,
} from "./transforms";

/** Random resized crop to `size` and a random horizontal flip (training augmentation). */
export function trainAugmentation(size = 224): SampleTransform {
  return composeTransforms([randomResizedCrop(size), randomHorizontalFlip()]);
}

/** Resize the short side to `resize` (default size·256/224, torchvision's ratio) and center-crop `size` (deterministic). */
export function evalPreprocessing(size = 224, resize = Math.round((size * 256) / 224)): SampleTransform {
  if (resize < size) throw new Error(`evalPreprocessing: resize (${resize}) must be at least the crop size (${size}).`);
  return composeTransforms([resizeTransform(resize), centerCrop(size)]);
}

export interface ImageSamplesStreamOptions {
  batchSize: number;
  /** "train" (augment + shuffle) or "eval" (resize + center crop, fixed order). */
  mode: "train" | "eval";
  /** Output side in pixels (default 224). */
  size?: number;
  /** Default "mobilenet" ([-1, 1], what the course's Keras MobileNets expect). */
  normalize?: NormalizationSpec;
  /** Seed of the shuffle and augmentation (default 0). */
  seed?: number;
  /** Restrict to these sample indices (e.g. a few-shot subset). */
  indices?: ArrayLike<number>;
  /** "eval" only: mirror every image left-right after the crop (a second deterministic view of each image). */
  mirror?: boolean;
}

/**
 * A lazily decoded batch stream over image files (`imageFolder(...).samples`), with the train or eval recipe.
 * Decoding, resizing and cropping run in libvips (nativeCrops.ts) off the main thread, the next batch while the
 * consumer works on this one; only the crops reach JavaScript. Same geometry and Rng draws as
 * trainAugmentation / evalPreprocessing on decoded images, pixels within 2 levels (libvips' linear kernel vs PIL's).
 */
export function imageSamplesStream(
  samples: readonly { path: string; label: number }[],
  opts: ImageSamplesStreamOptions,
): SeededBatchStream {
  const size = opts.size ?? 224;
  const train = opts.mode === "train";
  if (opts.mode !== "train" && opts.mode !== "eval") throw new Error(`imageSamplesStream: mode must be "train" or "eval", not '${String(opts.mode)}'.`);
  if (opts.mirror && train) throw new Error(`imageSamplesStream: mirror is for mode "eval" (mode "train" already flips at random).`);
  const resize = Math.round((size * 256) / 224); // evalPreprocessing's default
  return fileStream({
    samples,
    decode: train ? (p, rng) => decodeRandomResizedCrop(p, size, rng) : (p) => decodeResizeCenterCrop(p, { resize, crop: size }),
    // the flip draws after the crop box, as in trainAugmentation
    transform: train ? randomHorizontalFlip() : opts.mirror ? (img) => flipImage(img, "horizontal") : undefined,
    normalize: opts.normalize ?? "mobilenet",
    batchSize: opts.batchSize,
    shuffle: train,
    seed: opts.seed ?? 0,
    indices: opts.indices ? Array.from(opts.indices) : undefined,
  });
}
