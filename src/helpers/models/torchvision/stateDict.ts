/**
 * Copy a PyTorch state dict onto a TF.js model whose layers are named by torch module path (./architectures):
 * conv kernels OIHW -> HWIO, depthwise O1HW -> HWO1, Linear [out, in] -> [in, out], and for the first Linear after a
 * Flatten of a feature map its rows reordered from torch's C,H,W flatten order to tfjs's H,W,C. Reports missing and
 * unexpected keys and shape mismatches the way `load_state_dict(strict=True)` does.
 */
import * as tf from "@tensorflow/tfjs";
import type { StateDict, TorchTensor } from "../pth/read";

/** Thrown when a state dict does not fit the model; lists every missing / unexpected key and shape mismatch. */
export class StateDictMismatchError extends Error {
  constructor(
    message: string,
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: string[],
  ) {
    super(message);
    this.name = "StateDictMismatchError";
  }
}

export interface LoadStateDictResult {
  /** Keys the model needs that the file lacks (their weights are left as they were). */
  missing: string[];
  /** Keys in the file the model has no place for (ignored). */
  unexpected: string[];
  /** Keys copied. */
  loaded: string[];
}

export interface LoadStateDictOptions {
  /** Like torch: throw on any missing or unexpected key (default true). Shape mismatches always throw. */
  strict?: boolean;
}

type Slot = { key: string; variable: tf.LayerVariable; torchShape: number[]; convert: (t: TorchTensor) => Float32Array };

const permute = (src: Float32Array, shape: number[], perm: number[]): Float32Array => {
  const out = new Float32Array(src.length);
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const outShape = perm.map((p) => shape[p]);
  const idx = new Array(outShape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let off = 0;
    for (let d = 0; d < idx.length; d++) off += idx[d] * strides[perm[d]];
    out[k] = src[off];
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
};

/** Linear weight [out, in] -> Dense kernel [in, out]. */
function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

/** The [H, W, C] feature map a Dense layer's input was flattened from (through Dropouts), if any. */
function flattenedFrom(layer: tf.layers.Layer): [number, number, number] | undefined {
  let l: tf.layers.Layer | undefined = layer;
  for (let hops = 0; hops < 8 && l; hops++) {
    const prev: tf.layers.Layer | undefined = (l as any).inboundNodes?.[0]?.inboundLayers?.[0];
    if (!prev) return undefined;
    const cls = prev.getClassName();
    if (cls === "Flatten") {
      const s = prev.inputSpec?.[0]?.shape ?? ((prev as any).inboundNodes?.[0]?.inputShapes?.[0] as number[] | undefined);
      const shape = (s ?? (prev.input as tf.SymbolicTensor).shape) as (number | null)[];
      if (shape.length === 4 && shape.slice(1).every((d) => d != null)) return shape.slice(1) as [number, number, number];
      return undefined;
    }
    if (cls !== "Dropout") return undefined;
    l = prev;
  }
  return undefined;
}

function slotsOf(model: tf.LayersModel): Slot[] {
  const slots: Slot[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const w = layer.weights;
    const n = layer.name;
    const byName = (suffix: string) => w.find((v) => (v.originalName ?? v.name).endsWith(`/${suffix}`));
    const add = (key: string, v: tf.LayerVariable | undefined, torchShape: number[], convert: Slot["convert"]) => {
      if (v) slots.push({ key, variable: v, torchShape, convert });
    };
    if (cls === "Conv2D") {
      const k = byName("kernel")!;
      const [kh, kw, ci, co] = k.shape as number[];
      add(`${n}.weight`, k, [co, ci, kh, kw], (t) => permute(t.data, t.shape, [2, 3, 1, 0]));
      add(`${n}.bias`, byName("bias"), [co], (t) => t.data);
    } else if (cls === "DepthwiseConv2D") {
      const k = byName("depthwise_kernel")!;
      const [kh, kw, c, m] = k.shape as number[];
      add(`${n}.weight`, k, [c * m, 1, kh, kw], (t) => permute(t.data, t.shape, [2, 3, 0, 1]));
      add(`${n}.bias`, byName("bias"), [c * m], (t) => t.data);
    } else if (cls === "Dense") {
      const k = byName("kernel")!;
      const [inF, outF] = k.shape as number[];
      const hwc = flattenedFrom(layer);
      add(`${n}.weight`, k, [outF, inF], (t) => {
        let src = t.data;
        if (hwc && hwc[0] * hwc[1] > 1) {
          // torch flattened C,H,W; tfjs flattens H,W,C: reorder the input axis [out, C, H, W] -> [out, H, W, C].
          const [h, ww, c] = hwc;
          src = permute(src, [outF, c, h, ww], [0, 2, 3, 1]);
        }
        return transpose2d(src, outF, inF);
      });
      add(`${n}.bias`, byName("bias"), [outF], (t) => t.data);
    } else if (cls === "BatchNormalization") {
      const c = (byName("moving_mean") ?? w[0]).shape[0] as number;
      add(`${n}.weight`, byName("gamma"), [c], (t) => t.data);
      add(`${n}.bias`, byName("beta"), [c], (t) => t.data);
      add(`${n}.running_mean`, byName("moving_mean"), [c], (t) => t.data);
      add(`${n}.running_var`, byName("moving_variance"), [c], (t) => t.data);
    } else if (w.length) {
      throw new Error(`loadTorchStateDict: layer '${n}' (${cls}) has weights but no known PyTorch counterpart.`);
    }
  }
  return slots;
}

/** The state dict keys `model` expects, in layer order (num_batches_tracked excluded). */
export function expectedStateDictKeys(model: tf.LayersModel): string[] {
  return slotsOf(model).map((s) => s.key);
}

/**
 * Load `stateDict` into `model` (in place). Shape mismatches always throw, naming each key with both shapes;
 * missing / unexpected keys throw unless `strict: false`. BatchNorm's `num_batches_tracked` is ignored. Nothing is
 * written unless every check passes.
 */
export function loadTorchStateDict(model: tf.LayersModel, stateDict: StateDict, opts: LoadStateDictOptions = {}): LoadStateDictResult {
  const strict = opts.strict ?? true;
  const slots = slotsOf(model);
  const wanted = new Set(slots.map((s) => s.key));
  const missing = slots.filter((s) => !stateDict.has(s.key)).map((s) => s.key);
  const unexpected = [...stateDict.keys()].filter((k) => !wanted.has(k) && !k.endsWith(".num_batches_tracked"));
  const mismatched: string[] = [];
  for (const s of slots) {
    const t = stateDict.get(s.key);
    if (t && (t.shape.length !== s.torchShape.length || t.shape.some((d, i) => d !== s.torchShape[i]))) {
      mismatched.push(`${s.key}: file has [${t.shape.join(", ")}], model needs [${s.torchShape.join(", ")}]`);
    }
  }
  if (mismatched.length || (strict && (missing.length || unexpected.length))) {
    const parts = [
      mismatched.length ? `size mismatch for ${mismatched.length} key(s): ${mismatched.slice(0, 10).join("; ")}${mismatched.length > 10 ? "; ..." : ""}` : "",
      strict && missing.length ? `missing key(s) (${missing.length}): ${missing.slice(0, 10).join(", ")}${missing.length > 10 ? ", ..." : ""}` : "",
      strict && unexpected.length ? `unexpected key(s) (${unexpected.length}): ${unexpected.slice(0, 10).join(", ")}${unexpected.length > 10 ? ", ..." : ""}` : "",
    ].filter(Boolean);
    throw new StateDictMismatchError(
      `Error(s) in loading state_dict for ${model.name}: ${parts.join(". ")}. ` +
        `Is the file for this architecture (and number of classes)? Pass { strict: false } to load only the matching keys.`,
      missing,
      unexpected,
      mismatched,
    );
  }
  const loaded: string[] = [];
  for (const s of slots) {
    const t = stateDict.get(s.key);
    if (!t) continue;
    const value = tf.tensor(s.convert(t), s.variable.shape as number[], "float32");
    s.variable.write(value);
    value.dispose();
    loaded.push(s.key);
  }
  return { missing, unexpected, loaded };
}
