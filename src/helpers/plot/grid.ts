/**
 * `imageGrid`: torchvision's `make_grid`, plus captions and correct/wrong borders, drawn with @napi-rs/canvas
 * to PNG bytes. For label batches, prediction galleries (green = correct, red = wrong), misclassified
 * examples and augmentation grids.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as util from "node:util";
import type * as tf from "@tensorflow/tfjs";
import { show, type DisplayBundle, type Showable, type ShowOptions } from "../display/show";

/**
 * A raw image: row-major HWC pixels, `channels` 3 (RGB, default), 1 (grey) or 4 (RGBA, alpha ignored).
 * The data module's `DecodedRgbImage` and `PixelImage` fit this shape.
 */
export interface HwcImage {
  data: ArrayLike<number>;
  width: number;
  height: number;
  channels?: number;
}

/** What the grid accepts per image: a raw image or a tensor [H, W, C] (a [N, H, W, C] tensor for the whole batch). */
export type GridImage = HwcImage | tf.Tensor3D;

/**
 * How pixel values map to 0..255:
 *  - `auto` (default): uint8 arrays and int32 tensors are 0..255; float data entirely within [0, 1] is 0..1;
 *    other float data within [0, 255] is 0..255; anything with negative values is an error (normalised
 *    images: un-normalise first or use `minmax`).
 *  - `0-1`, `0-255`: as stated, values outside are clamped.
 *  - `minmax`: each image stretched from its own min..max (for normalised inputs or feature maps).
 */
export type PixelRange = "auto" | "0-1" | "0-255" | "minmax";

/** `correct`/true: green border; `wrong`/false: red border; null/undefined: none. */
export type GridMark = "correct" | "wrong" | boolean | null | undefined;

export interface ImageGridOptions {
  /** Text under each image; `\n` starts a new line (at most 6 lines, e.g. a label and a top-5 list). */
  captions?: ReadonlyArray<string | null | undefined>;
  marks?: readonly GridMark[];
  /** Images per row (default min(n, 8), like make_grid's nrow). */
  ncol?: number;
  /** Side of the square box each image is scaled into, in pixels (default: image size clamped to 64..160; at least 96 with captions). */
  cellSize?: number;
  /** Space around each cell, in pixels (default 6; at least the border width). */
  padding?: number;
  range?: PixelRange;
  title?: string;
  fontSize?: number;
  /** Width of the correct/wrong border (default 3). */
  borderWidth?: number;
}

export const MARK_COLORS = { correct: "#2ca02c", wrong: "#d62728" } as const;
const CAPTION_COLORS = { correct: "#1b6e1b", wrong: "#b21f1f" } as const;
const FONT_FAMILY = '"DejaVu Sans", Verdana, Arial, sans-serif';

/** A rendered grid: PNG bytes plus layout (used by tests and for placing annotations). */
export class ImageGrid implements Showable {
  constructor(
    readonly png: Uint8Array,
    readonly width: number,
    readonly height: number,
    readonly ncol: number,
    readonly nrow: number,
    /** Where each image was drawn: x, y, w, h in pixels. */
    readonly boxes: ReadonlyArray<{ x: number; y: number; w: number; h: number }>,
    readonly title?: string,
  ) {}

  get count(): number {
    return this.boxes.length;
  }

  summary(): string {
    return `[image grid] ${this.title ? this.title + ": " : ""}${this.count} images, ${this.nrow}x${this.ncol} (${this.width}x${this.height} px)`;
  }

  toDisplay(): DisplayBundle {
    return { text: this.summary(), png: this.png, name: "image-grid" };
  }

  show(opts?: ShowOptions): Promise<void> {
    return show(this, opts);
  }

  /** Write the PNG to `file`; returns the absolute path. */
  save(file: string): string {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, this.png);
    return path.resolve(file);
  }

  toString(): string {
    return this.summary();
  }

  [util.inspect.custom](): string {
    return `${this.summary()} - show it with: await show(grid)`;
  }
}

interface TensorLike {
  shape: number[];
  dtype: string;
  dataSync(): ArrayLike<number>;
}

function isTensorLike(x: unknown): x is TensorLike {
  return typeof x === "object" && x !== null && Array.isArray((x as TensorLike).shape) && typeof (x as TensorLike).dataSync === "function";
}

interface Decoded {
  rgba: Uint8ClampedArray;
  width: number;
  height: number;
}

/** Split the input into HWC images, each with its data, integer-ness and channel count. */
interface Collected {
  data: ArrayLike<number>;
  width: number;
  height: number;
  channels: number;
  integer: boolean;
}

function collect(images: readonly GridImage[] | tf.Tensor): Collected[] {
  const fromTensor = (t: TensorLike, what: string): Collected[] => {
    const shape = t.shape;
    const integer = t.dtype === "int32" || t.dtype === "bool";
    if (shape.length === 3) return [{ data: t.dataSync(), height: shape[0], width: shape[1], channels: shape[2], integer }];
    if (shape.length === 4) {
      const [n, h, w, c] = shape;
      const all = t.dataSync();
      const size = h * w * c;
      return Array.from({ length: n }, (_, i) => ({
        data: (all as Float32Array).subarray ? (all as Float32Array).subarray(i * size, (i + 1) * size) : Array.prototype.slice.call(all, i * size, (i + 1) * size),
        height: h,
        width: w,
        channels: c,
        integer,
      }));
    }
    throw new Error(`imageGrid: ${what} has shape [${shape}]; expected [H, W, C] or [N, H, W, C] (NHWC, C = 1, 3 or 4).`);
  };
  if (isTensorLike(images)) return fromTensor(images, "the tensor");
  if (!Array.isArray(images)) throw new TypeError("imageGrid: pass an array of images or a [N, H, W, C] tensor.");
  return (images as readonly GridImage[]).flatMap((im, i): Collected[] => {
    if (isTensorLike(im)) {
      const parts = fromTensor(im, `image ${i}`);
      if (parts.length !== 1) throw new Error(`imageGrid: image ${i} is a batch tensor; pass the batch itself, or its images one by one.`);
      return parts;
    }
    const r = im as HwcImage;
    if (!r || !r.data || !(r.width > 0) || !(r.height > 0)) throw new Error(`imageGrid: image ${i} needs data, width and height (HWC pixels).`);
    const integer = r.data instanceof Uint8Array || r.data instanceof Uint8ClampedArray;
    return [{ data: r.data, width: r.width, height: r.height, channels: r.channels ?? 3, integer }];
  });
}

function toRgba(im: Collected, range: PixelRange, index: number): Decoded {
  const { data, width, height, channels } = im;
  if (![1, 3, 4].includes(channels)) throw new Error(`imageGrid: image ${index} has ${channels} channels; expected 1, 3 or 4.`);
  const n = width * height;
  if (data.length !== n * channels) {
    throw new Error(`imageGrid: image ${index} has ${data.length} values but ${height}x${width}x${channels} = ${n * channels}; check width/height/channels.`);
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let mode = range;
  if (mode === "auto") {
    if (im.integer) mode = "0-255";
    else if (lo < 0) {
      throw new Error(
        `imageGrid: image ${index} has negative values (min ${lo.toFixed(3)}), so it looks normalised. ` +
          `Un-normalise it, or pass { range: "minmax" } to stretch each image, or "0-1"/"0-255" to clamp.`,
      );
    } else mode = hi <= 1 ? "0-1" : "0-255";
  }
  const scale = mode === "0-1" ? 255 : mode === "minmax" ? (hi > lo ? 255 / (hi - lo) : 0) : 1;
  const offset = mode === "minmax" ? lo : 0;
  const rgba = new Uint8ClampedArray(n * 4); // Uint8ClampedArray rounds and clamps for us
  for (let p = 0; p < n; p++) {
    const s = p * channels;
    const r = (data[s] - offset) * scale;
    rgba[p * 4] = r;
    rgba[p * 4 + 1] = channels === 1 ? r : (data[s + 1] - offset) * scale;
    rgba[p * 4 + 2] = channels === 1 ? r : (data[s + 2] - offset) * scale;
    rgba[p * 4 + 3] = 255;
  }
  return { rgba, width, height };
}

function markKind(m: GridMark): "correct" | "wrong" | null {
  if (m === true || m === "correct") return "correct";
  if (m === false || m === "wrong") return "wrong";
  return null;
}

type Ctx = ReturnType<import("@napi-rs/canvas").Canvas["getContext"]>;

function fitText(ctx: Ctx, text: string, maxWidth: number): string {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(text.slice(0, mid) + "…").width <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + "…";
}

/**
 * Draw images in a grid with optional captions and correct/wrong borders; returns PNG bytes and layout.
 * `images`: an array of `HwcImage` / tf.Tensor3D, or one tf.Tensor4D batch (NHWC). See `PixelRange`
 * for how values are interpreted.
 */
export function imageGrid(images: readonly GridImage[] | tf.Tensor, opts: ImageGridOptions = {}): ImageGrid {
  const items = collect(images);
  const n = items.length;
  if (n === 0) throw new Error("imageGrid: no images to draw.");
  if (opts.captions && opts.captions.length !== n) throw new Error(`imageGrid: ${opts.captions.length} captions for ${n} images; give one per image (use "" to skip).`);
  if (opts.marks && opts.marks.length !== n) throw new Error(`imageGrid: ${opts.marks.length} marks for ${n} images; give one per image (null for none).`);
  const decoded = items.map((im, i) => toRgba(im, opts.range ?? "auto", i));
  const { createCanvas } = require("@napi-rs/canvas") as typeof import("@napi-rs/canvas");

  const ncol = Math.max(1, Math.min(n, Math.floor(opts.ncol ?? 8)));
  const nrow = Math.ceil(n / ncol);
  const maxDim = Math.max(...decoded.map((d) => Math.max(d.width, d.height)));
  const cell = Math.round(opts.cellSize ?? Math.min(160, Math.max(opts.captions ? 96 : 64, maxDim)));
  const borderWidth = opts.borderWidth ?? 3;
  const pad = Math.max(opts.padding ?? 6, opts.marks ? borderWidth + 1 : 0);
  const fontSize = opts.fontSize ?? (cell < 80 ? 10 : 11);
  const lineH = Math.round(fontSize * 1.3);
  const captionLines = opts.captions ? Math.min(6, Math.max(1, ...opts.captions.map((c) => (c ? c.split("\n").length : 0)))) : 0;
  const captionH = captionLines > 0 ? captionLines * lineH + 2 : 0;
  const titleH = opts.title ? Math.round(fontSize * 1.3 + 1.3 * 10) : 0;
  const cellW = cell + 2 * pad;
  const cellH = cell + captionH + 2 * pad;
  const width = ncol * cellW;
  const height = titleH + nrow * cellH;

  const canvas = createCanvas(width, height);
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, width, height);
  if (opts.title) {
    ctx.fillStyle = "#222";
    ctx.font = `bold ${fontSize + 2}px ${FONT_FAMILY}`;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(fitText(ctx, opts.title, width - 2 * pad), pad, titleH / 2);
  }

  const boxes: { x: number; y: number; w: number; h: number }[] = [];
  decoded.forEach((d, i) => {
    const col = i % ncol;
    const row = Math.floor(i / ncol);
    const x0 = col * cellW + pad;
    const y0 = titleH + row * cellH + pad;
    // Fit the image into the cell keeping its aspect ratio, centred horizontally, at the top of the cell.
    const s = cell / Math.max(d.width, d.height);
    const w = Math.max(1, Math.round(d.width * s));
    const h = Math.max(1, Math.round(d.height * s));
    const x = x0 + Math.floor((cell - w) / 2);
    const y = y0 + Math.floor((cell - h) / 2);
    boxes.push({ x, y, w, h });

    const kind = markKind(opts.marks?.[i]);
    if (kind) {
      ctx.fillStyle = MARK_COLORS[kind];
      ctx.fillRect(x - borderWidth, y - borderWidth, w + 2 * borderWidth, h + 2 * borderWidth);
    }
    const src = createCanvas(d.width, d.height);
    const sctx = src.getContext("2d");
    const imageData = sctx.createImageData(d.width, d.height);
    imageData.data.set(d.rgba);
    sctx.putImageData(imageData, 0, 0);
    // Upscaled small images (CIFAR, MNIST) stay pixel-sharp; downscaled photos are smoothed.
    ctx.imageSmoothingEnabled = s < 1;
    if (s < 1) ctx.imageSmoothingQuality = "high";
    ctx.drawImage(src, x, y, w, h);

    const caption = opts.captions?.[i];
    if (caption) {
      ctx.font = `${fontSize}px ${FONT_FAMILY}`;
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      ctx.fillStyle = kind ? CAPTION_COLORS[kind] : "#222";
      caption
        .split("\n")
        .slice(0, captionLines)
        .forEach((line, k) => ctx.fillText(fitText(ctx, line, cellW - 4), x0 + cell / 2, y0 + cell + 3 + k * lineH));
    }
  });
  const png = canvas.encodeSync("png");
  return new ImageGrid(new Uint8Array(png.buffer, png.byteOffset, png.byteLength), width, height, ncol, nrow, boxes, opts.title);
}
