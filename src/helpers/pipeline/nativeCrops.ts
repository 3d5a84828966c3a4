/**
 * torchvision's two ImageNet geometries done inside libvips (sharp): decode, resize and crop in one native
 * pipeline on libuv's thread pool, so the main thread (and the backend) never waits on pixel loops and no
 * full-size decoded copy reaches JavaScript.
 *
 *   decodeResizeCenterCrop   Resize(resize) on the shorter side + CenterCrop(crop)
 *   decodeRandomResizedCrop  RandomResizedCrop(size, scale, ratio): the same box as randomResizedCropBox (same Rng draws)
 *
 * Interpolation: libvips' "linear" kernel, which (like PIL's BILINEAR and torchvision's antialias=True) widens the
 * triangle filter by the shrink factor. Enlarging is different: libvips' upsampling places pixel centres unlike PIL
 * (tens of levels apart), so when the target is larger than the source on either side, libvips only decodes and
 * crops and the JS bilinear resize (resample.ts, PIL's convention) enlarges the small crop. Measured against torchvision 0.14 / PIL 9 on the hymenoptera photos: within
 * 2 levels per pixel, mean |difference| about 0.2 levels (test/helpers/pipeline/nativeCrops.test.ts checks it).
 * Large JPEGs (short side >= 2x the target) shrink while decoding; fastShrinkOnLoad is off so the DCT shrink leaves
 * the final reduction to the linear kernel (max difference a few levels instead of tens).
 */
import sharp from "sharp";
import * as fs from "node:fs";
import type { Rng } from "./rng";
import { MAX_INPUT_PIXELS, ImageDecodeError, type DecodedRgbImage } from "./decode";
import { pyRound, type PixelImage } from "./transforms/image";
import { randomResizedCropBox, resizeTransform, centerCrop } from "./transforms/geometry";
import { resizeImage } from "./transforms/resample";

function checkSide(v: number, name: string): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got ${v}.`);
}

function missing(file: string): Error {
  const err = new Error(`Image file not found: ${file}`);
  Object.defineProperties(err, { code: { value: "ENOENT" }, path: { value: file } });
  return err;
}

/** What a plan does: the libvips steps, and optionally a JS step on their (small) output. */
interface Plan {
  img: sharp.Sharp;
  finish?: (img: PixelImage) => PixelImage;
}

/** Open, orient, flatten alpha on white; `plan` gets the oriented size and adds the geometry. */
async function run(input: string | Buffer, plan: (img: sharp.Sharp, width: number, height: number) => Plan): Promise<DecodedRgbImage> {
  const label = typeof input === "string" ? input : "<buffer>";
  if (typeof input === "string" && !fs.existsSync(input)) throw missing(input);
  try {
    // failOn "error": truncated/corrupt data fail rather than decode to grey (as decodeImage).
    const img = sharp(input, { failOn: "error", limitInputPixels: MAX_INPUT_PIXELS, sequentialRead: true });
    const meta = await img.metadata();
    const { width, height } = meta.autoOrient ?? meta;
    if (!width || !height) throw new Error("no image size in the header");
    const shaped = plan(img.autoOrient().flatten({ background: { r: 255, g: 255, b: 255 } }), width, height);
    const { data, info } = await shaped.img.toColourspace("srgb").removeAlpha().raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`libvips returned ${info.channels} channels, expected 3`);
    let out: PixelImage = { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), height: info.height, width: info.width, channels: 3 };
    if (shaped.finish) out = shaped.finish(out);
    return { data: out.data as Uint8Array, height: out.height, width: out.width, channels: 3 };
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(label, (e as Error).message.replace(/\s+/g, " ").trim());
  }
}

const LINEAR = { fit: "fill", kernel: "linear", fastShrinkOnLoad: false } as const;

/** The size torchvision's Resize(size) gives a width x height image: shorter side `size`, longer floor(size * long / short). */
export function shorterSideSize(width: number, height: number, size: number): [number, number] {
  return width <= height ? [size, Math.floor((size * height) / width)] : [Math.floor((size * width) / height), size];
}

/**
 * Decode an image and apply torchvision's Resize(resize) + CenterCrop(crop) in libvips: 8-bit RGB HWC, crop x crop.
 * Same geometry as evalPreprocessing(crop, resize) on decodeImage's output; pixels within 2 levels of torchvision.
 */
export function decodeResizeCenterCrop(input: string | Buffer, opts: { resize: number; crop: number }): Promise<DecodedRgbImage> {
  checkSide(opts.resize, "decodeResizeCenterCrop: resize");
  checkSide(opts.crop, "decodeResizeCenterCrop: crop");
  if (opts.resize < opts.crop) throw new Error(`decodeResizeCenterCrop: resize (${opts.resize}) must be at least the crop size (${opts.crop}).`);
  return run(input, (img, width, height) => {
    if (Math.min(width, height) < opts.resize) {
      // enlarging: decode natively, resize + crop in JS (the image is small)
      const [resize, crop] = [resizeTransform(opts.resize), centerCrop(opts.crop)];
      return { img, finish: (full) => crop(resize(full, undefined as never), undefined as never) };
    }
    const [w, h] = shorterSideSize(width, height, opts.resize);
    const left = pyRound((w - opts.crop) / 2), top = pyRound((h - opts.crop) / 2);
    return { img: img.resize({ width: w, height: h, ...LINEAR }).extract({ left, top, width: opts.crop, height: opts.crop }) };
  });
}

/**
 * Decode an image and apply torchvision's RandomResizedCrop(size, scale, ratio) in libvips: the crop box is drawn from
 * `rng` exactly as randomResizedCrop does (so a seed gives the same boxes either way), then cut and resized natively.
 */
export function decodeRandomResizedCrop(
  input: string | Buffer, size: number, rng: Rng,
  opts: { scale?: readonly [number, number]; ratio?: readonly [number, number] } = {},
): Promise<DecodedRgbImage> {
  checkSide(size, "decodeRandomResizedCrop: size");
  const scale = opts.scale ?? [0.08, 1], ratio = opts.ratio ?? [3 / 4, 4 / 3];
  if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw new Error(`decodeRandomResizedCrop: scale must satisfy 0 < lo <= hi <= 1, got ${JSON.stringify(scale)}.`);
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw new Error(`decodeRandomResizedCrop: ratio must satisfy 0 < lo <= hi, got ${JSON.stringify(ratio)}.`);
  return run(input, (img, width, height) => {
    const box = randomResizedCropBox(height, width, rng, scale, ratio);
    // extract before resize = crop the oriented full image, then one linear (antialiased) reduction to size x size
    const cut = img.extract({ left: box.left, top: box.top, width: box.width, height: box.height });
    if (box.width >= size && box.height >= size) return { img: cut.resize({ width: size, height: size, ...LINEAR }) };
    return { img: cut, finish: (crop) => resizeImage(crop, size, size) }; // enlarging (see above)
  });
}
