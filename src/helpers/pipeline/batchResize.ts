/** Tensor-level resizing of whole batches, for upsampling small images (CIFAR's 32x32) to a backbone's input. */
import * as tf from "@tensorflow/tfjs";
import type { LabeledBatch } from "../types";

/**
 * A `batchTransform` for arrayStream/fileStream that resizes x [B, H, W, C] to `size` x `size` (or [h, w]) with
 * tf.image.resizeBilinear (default; half-pixel centres, like PIL/torchvision) or nearest neighbour. Values keep
 * their range, so it can run before or after normalisation. Cheaper than per-sample resizing: one op per batch,
 * on the active backend.
 */
export function upsampleBatch(
  size: number | readonly [number, number],
  opts: { method?: "bilinear" | "nearest" } = {},
): (batch: LabeledBatch) => LabeledBatch {
  const [h, w] = typeof size === "number" ? [size, size] : size;
  if (![h, w].every((v) => Number.isInteger(v) && v > 0)) throw new Error(`upsampleBatch: size must be positive integers, got ${JSON.stringify(size)}.`);
  const method = opts.method ?? "bilinear";
  return (batch) => {
    if (batch.x.rank !== 4) throw new Error(`upsampleBatch: expected x of rank 4 [B, H, W, C], got shape [${batch.x.shape}].`);
    const x = batch.x as tf.Tensor4D;
    if (x.shape[1] === h && x.shape[2] === w) return batch;
    const r = method === "nearest" ? tf.image.resizeNearestNeighbor(x, [h, w], false, true) : tf.image.resizeBilinear(x, [h, w], false, true);
    return { x: r, y: batch.y };
  };
}
