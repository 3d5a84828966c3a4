/** Shared shapes that pass between the data pipeline, the training loop and evaluation. */
import type * as tf from "@tensorflow/tfjs";

/**
 * One batch from a pipeline. `x` is images NHWC float32 (or feature vectors [B, D]);
 * `y` holds int32 class indices [B] for single-label data, or float32 multi-hot [B, C] for multi-label.
 * The consumer owns the tensors and disposes them.
 */
export interface LabeledBatch {
  x: tf.Tensor;
  y: tf.Tensor;
}

/** A re-iterable source of batches: each call to `iterate(epoch)` yields one pass (seeded by epoch when shuffling). */
export interface BatchStream {
  readonly numSamples: number;
  readonly batchSize: number;
  readonly numBatches: number;
  iterate(epoch?: number): AsyncIterableIterator<LabeledBatch>;
}
