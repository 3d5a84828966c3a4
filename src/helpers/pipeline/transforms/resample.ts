/** Resampling: resize (with antialiasing, fused with a crop box), crop, pad and flip, torchvision/PIL semantics. */
import { type PixelImage, type ResizeInterpolation, type WarpFillMode, checkImage, allocLike, parseSize } from "./image";

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
export function mapIndex(i: number, n: number, mode: WarpFillMode): number {
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
