/** Affine warps (rotation, shear, zoom, shift) with Keras ImageDataGenerator semantics. */
import { type PixelImage, type SampleTransform, type ResizeInterpolation, type WarpFillMode, checkImage, allocLike } from "./image";
import { mapIndex } from "./resample";

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
