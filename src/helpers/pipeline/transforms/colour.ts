/** Colour: torchvision's ColorJitter (brightness, contrast, saturation, hue) on uint8 or [0, 1] float images. */
import { type SampleTransform, checkImage, allocLike } from "./image";

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
