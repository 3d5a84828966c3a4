/** Normalisation (unit, MobileNet [-1, 1], ImageNet mean/std, custom) and its inverse for display. */
import { type SampleTransform, checkImage } from "./image";

/** Normalisation: `unit` = [0,1], `mobilenet` = [-1,1] (x/127.5-1), `imagenet` = ((x/255)-mean)/std, or custom mean/std on [0,1] data. */
export type NormalizationSpec = "none" | "unit" | "mobilenet" | "imagenet" | { mean: readonly number[]; std: readonly number[] };

/** ImageNet channel statistics (RGB, on [0,1] data) used by torchvision / Keras "torch" preprocessing. */
export const IMAGENET_NORMALIZATION: { readonly mean: readonly number[]; readonly std: readonly number[] } = Object.freeze({
  mean: Object.freeze([0.485, 0.456, 0.406]),
  std: Object.freeze([0.229, 0.224, 0.225]),
});

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
