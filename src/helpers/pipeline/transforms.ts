/**
 * Per-sample image transforms on plain typed arrays (HWC, row-major), with torchvision / Keras semantics.
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
import type { Rng } from "./rng";

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

/** Normalisation: `unit` = [0,1], `mobilenet` = [-1,1] (x/127.5-1), `imagenet` = ((x/255)-mean)/std, or custom mean/std on [0,1] data. */
export type NormalizationSpec = "none" | "unit" | "mobilenet" | "imagenet" | { mean: readonly number[]; std: readonly number[] };

/** ImageNet channel statistics (RGB, on [0,1] data) used by torchvision / Keras "torch" preprocessing. */
export const IMAGENET_NORMALIZATION: { readonly mean: readonly number[]; readonly std: readonly number[] } = Object.freeze({
  mean: Object.freeze([0.485, 0.456, 0.406]),
  std: Object.freeze([0.229, 0.224, 0.225]),
});

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

function checkImage(img: PixelImage, who: string): void {
  if (!img || !(img.data instanceof Uint8Array || img.data instanceof Float32Array)) {
    throw new Error(`${who}: expected an image {data: Uint8Array|Float32Array, width, height, channels}.`);
  }
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new Error(
      `${who}: image data length ${img.data.length} != width ${img.width} x height ${img.height} x channels ${img.channels}.`,
    );
  }
}

function allocLike(like: PixelArray, n: number): PixelArray {
  return like instanceof Uint8Array ? new Uint8Array(n) : new Float32Array(n);
}

/** Python's round() (half to even), used where torchvision computes crop offsets with round(). */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function parseSize(size: number | readonly [number, number], who: string): [number, number] {
  const [h, w] = typeof size === "number" ? [size, size] : size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new Error(`${who}: size must be a positive integer or [height, width] of positive integers, got ${JSON.stringify(size)}.`);
  }
  return [h, w];
}

function checkProb(p: number, who: string): void {
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

// ---------------------------------------------------------------------------------------------
// Resampling (resize, crop, pad)

interface Taps {
  start: Int32Array; // first source index per output index
  count: Int32Array; // taps per output index
  weights: Float32Array; // k weights per output index (k = max taps)
  k: number;
}

/**
 * Filter taps for resampling the source range [offset, offset+len) onto `outLen` samples, PIL-style:
 * half-pixel centres, triangle filter widened by the scale factor when shrinking (antialias, like PIL and
 * torchvision's antialias=True), taps outside the range dropped and weights renormalised (edge clamping).
 */
function resampleTaps(offset: number, len: number, outLen: number, interpolation: ResizeInterpolation, antialias: boolean): Taps {
  const scale = len / outLen;
  if (interpolation === "nearest") {
    const start = new Int32Array(outLen), count = new Int32Array(outLen).fill(1), weights = new Float32Array(outLen).fill(1);
    for (let o = 0; o < outLen; o++) start[o] = offset + Math.min(Math.floor((o + 0.5) * scale), len - 1);
    return { start, count, weights, k: 1 };
  }
  const fscale = antialias ? Math.max(scale, 1) : 1;
  const support = fscale; // triangle filter has support 1, stretched by fscale
  const k = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outLen), count = new Int32Array(outLen), weights = new Float32Array(outLen * k);
  const ss = 1 / fscale;
  for (let o = 0; o < outLen; o++) {
    const center = (o + 0.5) * scale;
    const xmin = Math.max(Math.floor(center - support + 0.5), 0);
    const xmax = Math.min(Math.floor(center + support + 0.5), len);
    let total = 0;
    const n = xmax - xmin;
    for (let j = 0; j < n; j++) {
      const t = Math.abs((j + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      weights[o * k + j] = w;
      total += w;
    }
    if (total > 0) for (let j = 0; j < n; j++) weights[o * k + j] /= total;
    else { weights[o * k] = 1; } // degenerate; cannot happen for len >= 1
    start[o] = offset + xmin;
    count[o] = Math.max(n, 1);
  }
  return { start, count, weights, k };
}

/** Options for `resizeImage` / `resizeTransform`. */
export interface ImageResizeOptions {
  /** Default `bilinear`. */
  interpolation?: ResizeInterpolation;
  /**
   * Widen the filter when shrinking so every source pixel contributes (PIL / torchvision antialias=True). Default true.
   * With `false`, bilinear matches tf.image.resizeBilinear(halfPixelCenters=true) / OpenCV INTER_LINEAR.
   */
  antialias?: boolean;
}

/** A source rectangle inside an image: top/left/height/width in pixels, must lie within the image. */
export interface ImageCropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * Resize `img` (or the region `box` of it, fused crop+resize) to outHeight x outWidth.
 * Bilinear with half-pixel centres and PIL-style antialiasing when shrinking; uint8 results are within ±1 of PIL
 * (PIL rounds its intermediate pass to uint8, we keep it in float).
 */
export function resizeImage(img: PixelImage, outHeight: number, outWidth: number, opts: ImageResizeOptions & { box?: ImageCropBox } = {}): PixelImage {
  checkImage(img, "resizeImage");
  parseSize([outHeight, outWidth], "resizeImage");
  const box = opts.box ?? { top: 0, left: 0, height: img.height, width: img.width };
  if (
    ![box.top, box.left, box.height, box.width].every(Number.isInteger) || box.height <= 0 || box.width <= 0 ||
    box.top < 0 || box.left < 0 || box.top + box.height > img.height || box.left + box.width > img.width
  ) {
    throw new Error(`resizeImage: box ${JSON.stringify(box)} must be integer and inside the ${img.width}x${img.height} image.`);
  }
  const interp = opts.interpolation ?? "bilinear";
  const antialias = opts.antialias ?? true;
  const C = img.channels, W = img.width, src = img.data;
  if (box.height === outHeight && box.width === outWidth) return cropImage(img, box.top, box.left, outHeight, outWidth);

  const hx = resampleTaps(box.left, box.width, outWidth, interp, antialias);
  const vy = resampleTaps(box.top, box.height, outHeight, interp, antialias);
  // Horizontal pass only over the source rows the vertical pass needs.
  let y0 = Infinity, y1 = -Infinity;
  for (let o = 0; o < outHeight; o++) {
    y0 = Math.min(y0, vy.start[o]);
    y1 = Math.max(y1, vy.start[o] + vy.count[o]);
  }
  const rows = y1 - y0;
  const rowLen = outWidth * C;
  const tmp = new Float32Array(rows * rowLen);
  const hk = hx.k, hw = hx.weights, hs = hx.start, hc = hx.count;
  for (let r = 0; r < rows; r++) {
    const srcRow = (y0 + r) * W * C;
    const dstRow = r * rowLen;
    for (let o = 0; o < outWidth; o++) {
      const s0 = srcRow + hs[o] * C, n = hc[o], wb = o * hk;
      const d = dstRow + o * C;
      if (C === 3) {
        let a0 = 0, a1 = 0, a2 = 0;
        for (let j = 0; j < n; j++) {
          const w = hw[wb + j], s = s0 + j * 3;
          a0 += w * src[s];
          a1 += w * src[s + 1];
          a2 += w * src[s + 2];
        }
        tmp[d] = a0; tmp[d + 1] = a1; tmp[d + 2] = a2;
      } else {
        for (let c = 0; c < C; c++) {
          let a = 0;
          for (let j = 0; j < n; j++) a += hw[wb + j] * src[s0 + j * C + c];
          tmp[d + c] = a;
        }
      }
    }
  }
  const out = allocLike(src, outHeight * rowLen);
  const isU8 = out instanceof Uint8Array;
  const vk = vy.k, vw = vy.weights;
  for (let o = 0; o < outHeight; o++) {
    const r0 = vy.start[o] - y0, n = vy.count[o], wb = o * vk;
    const dst = o * rowLen;
    for (let i = 0; i < rowLen; i++) {
      let a = 0;
      for (let j = 0; j < n; j++) a += vw[wb + j] * tmp[(r0 + j) * rowLen + i];
      if (isU8) out[dst + i] = a <= 0 ? 0 : a >= 255 ? 255 : (a + 0.5) | 0;
      else out[dst + i] = a;
    }
  }
  return { data: out, width: outWidth, height: outHeight, channels: C };
}

/** Map an out-of-range index into [0, n) by fill mode; -1 means "use the fill value". */
function mapIndex(i: number, n: number, mode: WarpFillMode): number {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case "nearest":
      return i < 0 ? 0 : n - 1;
    case "wrap":
      return ((i % n) + n) % n;
    case "reflect": {
      const period = 2 * n;
      let m = ((i % period) + period) % period;
      if (m >= n) m = period - 1 - m;
      return m;
    }
    default:
      return -1;
  }
}

/**
 * Crop rows [top, top+height) and columns [left, left+width). The box may extend outside the image;
 * those pixels are filled by `fillMode` (default `constant` with `fillValue` 0, like torchvision's crop).
 */
export function cropImage(
  img: PixelImage, top: number, left: number, height: number, width: number,
  opts: { fillMode?: WarpFillMode; fillValue?: number } = {},
): PixelImage {
  checkImage(img, "cropImage");
  parseSize([height, width], "cropImage");
  if (!Number.isInteger(top) || !Number.isInteger(left)) throw new Error(`cropImage: top/left must be integers, got ${top}, ${left}.`);
  const mode = opts.fillMode ?? "constant", fill = opts.fillValue ?? 0;
  const C = img.channels, W = img.width, H = img.height, src = img.data;
  const out = allocLike(src, height * width * C);
  const inside = top >= 0 && left >= 0 && top + height <= H && left + width <= W;
  if (inside) {
    for (let y = 0; y < height; y++) {
      const s = ((top + y) * W + left) * C;
      out.set(src.subarray(s, s + width * C), y * width * C);
    }
    return { data: out, width, height, channels: C };
  }
  const cols = new Int32Array(width);
  for (let x = 0; x < width; x++) cols[x] = mapIndex(left + x, W, mode);
  for (let y = 0; y < height; y++) {
    const sy = mapIndex(top + y, H, mode);
    for (let x = 0; x < width; x++) {
      const d = (y * width + x) * C, sx = cols[x];
      if (sy < 0 || sx < 0) for (let c = 0; c < C; c++) out[d + c] = fill;
      else {
        const s = (sy * W + sx) * C;
        for (let c = 0; c < C; c++) out[d + c] = src[s + c];
      }
    }
  }
  return { data: out, width, height, channels: C };
}

/** Pad by `padding` pixels on every side (or [top, right, bottom, left]). Default constant 0 (torchvision Pad). */
export function padImage(
  img: PixelImage, padding: number | readonly [number, number, number, number],
  opts: { fillMode?: WarpFillMode; fillValue?: number } = {},
): PixelImage {
  const [t, r, b, l] = typeof padding === "number" ? [padding, padding, padding, padding] : padding;
  if (![t, r, b, l].every((p) => Number.isInteger(p) && p >= 0)) {
    throw new Error(`padImage: padding must be non-negative integers, got ${JSON.stringify(padding)}.`);
  }
  return cropImage(img, -t, -l, img.height + t + b, img.width + l + r, opts);
}

/** Mirror left-right (`horizontal`) or top-bottom (`vertical`). */
export function flipImage(img: PixelImage, direction: "horizontal" | "vertical"): PixelImage {
  checkImage(img, "flipImage");
  const C = img.channels, W = img.width, H = img.height, src = img.data;
  const out = allocLike(src, src.length);
  const rowLen = W * C;
  if (direction === "vertical") {
    for (let y = 0; y < H; y++) out.set(src.subarray((H - 1 - y) * rowLen, (H - y) * rowLen), y * rowLen);
  } else if (direction === "horizontal") {
    for (let y = 0; y < H; y++) {
      const row = y * rowLen;
      for (let x = 0; x < W; x++) {
        const d = row + x * C, s = row + (W - 1 - x) * C;
        for (let c = 0; c < C; c++) out[d + c] = src[s + c];
      }
    }
  } else {
    throw new Error(`flipImage: direction must be "horizontal" or "vertical", got ${JSON.stringify(direction)}.`);
  }
  return { data: out, width: W, height: H, channels: C };
}

// ---------------------------------------------------------------------------------------------
// Affine warps (rotation, shear, zoom, shift)

/** Options for affine warps. Defaults follow Keras ImageDataGenerator: bilinear, fill mode `nearest`. */
export interface ImageWarpOptions {
  interpolation?: ResizeInterpolation;
  fillMode?: WarpFillMode;
  /** Value for fillMode `constant` (default 0). */
  fillValue?: number;
}

/**
 * Inverse-map warp: output pixel (x, y) samples the source at (m[0]*x + m[1]*y + m[2], m[3]*x + m[4]*y + m[5]).
 * Coordinates are pixel indices (pixel centres at integers). Output has the input's size.
 */
export function warpAffineImage(img: PixelImage, m: readonly number[], opts: ImageWarpOptions = {}): PixelImage {
  checkImage(img, "warpAffineImage");
  if (m.length !== 6 || !m.every(Number.isFinite)) throw new Error(`warpAffineImage: matrix must be 6 finite numbers [a,b,c,d,e,f], got ${JSON.stringify(m)}.`);
  const mode = opts.fillMode ?? "nearest", fill = opts.fillValue ?? 0;
  const interp = opts.interpolation ?? "bilinear";
  const C = img.channels, W = img.width, H = img.height, src = img.data;
  const out = allocLike(src, src.length);
  const isU8 = out instanceof Uint8Array;
  const acc = new Float64Array(C);
  const m0 = m[0], m1 = m[1], m2 = m[2], m3 = m[3], m4 = m[4], m5 = m[5];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let sx = m0 * x + m1 * y + m2, sy = m3 * x + m4 * y + m5;
      // Snap coordinates within 1e-6 of an integer, so 90-degree rotations and whole-pixel shifts copy pixels exactly.
      const rx = Math.round(sx), ry = Math.round(sy);
      if (Math.abs(sx - rx) < 1e-6) sx = rx;
      if (Math.abs(sy - ry) < 1e-6) sy = ry;
      const d = (y * W + x) * C;
      if (interp === "nearest") {
        const ix = mapIndex(Math.round(sx), W, mode), iy = mapIndex(Math.round(sy), H, mode);
        if (ix < 0 || iy < 0) for (let c = 0; c < C; c++) out[d + c] = fill;
        else { const s = (iy * W + ix) * C; for (let c = 0; c < C; c++) out[d + c] = src[s + c]; }
        continue;
      }
      const x0 = Math.floor(sx), y0 = Math.floor(sy), fx = sx - x0, fy = sy - y0;
      if (C === 3 && x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {
        // Fast path: all four neighbours inside the image (the common case), no fill-mode mapping.
        const s00 = (y0 * W + x0) * 3, s10 = s00 + 3, s01 = s00 + W * 3, s11 = s01 + 3;
        const w00 = (1 - fx) * (1 - fy), w10 = fx * (1 - fy), w01 = (1 - fx) * fy, w11 = fx * fy;
        for (let c = 0; c < 3; c++) {
          const a = w00 * src[s00 + c] + w10 * src[s10 + c] + w01 * src[s01 + c] + w11 * src[s11 + c];
          out[d + c] = isU8 ? (a <= 0 ? 0 : a >= 255 ? 255 : (a + 0.5) | 0) : a;
        }
        continue;
      }
      acc.fill(0);
      // Four neighbours; weights of exactly 0 are skipped so integer coordinates read a single pixel.
      for (let k = 0; k < 4; k++) {
        const dx = k & 1, dy = k >> 1;
        const w = (dx ? fx : 1 - fx) * (dy ? fy : 1 - fy);
        if (w === 0) continue;
        const ix = mapIndex(x0 + dx, W, mode), iy = mapIndex(y0 + dy, H, mode);
        if (ix < 0 || iy < 0) for (let c = 0; c < C; c++) acc[c] += w * fill;
        else { const s = (iy * W + ix) * C; for (let c = 0; c < C; c++) acc[c] += w * src[s + c]; }
      }
      for (let c = 0; c < C; c++) {
        const a = acc[c];
        out[d + c] = isU8 ? (a <= 0 ? 0 : a >= 255 ? 255 : (a + 0.5) | 0) : a;
      }
    }
  }
  return { data: out, width: W, height: H, channels: C };
}

/** Parameters of one Keras-style affine transform (angles in degrees; shifts in pixels; zoom > 1 shrinks the content). */
export interface AffineWarpParams {
  rotation?: number;
  /** Horizontal shift in pixels: the content moves left by `shiftX` (Keras: source = output + shift). */
  shiftX?: number;
  shiftY?: number;
  shear?: number;
  zoomX?: number;
  zoomY?: number;
}

/**
 * The inverse-map matrix for `warpAffineImage`, composed like Keras `apply_affine_transform`:
 * source = centre + R(rotation) · (Shear · Zoom · (p - centre) + shift). Rotation is counter-clockwise on screen for
 * positive degrees (torchvision's convention). The centre is the true pixel centre ((W-1)/2, (H-1)/2); Keras uses
 * W/2+0.5, half a pixel off, which we do not copy so that 90° rotations are exact.
 */
export function affineWarpMatrix(width: number, height: number, p: AffineWarpParams): [number, number, number, number, number, number] {
  const th = ((p.rotation ?? 0) * Math.PI) / 180, sh = ((p.shear ?? 0) * Math.PI) / 180;
  const zx = p.zoomX ?? 1, zy = p.zoomY ?? 1, tx = p.shiftX ?? 0, ty = p.shiftY ?? 0;
  const cos = Math.cos(th), sin = Math.sin(th);
  // A = Shear · Zoom in (x, y): shear maps (x, y) -> (cos(s) x, y - sin(s) x) (Keras' matrix in (row, col) order).
  const a00 = Math.cos(sh) * zx, a01 = 0, a10 = -Math.sin(sh) * zx, a11 = zy;
  // M = R · A, R (inverse map of a CCW rotation) = [[cos, -sin], [sin, cos]].
  const m00 = cos * a00 - sin * a10, m01 = cos * a01 - sin * a11;
  const m10 = sin * a00 + cos * a10, m11 = sin * a01 + cos * a11;
  const t0 = cos * tx - sin * ty, t1 = sin * tx + cos * ty;
  const cx = (width - 1) / 2, cy = (height - 1) / 2;
  return [m00, m01, cx + t0 - m00 * cx - m01 * cy, m10, m11, cy + t1 - m10 * cx - m11 * cy];
}

/** Rotate by `degrees` counter-clockwise around the centre (output keeps the input size). */
export function rotateImage(img: PixelImage, degrees: number, opts: ImageWarpOptions = {}): PixelImage {
  return warpAffineImage(img, affineWarpMatrix(img.width, img.height, { rotation: degrees }), opts);
}

/** Keras ImageDataGenerator-style ranges for `randomAffine`. */
export interface RandomAffineOptions extends ImageWarpOptions {
  /** Degrees: rotation drawn uniformly from [-r, r]. */
  rotationRange?: number;
  /** Fraction of width if < 1, else pixels: shift drawn from [-r, r]. */
  widthShiftRange?: number;
  heightShiftRange?: number;
  /** Degrees: shear drawn from [-r, r]. */
  shearRange?: number;
  /** z or [lo, hi]: zoom factors for x and y drawn independently from [1-z, 1+z] (>1 zooms out, Keras semantics). */
  zoomRange?: number | readonly [number, number];
}

/**
 * Random rotation/shift/shear/zoom with Keras `ImageDataGenerator` semantics (ranges, draw order theta, ty, tx,
 * shear, zy, zx; bilinear; fill mode `nearest` unless set). Skips the warp when every drawn parameter is identity.
 */
export function randomAffine(opts: RandomAffineOptions): SampleTransform {
  const rr = opts.rotationRange ?? 0, ws = opts.widthShiftRange ?? 0, hs = opts.heightShiftRange ?? 0, sr = opts.shearRange ?? 0;
  for (const [name, v] of [["rotationRange", rr], ["widthShiftRange", ws], ["heightShiftRange", hs], ["shearRange", sr]] as const) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`randomAffine: ${name} must be a finite number >= 0, got ${v}.`);
  }
  const z = opts.zoomRange ?? 0;
  const [zlo, zhi] = typeof z === "number" ? [1 - z, 1 + z] : z;
  if (!(zlo > 0 && zhi >= zlo)) throw new Error(`randomAffine: zoomRange must give 0 < lo <= hi, got ${JSON.stringify(z)}.`);
  return (img, rng) => {
    const rotation = rr ? rng.uniform(-rr, rr) : 0;
    let shiftY = hs ? rng.uniform(-hs, hs) : 0;
    if (hs < 1) shiftY *= img.height;
    let shiftX = ws ? rng.uniform(-ws, ws) : 0;
    if (ws < 1) shiftX *= img.width;
    const shear = sr ? rng.uniform(-sr, sr) : 0;
    const zoomY = zlo !== 1 || zhi !== 1 ? rng.uniform(zlo, zhi) : 1;
    const zoomX = zlo !== 1 || zhi !== 1 ? rng.uniform(zlo, zhi) : 1;
    if (!rotation && !shiftX && !shiftY && !shear && zoomX === 1 && zoomY === 1) return img;
    return warpAffineImage(img, affineWarpMatrix(img.width, img.height, { rotation, shiftX, shiftY, shear, zoomX, zoomY }), opts);
  };
}

/** Random rotation in [-degrees, degrees] (Keras rotation_range; bilinear, fill `nearest` unless set). */
export function randomRotation(degrees: number, opts: ImageWarpOptions = {}): SampleTransform {
  return randomAffine({ ...opts, rotationRange: degrees });
}

/** Random shear in [-degrees, degrees] (Keras shear_range). */
export function randomShear(degrees: number, opts: ImageWarpOptions = {}): SampleTransform {
  return randomAffine({ ...opts, shearRange: degrees });
}

/** Random zoom (Keras zoom_range: z -> [1-z, 1+z] per axis; >1 zooms out). */
export function randomZoom(range: number | readonly [number, number], opts: ImageWarpOptions = {}): SampleTransform {
  return randomAffine({ ...opts, zoomRange: range });
}

/** Random width/height shift (Keras width_shift_range / height_shift_range: fraction if < 1, else pixels). */
export function randomShift(widthShiftRange: number, heightShiftRange: number, opts: ImageWarpOptions = {}): SampleTransform {
  return randomAffine({ ...opts, widthShiftRange, heightShiftRange });
}

// ---------------------------------------------------------------------------------------------
// Geometric transforms (torchvision)

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

// ---------------------------------------------------------------------------------------------
// Colour

/** Options for `colorJitter`, as in torchvision: factors drawn from [max(0, 1-b), 1+b]; hue shift from [-h, h], h <= 0.5. */
export interface ColorJitterOptions {
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
}

const GRAY_R = 0.299, GRAY_G = 0.587, GRAY_B = 0.114; // ITU-R 601-2 luma (PIL "L", torchvision rgb_to_grayscale)

/**
 * torchvision `ColorJitter`: the four adjustments in a random order, each a blend clamped to the valid range
 * (255 for uint8, 1 for float): brightness blends with black, contrast with the mean gray level, saturation with
 * the per-pixel gray, hue rotates H in HSV. Saturation and hue are skipped for non-RGB images.
 * Intermediate values stay in float (PIL rounds to uint8 after each step), so results can differ from PIL by ±1.
 */
export function colorJitter(opts: ColorJitterOptions): SampleTransform {
  const b = opts.brightness ?? 0, c = opts.contrast ?? 0, s = opts.saturation ?? 0, h = opts.hue ?? 0;
  for (const [name, v] of [["brightness", b], ["contrast", c], ["saturation", s]] as const) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`colorJitter: ${name} must be a finite number >= 0, got ${v}.`);
  }
  if (!(h >= 0 && h <= 0.5)) throw new Error(`colorJitter: hue must be in [0, 0.5], got ${h}.`);
  return (img, rng) => {
    checkImage(img, "colorJitter");
    const order = rng.permutation(4);
    const bf = b ? rng.uniform(Math.max(0, 1 - b), 1 + b) : 1;
    const cf = c ? rng.uniform(Math.max(0, 1 - c), 1 + c) : 1;
    const sf = s ? rng.uniform(Math.max(0, 1 - s), 1 + s) : 1;
    const hf = h ? rng.uniform(-h, h) : 0;
    if (bf === 1 && cf === 1 && sf === 1 && hf === 0) return img;
    const max = img.data instanceof Uint8Array ? 255 : 1;
    const rgb = img.channels === 3;
    const buf = Float32Array.from(img.data);
    const n = img.width * img.height, C = img.channels;
    const clamp = (v: number) => (v < 0 ? 0 : v > max ? max : v);
    for (const op of order) {
      if (op === 0 && bf !== 1) {
        for (let i = 0; i < buf.length; i++) buf[i] = clamp(buf[i] * bf);
      } else if (op === 1 && cf !== 1) {
        let mean = 0;
        if (rgb) for (let i = 0; i < n; i++) mean += GRAY_R * buf[i * 3] + GRAY_G * buf[i * 3 + 1] + GRAY_B * buf[i * 3 + 2];
        else for (let i = 0; i < n; i++) mean += buf[i * C];
        mean /= n;
        const off = (1 - cf) * mean;
        for (let i = 0; i < buf.length; i++) buf[i] = clamp(cf * buf[i] + off);
      } else if (op === 2 && sf !== 1 && rgb) {
        for (let i = 0; i < n * 3; i += 3) {
          const g = (1 - sf) * (GRAY_R * buf[i] + GRAY_G * buf[i + 1] + GRAY_B * buf[i + 2]);
          buf[i] = clamp(sf * buf[i] + g);
          buf[i + 1] = clamp(sf * buf[i + 1] + g);
          buf[i + 2] = clamp(sf * buf[i + 2] + g);
        }
      } else if (op === 3 && hf !== 0 && rgb) {
        shiftHue(buf, hf, max);
      }
    }
    const out = allocLike(img.data, buf.length);
    if (out instanceof Uint8Array) for (let i = 0; i < buf.length; i++) out[i] = (buf[i] + 0.5) | 0;
    else out.set(buf);
    return { data: out, width: img.width, height: img.height, channels: C };
  };
}

/** Rotate hue by `shift` (fraction of a full turn) in place on interleaved RGB floats in [0, max]. */
function shiftHue(buf: Float32Array, shift: number, max: number): void {
  for (let i = 0; i < buf.length; i += 3) {
    const r = buf[i] / max, g = buf[i + 1] / max, b = buf[i + 2] / max;
    const mx = r > g ? (r > b ? r : b) : g > b ? g : b, mn = r < g ? (r < b ? r : b) : g < b ? g : b, d = mx - mn;
    if (d === 0) continue; // gray: hue undefined, unchanged
    let hh: number;
    if (mx === r) hh = ((g - b) / d) % 6;
    else if (mx === g) hh = (b - r) / d + 2;
    else hh = (r - g) / d + 4;
    hh = hh / 6 + shift;
    hh -= Math.floor(hh);
    const sat = d / mx, v = mx;
    const h6 = hh * 6, k = Math.floor(h6), f = h6 - k;
    const p = v * (1 - sat), q = v * (1 - sat * f), t = v * (1 - sat * (1 - f));
    let rr: number, gg: number, bb: number;
    switch (k % 6) {
      case 0: rr = v; gg = t; bb = p; break;
      case 1: rr = q; gg = v; bb = p; break;
      case 2: rr = p; gg = v; bb = t; break;
      case 3: rr = p; gg = q; bb = v; break;
      case 4: rr = t; gg = p; bb = v; break;
      default: rr = v; gg = p; bb = q;
    }
    buf[i] = rr * max; buf[i + 1] = gg * max; buf[i + 2] = bb * max;
  }
}

// ---------------------------------------------------------------------------------------------
// Normalisation and its inverse

/** Throw a helpful error for a malformed normalisation spec (channel counts are checked later, per image). */
export function checkNormalizationSpec(spec: NormalizationSpec): void {
  const channels = typeof spec === "object" && spec !== null && Array.isArray(spec.mean) ? spec.mean.length : 3;
  normalizationAffine(spec, Math.max(channels, 1));
}

/**
 * Per-channel affine `out = v * scale[c] + offset[c]` implementing `spec` for `channels` channels.
 * `input` says what raw values mean: `uint8` (0..255) or `unit` (floats already in [0,1]).
 */
export function normalizationAffine(
  spec: NormalizationSpec, channels: number, input: "uint8" | "unit" = "uint8",
): { scale: Float32Array; offset: Float32Array } {
  const toUnit = input === "uint8" ? 1 / 255 : 1;
  const scale = new Float32Array(channels), offset = new Float32Array(channels);
  let mean: readonly number[], std: readonly number[];
  if (spec === "none") { scale.fill(1); return { scale, offset }; }
  if (spec === "unit") { mean = [0]; std = [1]; }
  else if (spec === "mobilenet") { mean = [0.5]; std = [0.5]; } // (x/255 - 0.5)/0.5 = x/127.5 - 1
  else if (spec === "imagenet") ({ mean, std } = IMAGENET_NORMALIZATION);
  else if (spec && Array.isArray(spec.mean) && Array.isArray(spec.std)) ({ mean, std } = spec);
  else throw new Error(`Unknown normalization ${JSON.stringify(spec)}; use "none", "unit", "mobilenet", "imagenet" or {mean, std}.`);
  if (mean.length !== std.length || (mean.length !== 1 && mean.length !== channels)) {
    throw new Error(`Normalization mean/std have ${mean.length}/${std.length} values but the image has ${channels} channels; give 1 or ${channels} of each.`);
  }
  for (let c = 0; c < channels; c++) {
    const m = mean.length === 1 ? mean[0] : mean[c], s = std.length === 1 ? std[0] : std[c];
    if (!(s > 0)) throw new Error(`Normalization std must be > 0, got ${s} for channel ${c}.`);
    scale[c] = toUnit / s;
    offset[c] = -m / s;
  }
  return { scale, offset };
}

/**
 * Normalise to float: uint8 input is first mapped to [0,1] (torchvision ToTensor), float input is assumed in [0,1].
 * `"imagenet"` = Normalize(IMAGENET mean, std); `"mobilenet"` = x/127.5 - 1; `"unit"` = x/255.
 */
export function normalizeTransform(spec: NormalizationSpec): SampleTransform {
  checkNormalizationSpec(spec);
  return (img) => {
    checkImage(img, "normalizeTransform");
    const { scale, offset } = normalizationAffine(spec, img.channels, img.data instanceof Uint8Array ? "uint8" : "unit");
    const src = img.data, C = img.channels, out = new Float32Array(src.length);
    for (let i = 0; i < src.length; i++) { const c = i % C; out[i] = src[i] * scale[c] + offset[c]; }
    return { data: out, width: img.width, height: img.height, channels: C };
  };
}

/** MobileNet preprocessing x/127.5 - 1 (Keras `mobilenet.preprocess_input`), as a transform. */
export function mobileNetScale(): SampleTransform {
  return normalizeTransform("mobilenet");
}

/**
 * Undo a normalisation for display: channels-last float data (an image, or a whole NHWC batch) back to uint8 0..255.
 * `channels` is the last-axis size (default: the length of the spec's mean, 3 for "imagenet", else 1).
 */
export function denormalizeToUint8(data: ArrayLike<number>, spec: NormalizationSpec, channels?: number): Uint8Array {
  const C = channels ?? (spec === "imagenet" ? 3 : typeof spec === "object" ? spec.mean.length : 1);
  const { scale, offset } = normalizationAffine(spec, C, "uint8");
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const c = i % C;
    const v = (data[i] - offset[c]) / scale[c];
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
  }
  return out;
}

/** Inverse of MobileNet scaling: (x + 1) * 127.5 back to uint8. */
export function unscaleMobileNetToUint8(data: ArrayLike<number>): Uint8Array {
  return denormalizeToUint8(data, "mobilenet", 1);
}
