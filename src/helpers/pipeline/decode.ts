/**
 * Image decoding with sharp: every input (JPEG/PNG/GIF/WebP/TIFF/BMP-less*, grayscale, CMYK, alpha,
 * 16-bit, EXIF-rotated) comes out as 8-bit RGB, height x width x 3, row-major (HWC).
 * (*libvips in sharp's prebuilt binaries has no BMP/PPM loader; such files are reported as undecodable.)
 */
import * as os from "node:os";
import sharp from "sharp";
import * as fs from "node:fs";

/** torchvision's IMG_EXTENSIONS: the files ImageFolder takes (compared case-insensitively). */
export const IMG_EXTENSIONS: readonly string[] = [".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"];

/** Whether `file` has one of IMG_EXTENSIONS (case-insensitive), as torchvision's has_file_allowed_extension. */
export function hasImageExtension(file: string, extensions: readonly string[] = IMG_EXTENSIONS): boolean {
  const f = file.toLowerCase();
  return extensions.some((e) => f.endsWith(e.toLowerCase()));
}

/**
 * Refuse images above this many pixels before decoding (sharp checks the header): 20000 x 20000.
 * Bigger inputs are almost certainly corrupt or hostile ("decompression bombs"); real photos are far smaller.
 */
export const MAX_INPUT_PIXELS = 20_000 * 20_000;

export interface DecodeOptions {
  /** Output size: `[height, width]` or one number for a square. Default: the image's own size (see maxSide). */
  size?: [number, number] | number;
  /**
   * How to fit into `size` (sharp's fit): "fill" stretches (torchvision's Resize((h, w))), "cover" crops
   * the centre after scaling the short side, "contain" letterboxes on white, "inside"/"outside" keep aspect
   * (output size may then differ from `size`). Default "fill".
   */
  fit?: "fill" | "cover" | "contain" | "inside" | "outside";
  /** Alpha handling: "flatten" composites on white (default), "drop" discards the alpha channel. */
  alpha?: "flatten" | "drop";
  /**
   * Without `size`, images larger than this on their long side are scaled down to it (default 4096), so a
   * stray 100-megapixel photo cannot take gigabytes of memory. For JPEG, sharp shrinks while decoding.
   */
  maxSide?: number;
}

export interface DecodedRgbImage {
  /** 8-bit RGB, HWC, length height * width * 3. */
  data: Uint8Array;
  height: number;
  width: number;
  channels: 3;
}

/** Thrown when a file cannot be decoded; says which file and why. */
export class ImageDecodeError extends Error {
  readonly path: string;
  constructor(file: string, reason: string) {
    super(`Cannot decode image ${file}: ${reason}. The file is truncated, empty or not an image; delete or replace it.`);
    this.name = "ImageDecodeError";
    this.path = file;
  }
}

function sizeOf(size: [number, number] | number | undefined): [number, number] | undefined {
  if (size === undefined) return undefined;
  const [h, w] = typeof size === "number" ? [size, size] : size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) {
    throw new Error(`Invalid image size ${JSON.stringify(size)}: use a positive integer or [height, width].`);
  }
  return [h, w];
}

/** A sharp pipeline with the course's safety settings: fail on truncated/corrupt data, bounded input size. */
function open(input: string | Buffer) {
  // failOn "error": truncated and corrupt data fail instead of decoding to grey; mere warnings
  // (common in real-world JPEGs, e.g. extraneous bytes) are tolerated.
  return sharp(input, { failOn: "error", limitInputPixels: MAX_INPUT_PIXELS, sequentialRead: true });
}

/**
 * Decode an image file (or encoded bytes) to 8-bit RGB HWC. EXIF orientation is applied, CMYK and
 * grayscale are converted to sRGB, 16-bit samples are scaled to 8 bits, alpha is flattened on white
 * (or dropped). With `size`, the image is resized (sharp shrinks JPEGs while decoding, so big photos stay cheap).
 */
export async function decodeImage(input: string | Buffer, opts: DecodeOptions = {}): Promise<DecodedRgbImage> {
  const label = typeof input === "string" ? input : "<buffer>";
  const size = sizeOf(opts.size);
  // A wrong path is not a corrupt file: say only that it is missing.
  if (typeof input === "string" && !fs.existsSync(input)) {
    const err = new Error(`Image file not found: ${input}`);
    // non-enumerable, so a notebook prints only the message line (and the cell's frames)
    Object.defineProperties(err, { code: { value: "ENOENT" }, path: { value: input } });
    throw err;
  }
  try {
    let img = open(input).rotate(); // no argument: orient from EXIF, then drop the tag
    if (opts.alpha === "drop") img = img.removeAlpha();
    else img = img.flatten({ background: { r: 255, g: 255, b: 255 } });
    if (size) {
      img = img.resize({ height: size[0], width: size[1], fit: opts.fit ?? "fill", background: { r: 255, g: 255, b: 255 } });
    } else {
      const maxSide = opts.maxSide ?? 4096;
      img = img.resize({ width: maxSide, height: maxSide, fit: "inside", withoutEnlargement: true });
    }
    // toColourspace("srgb") turns grayscale (b-w) into 3 channels and CMYK into RGB; depth "uchar" makes 16-bit 8-bit.
    const { data, info } = await img.toColourspace("srgb").raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
    let rgb: Uint8Array = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (info.channels !== 3) rgb = toRgb(rgb, info.channels, info.width * info.height);
    return { data: rgb, height: info.height, width: info.width, channels: 3 };
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    throw new ImageDecodeError(label, (e as Error).message.replace(/\s+/g, " ").trim());
  }
}

/** Fallback channel conversion in case libvips hands back 1, 2 or 4 channels. */
function toRgb(src: Uint8Array, channels: number, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0; i < pixels; i++) {
    if (channels <= 2) {
      const v = src[i * channels]!;
      out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = v;
    } else {
      out[i * 3] = src[i * channels]!;
      out[i * 3 + 1] = src[i * channels + 1]!;
      out[i * 3 + 2] = src[i * channels + 2]!;
    }
  }
  return out;
}

export interface UndecodableImage {
  path: string;
  reason: string;
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}

/**
 * Find the files that cannot be decoded (zero-byte, truncated, not an image, unsupported format).
 * This is a cheap full decode: each image is decoded shrunk to at most 64 px (JPEGs shrink while decoding,
 * yet every compressed byte is still read, so truncation is caught), rather than just a header check,
 * which would pass a truncated JPEG.
 */
export async function validateImages(samples: readonly ({ path: string } | string)[], opts: { concurrency?: number } = {}): Promise<UndecodableImage[]> {
  const paths = samples.map((s) => (typeof s === "string" ? s : s.path));
  // At least 4 in flight: sharp decodes on libuv's 4-thread pool, so this overlaps file I/O even on 2 cores.
  const concurrency = opts.concurrency ?? Math.max(4, os.availableParallelism?.() ?? os.cpus().length);
  const results = await mapLimit(paths, concurrency, async (p) => {
    try {
      await open(p).rotate().resize({ width: 64, height: 64, fit: "inside", withoutEnlargement: true }).raw().toBuffer();
      return undefined;
    } catch (e) {
      return { path: p, reason: (e as Error).message.replace(/\s+/g, " ").trim() } satisfies UndecodableImage;
    }
  });
  return results.filter((r): r is UndecodableImage => r !== undefined);
}
