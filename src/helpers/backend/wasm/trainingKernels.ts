// Training on the wasm backend (where libtorch is absent, e.g. macOS): tfjs-backend-wasm 4.22
// lacks Conv2DBackpropFilter and the depthwise input/filter gradients. These kernels compose
// them from wasm's own compiled kernels (no JS loops over elements), so convolutional models
// can train on wasm. Registered only where wasm has no kernel of that name.
import * as tf from "@tensorflow/tfjs";

type Args = Parameters<tf.KernelFunc>[0];
type Attrs = Record<string, unknown>;

const BACKEND = "wasm";

/** Runs wasm kernels directly (as backends compose kernels) and frees the intermediates. */
class Scope {
  private temps: tf.TensorInfo[] = [];
  constructor(private backend: tf.KernelBackend) {}
  run(name: string, inputs: tf.NamedTensorInfoMap | tf.TensorInfo[], attrs: Attrs = {}, keep = false): tf.TensorInfo {
    const k = tf.getKernel(name, BACKEND);
    if (!k) throw new Error(`wasm kernel ${name} is missing`);
    const out = k.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend: this.backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
    if (!keep) this.temps.push(out);
    return out;
  }
  dispose(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
    this.temps = [];
  }
}

function convInfo(xShape: number[], filterShape: number[], attrs: Attrs, depthwise: boolean) {
  if (((attrs.dataFormat as string | undefined) ?? "NHWC") !== "NHWC") throw new Error("wasm gradients: only NHWC is supported");
  const dil = (attrs.dilations ?? [1, 1]) as number | [number, number];
  if (!(dil === 1 || (Array.isArray(dil) && dil[0] === 1 && dil[1] === 1))) throw new Error("wasm gradients: dilation > 1 is not supported");
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number], filterShape as [number, number, number, number],
    attrs.strides as [number, number], 1, attrs.pad as "same", attrs.dimRoundingMode as "floor" | undefined, depthwise,
  );
}

/** dW[i,j,:,:] = x_pad[:, i::s, j::s, :]ᵀ · dy over all batch/output positions: one matmul per tap. */
function conv2DBackpropFilter({ inputs, backend, attrs }: Args): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as Attrs;
  const filterShape = a.filterShape as number[];
  const info = convInfo(x.shape, filterShape, a, false);
  const [kh, kw, ci, co] = filterShape;
  const { top, bottom, left, right } = info.padInfo;
  const [n, oh, ow] = dy.shape;
  const rows = n * oh * ow;
  const s = new Scope(backend as tf.KernelBackend);
  try {
    const xp = s.run("PadV2", { x }, { paddings: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]], constantValue: 0 });
    const dy3 = s.run("Reshape", { x: dy }, { shape: [1, rows, co] });
    const taps: tf.TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const patch = s.run("StridedSlice", { x: xp }, {
          begin: [0, i, j, 0], end: [n, i + (oh - 1) * info.strideHeight + 1, j + (ow - 1) * info.strideWidth + 1, ci],
          strides: [1, info.strideHeight, info.strideWidth, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
        });
        const p3 = s.run("Reshape", { x: patch }, { shape: [1, rows, ci] });
        taps.push(s.run("BatchMatMul", { a: p3, b: dy3 }, { transposeA: true, transposeB: false }));
      }
    }
    const packed = s.run("Pack", taps, { axis: 0 });
    return s.run("Reshape", { x: packed }, { shape: filterShape }, true);
  } finally {
    s.dispose();
  }
}

/** dW[i,j,c,m] = Σ_{n,oh,ow} x_pad[n, oh·s+i, ow·s+j, c] · dy[n,oh,ow,c·M+m], one strided slice per tap. */
function depthwiseBackpropFilter({ inputs, backend, attrs }: Args): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as Attrs;
  const filterShape = a.filterShape as number[];
  const info = convInfo(x.shape, filterShape, a, true);
  const [kh, kw, c, m] = filterShape;
  const { top, bottom, left, right } = info.padInfo;
  const [n, oh, ow] = dy.shape;
  const s = new Scope(backend as tf.KernelBackend);
  try {
    const xp = s.run("PadV2", { x }, { paddings: [[0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0]], constantValue: 0 });
    const dyB = m === 1 ? dy : s.run("Reshape", { x: dy }, { shape: [n, oh, ow, c, m] });
    const taps: tf.TensorInfo[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        let patch = s.run("StridedSlice", { x: xp }, {
          begin: [0, i, j, 0], end: [n, i + (oh - 1) * info.strideHeight + 1, j + (ow - 1) * info.strideWidth + 1, c],
          strides: [1, info.strideHeight, info.strideWidth, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0,
        });
        if (m !== 1) patch = s.run("Reshape", { x: patch }, { shape: [n, oh, ow, c, 1] });
        const prod = s.run("Multiply", { a: patch, b: dyB });
        taps.push(s.run("Sum", { x: prod }, { axis: [0, 1, 2], keepDims: false }));
      }
    }
    const packed = s.run("Pack", taps, { axis: 0 });
    return s.run("Reshape", { x: packed }, { shape: filterShape }, true);
  } finally {
    s.dispose();
  }
}

/**
 * dx = valid depthwise correlation of the zero-upsampled, padded dy with the spatially flipped
 * filter (one channel per input·multiplier pair), summed over the multiplier.
 */
function depthwiseBackpropInput({ inputs, backend, attrs }: Args): tf.TensorInfo {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = attrs as Attrs;
  const inShape = a.inputShape as number[];
  const info = convInfo(inShape, filter.shape, a, true);
  const [kh, kw, c, m] = filter.shape;
  const [n, h, w] = inShape;
  const [, oh, ow, cm] = dy.shape;
  const sh = info.strideHeight, sw = info.strideWidth;
  const padTop = kh - 1 - info.padInfo.top, padLeft = kw - 1 - info.padInfo.left;
  const padBottom = h + info.padInfo.top - oh * sh, padRight = w + info.padInfo.left - ow * sw;
  if (padTop < 0 || padLeft < 0) throw new Error("wasm DepthwiseConv2dNativeBackpropInput: padding larger than the filter");
  const s = new Scope(backend as tf.KernelBackend);
  try {
    const flipped = s.run("Reverse", { x: filter }, { dims: [0, 1] });
    const wf = s.run("Reshape", { x: flipped }, { shape: [kh, kw, cm, 1] });
    let u = dy;
    if (sh > 1 || sw > 1) {
      const d6 = s.run("Reshape", { x: dy }, { shape: [n, oh, 1, ow, 1, cm] });
      const z6 = s.run("PadV2", { x: d6 }, { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 });
      u = s.run("Reshape", { x: z6 }, { shape: [n, oh * sh, ow * sw, cm] });
    }
    if (padBottom < 0 || padRight < 0) {
      // Only trailing zeros of the upsampling are cut here.
      u = s.run("Slice", { x: u }, { begin: [0, 0, 0, 0], size: [n, oh * sh + Math.min(0, padBottom), ow * sw + Math.min(0, padRight), cm] });
    }
    const up = s.run("PadV2", { x: u }, { paddings: [[0, 0], [padTop, Math.max(0, padBottom)], [padLeft, Math.max(0, padRight)], [0, 0]], constantValue: 0 });
    const conv = s.run("DepthwiseConv2dNative", { x: up, filter: wf }, { strides: [1, 1], pad: "valid", dilations: [1, 1] }, m === 1);
    if (m === 1) return conv;
    const r = s.run("Reshape", { x: conv }, { shape: [n, h, w, c, m] });
    return s.run("Sum", { x: r }, { axis: [4], keepDims: false }, true);
  } finally {
    s.dispose();
  }
}

const KERNELS: Record<string, tf.KernelFunc> = {
  Conv2DBackpropFilter: conv2DBackpropFilter as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput as tf.KernelFunc,
};
const NEEDS = ["Reshape", "BatchMatMul", "PadV2", "StridedSlice", "Multiply", "Sum", "Pack", "Reverse", "Slice", "DepthwiseConv2dNative"];

/**
 * Register the missing wasm gradient kernels. Call after importing @tensorflow/tfjs-backend-wasm;
 * returns the names registered (none if wasm is not loaded or already has them). Never throws.
 */
export function registerWasmTrainingKernels(): string[] {
  try {
    if (NEEDS.some((k) => !tf.getKernel(k, BACKEND))) return [];
    const added: string[] = [];
    for (const [kernelName, kernelFunc] of Object.entries(KERNELS)) {
      if (tf.getKernel(kernelName, BACKEND)) continue;
      tf.registerKernel({ kernelName, backendName: BACKEND, kernelFunc });
      added.push(kernelName);
    }
    return added;
  } catch {
    return [];
  }
}
