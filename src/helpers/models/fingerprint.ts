/** A short content hash of a model's weights, e.g. for feature-cache keys of a backbone trained in the notebook. */
import * as tf from "@tensorflow/tfjs";
import * as crypto from "node:crypto";

/**
 * SHA-256 (first 16 hex digits) over every weight's name, shape and float values, in layer order. Two models with
 * the same architecture and weights give the same fingerprint; retraining with other settings gives another one.
 * Pass it as `extractFeatures({ keyExtra })` so cached features never outlive the weights that produced them.
 */
export function weightsFingerprint(model: tf.LayersModel): string {
  const h = crypto.createHash("sha256");
  // Layer by layer: `model.weights` lists trainable weights before frozen ones, so freezing a layer would reorder it
  // and change the fingerprint of identical weights (two chapters sharing one backbone, one frozen, missed each
  // other's cached features). Within a layer the order does not depend on `trainable`.
  for (const w of model.layers.flatMap((layer) => layer.weights)) {
    const v = w.read().dataSync();
    h.update(`${w.originalName}:${w.shape.join("x")};`);
    h.update(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  }
  return h.digest("hex").slice(0, 16);
}
