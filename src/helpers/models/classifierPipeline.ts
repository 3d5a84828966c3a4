/**
 * The evaluation preprocessing of an exported image classifier, as data (`ClassifierPipelineStep[]`) and as one
 * function that runs it. The same module is bundled into the browser demo, so the page prepares a photo with
 * exactly the code the notebook evaluated with: no second implementation to drift apart.
 *
 * This file must stay free of Node imports (fs, sharp...): it runs in the browser.
 */
import * as tf from "@tensorflow/tfjs";
import {
  centerCrop, makePixelImage, normalizationAffine, normalizeTransform, resizeTransform, type NormalizationSpec, type PixelImage,
} from "../pipeline/transforms";
import type { PreprocessingSpec } from "./zoo";

/**
 * One step of an evaluation pipeline, applied in order to an 8-bit RGB photo:
 * - `resizeShorter`: torchvision `Resize(size)` (shorter side to `size`, bilinear with antialiasing);
 * - `centerCrop`: torchvision `CenterCrop(size)`;
 * - `upsample`: `tf.image.resizeBilinear` to size x size on the whole tensor (how CIFAR's 32-px images reach a backbone);
 * - `normalize`: a named or mean/std normalisation (`NormalizationSpec`) on [0, 255] pixels;
 * - `scale`: `x * scale + offset` on [0, 255] pixels (a backbone's own `PreprocessingSpec`).
 */
export type ClassifierPipelineStep =
  | { op: "resizeShorter"; size: number }
  | { op: "centerCrop"; size: number }
  | { op: "upsample"; size: number }
  | { op: "normalize"; spec: NormalizationSpec }
  | { op: "scale"; scale: number; offset: number };

/** torchvision's ImageNet evaluation recipe: Resize(size·256/224), CenterCrop(size), then the normalisation. */
export function imagenetEvalPipeline(size: number, normalization: NormalizationSpec | PreprocessingSpec): ClassifierPipelineStep[] {
  return [{ op: "resizeShorter", size: Math.round((size * 256) / 224) }, { op: "centerCrop", size }, normalizationStep(normalization)];
}

/** The step for a normalisation given either as a `NormalizationSpec` or as a backbone's `PreprocessingSpec`. */
export function normalizationStep(n: NormalizationSpec | PreprocessingSpec): ClassifierPipelineStep {
  if (typeof n === "object" && n !== null && "kind" in n) {
    // torchvision-style specs are mean/std on [0, 1] pixels, which is what a NormalizationSpec object means too
    return n.kind === "scale" ? { op: "scale", scale: n.scale, offset: n.offset } : { op: "normalize", spec: { mean: n.mean, std: n.std } };
  }
  return { op: "normalize", spec: n };
}

/** Check a pipeline read from a file; the message names the bad step. */
export function checkClassifierPipeline(steps: unknown): asserts steps is ClassifierPipelineStep[] {
  if (!Array.isArray(steps) || steps.length === 0) throw new Error("The classifier pipeline must be a non-empty list of steps.");
  steps.forEach((s: any, i) => {
    const where = `pipeline step ${i + 1} (${JSON.stringify(s)})`;
    switch (s?.op) {
      case "resizeShorter": case "centerCrop": case "upsample":
        if (!Number.isInteger(s.size) || s.size <= 0) throw new Error(`${where}: size must be a positive integer.`);
        break;
      case "normalize":
        normalizeTransform(s.spec); // throws a clear message for an unknown spec
        break;
      case "scale":
        if (!Number.isFinite(s.scale) || !Number.isFinite(s.offset)) throw new Error(`${where}: scale and offset must be numbers.`);
        break;
      default:
        throw new Error(`${where}: unknown op; use resizeShorter, centerCrop, upsample, normalize or scale.`);
    }
  });
  const last = steps[steps.length - 1] as ClassifierPipelineStep;
  if (last.op !== "normalize" && last.op !== "scale") throw new Error("The classifier pipeline must end with a normalize or scale step.");
}

/** The side of the square image the pipeline hands to the model (the last resize/crop/upsample size). */
export function pipelineOutputSize(steps: readonly ClassifierPipelineStep[]): number | undefined {
  let size: number | undefined;
  for (const s of steps) if (s.op === "centerCrop" || s.op === "upsample") size = s.size;
  return size;
}

/**
 * Run the pipeline on one 8-bit RGB image (HWC) and return the model input, a [1, H, W, 3] float32 tensor.
 * Pixel steps run on typed arrays (the same transforms the training notebooks use); `upsample` and the
 * normalisation run as tensor ops, as the feature extraction did.
 */
export function applyClassifierPipeline(image: PixelImage, steps: readonly ClassifierPipelineStep[]): tf.Tensor4D {
  checkClassifierPipeline(steps as unknown);
  let img = makePixelImage(image.data, image.width, image.height, image.channels);
  let i = 0;
  for (; i < steps.length; i++) {
    const s = steps[i];
    if (s.op === "resizeShorter") img = resizeTransform(s.size)(img, undefined as never);
    else if (s.op === "centerCrop") img = centerCrop(s.size)(img, undefined as never);
    else if (s.op === "normalize") img = normalizeTransform(s.spec)(img, undefined as never);
    else break; // tensor steps from here on
  }
  return tf.tidy(() => {
    let x: tf.Tensor4D = tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, img.channels]);
    for (; i < steps.length; i++) {
      const s = steps[i];
      if (s.op === "upsample") x = tf.image.resizeBilinear(x, [s.size, s.size], false, true);
      else if (s.op === "scale") x = tf.add(tf.mul(x, s.scale), s.offset);
      else if (s.op === "normalize") {
        const { scale, offset } = normalizationAffine(s.spec, x.shape[3], "uint8");
        x = tf.add(tf.mul(x, tf.tensor1d(scale)), tf.tensor1d(offset));
      } else throw new Error(`pipeline step '${s.op}' must come before the tensor steps (upsample, scale).`);
    }
    return x;
  });
}

/** Softmax scores of one image: the class probabilities in the model's output order. */
export function classifyPixels(model: tf.LayersModel, image: PixelImage, steps: readonly ClassifierPipelineStep[]): Float32Array {
  const x = applyClassifierPipeline(image, steps);
  try {
    const y = model.predict(x) as tf.Tensor;
    try { return Float32Array.from(y.dataSync()); } finally { y.dispose(); }
  } finally {
    x.dispose();
  }
}
