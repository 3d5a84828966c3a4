/**
 * MNIST-M (Ganin & Lempitsky, 2015): MNIST digits blended over patches of natural colour images, the classic
 * target domain for MNIST -> MNIST-M domain adaptation. Each output pixel is |patch - digit| per channel
 * (difference blend), so strokes show as the patch's inverted colours and the background is the patch itself.
 *
 * The original used BSDS500 photos; here any RGB images work (CIFAR-10 images, decoded hymenoptera photos).
 * Deterministic: digit i uses an Rng seeded by (seed, i), so outputs do not depend on how many digits you build.
 */
import { Rng, deriveSeed } from "../pipeline/rng";
import { type PixelImage, resizeImage } from "../pipeline/transforms";

/**
 * Natural images to cut patches from: a list of RGB images, or N packed RGB uint8 HWC images of one size given by
 * width/height or by `imageShape` (so the data module's CIFAR-10 `ArrayDataset` can be passed as is).
 */
export type MnistMPatchSource =
  | readonly PixelImage[]
  | { images: Uint8Array; width: number; height: number }
  | { images: Uint8Array; imageShape: readonly [number, number, number] };

/** Options for `buildMnistM`. */
export interface MnistMOptions {
  /** Digit side in pixels (default 28). */
  size?: number;
  /**
   * Side [min, max] in source pixels of the square patch cut before it is scaled to `size` (bilinear, antialiased).
   * Default [size, 2*size], capped by each image's shorter side (smaller images are scaled up).
   */
  patchSide?: readonly [number, number];
}

/** Result of `buildMnistM`: `count` images of size x size x 3 uint8, HWC, in digit order (labels are the digits'). */
export interface MnistMData {
  images: Uint8Array;
  count: number;
  width: number;
  height: number;
  channels: 3;
  /** [height, width, 3], so `arrayStream({ ...mnistm, labels, batchSize })` works. */
  imageShape: [number, number, number];
  /** Which source image each patch came from (for inspection). */
  patchSource: Int32Array;
}

/** Normalise the accepted patch sources to (count, image(j)). */
function patchAccess(src: MnistMPatchSource): { count: number; image: (j: number) => PixelImage } {
  if (Array.isArray(src)) {
    const list = src as readonly PixelImage[];
    return {
      count: list.length,
      image: (j) => {
        const img = list[j];
        if (!img || img.channels !== 3 || !(img.data instanceof Uint8Array) || img.data.length !== img.width * img.height * 3) {
          throw new Error(`buildMnistM: patch image ${j} must be an RGB uint8 HWC image {data, width, height, channels: 3}.`);
        }
        return img;
      },
    };
  }
  const packed = src as { images: Uint8Array; width?: number; height?: number; imageShape?: readonly [number, number, number] };
  const [height, width, channels] = packed.imageShape ?? [packed.height ?? 0, packed.width ?? 0, 3];
  const per = width * height * 3;
  if (channels !== 3 || !(packed.images instanceof Uint8Array) || !Number.isInteger(per) || per <= 0 || packed.images.length % per !== 0) {
    throw new Error(
      `buildMnistM: packed patch images must be a Uint8Array of N*${height}*${width}*3 RGB values ` +
        `(got ${packed.images?.length} values, ${channels} channels); pass {images, width, height} or {images, imageShape}.`,
    );
  }
  return {
    count: packed.images.length / per,
    image: (j) => ({ data: packed.images.subarray(j * per, (j + 1) * per), width, height, channels: 3 }),
  };
}

/**
 * Build MNIST-M style images.
 * @param digits grayscale digits, uint8 0..255, N x size x size (x 1), concatenated (e.g. `loadMnist().images`).
 * @param patches natural RGB images to cut random patches from.
 * @param seed same seed, same inputs -> identical bytes.
 */
export function buildMnistM(digits: Uint8Array, patches: MnistMPatchSource, seed: number, opts: MnistMOptions = {}): MnistMData {
  const size = opts.size ?? 28;
  if (!Number.isInteger(size) || size <= 0) throw new Error(`buildMnistM: size must be a positive integer, got ${size}.`);
  const per = size * size;
  if (!(digits instanceof Uint8Array) || digits.length % per !== 0 || digits.length === 0) {
    throw new Error(`buildMnistM: digits must be a non-empty Uint8Array of N*${size}*${size} grayscale pixels (got ${digits?.length}); pass MNIST images, not one-hot or float data.`);
  }
  const [lo, hi] = opts.patchSide ?? [size, 2 * size];
  if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo > 0 && hi >= lo)) {
    throw new Error(`buildMnistM: patchSide must be integers 0 < min <= max, got ${JSON.stringify(opts.patchSide)}.`);
  }
  const source = patchAccess(patches);
  const m = source.count;
  if (m === 0) throw new Error("buildMnistM: need at least one patch image.");
  const n = digits.length / per;
  const out = new Uint8Array(n * per * 3);
  const patchSource = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const rng = new Rng(deriveSeed(seed, i));
    const j = rng.int(m);
    const img = source.image(j);
    const short = Math.min(img.width, img.height);
    const side = Math.min(rng.intRange(lo, hi), short);
    const top = rng.int(img.height - side + 1), left = rng.int(img.width - side + 1);
    const patch = resizeImage(img, size, size, { box: { top, left, height: side, width: side } }).data;
    patchSource[i] = j;
    const d0 = i * per, o0 = i * per * 3;
    for (let p = 0; p < per; p++) {
      const d = digits[d0 + p];
      for (let c = 0; c < 3; c++) out[o0 + p * 3 + c] = Math.abs(patch[p * 3 + c] - d);
    }
  }
  return { images: out, count: n, width: size, height: size, channels: 3, imageShape: [size, size, 3], patchSource };
}
