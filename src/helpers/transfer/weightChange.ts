/**
 * How far training moved each group of layers: snapshot the learnable weights before training, then compare
 * per group (mean absolute change, and the same relative to the weights' mean magnitude before training).
 */
import * as tf from "@tensorflow/tfjs";
import { selectLayers, type LayerSelector } from "../models/layerSelect";

/** Copies of a model's learnable weights (kernels, biases, BN gamma/beta; not BN moving statistics), by layer name. */
export interface WeightSnapshot {
  /** The model the snapshot was taken from (its layer order resolves group selectors). */
  model: tf.LayersModel;
  /** Layer name -> copies of its learnable weights, in layer order. */
  weights: Map<string, Float32Array[]>;
}

/**
 * Weights an optimizer could learn, whether or not the layer is frozen right now. tfjs moves a frozen layer's
 * weights into `nonTrainableWeights`, so use the layer's own list, falling back to excluding BN moving statistics.
 */
function learnableWeights(layer: tf.layers.Layer): tf.LayerVariable[] {
  const own = (layer as unknown as { _trainableWeights?: tf.LayerVariable[] })._trainableWeights;
  if (Array.isArray(own)) return own;
  return layer.weights.filter((w) => !/moving_(mean|variance)$/.test(w.originalName ?? w.name));
}

/** Copy every layer's learnable weights (call before training; frozen layers are included). */
export function snapshotWeights(model: tf.LayersModel): WeightSnapshot {
  const weights = new Map<string, Float32Array[]>();
  for (const layer of model.layers) {
    const ws = learnableWeights(layer);
    if (ws.length) weights.set(layer.name, ws.map((w) => (w.read().dataSync() as Float32Array).slice()));
  }
  return { model, weights };
}

export interface WeightChangeGroup {
  name?: string;
  /** Layers of the group (same selector as a ParamGroup's `layers`, so the optimizer's groups can be passed as is). */
  layers?: LayerSelector;
}

export interface GroupWeightChange {
  group: string;
  /** Number of learnable parameters in the group. */
  params: number;
  /** Mean over the group's parameters of |w_after - w_before|. */
  meanAbsChange: number;
  /** meanAbsChange divided by the mean |w_before| of the group (how far it moved relative to its own scale). */
  relativeChange: number;
}

/**
 * Mean absolute weight change per group between two snapshots of the same model (or a snapshot and the model's
 * current weights). A layer counts in the first group that selects it; groups are resolved on `before.model`.
 */
export function weightChangeByGroup(
  before: WeightSnapshot,
  after: WeightSnapshot | tf.LayersModel,
  groups: ReadonlyArray<WeightChangeGroup>,
): GroupWeightChange[] {
  const now = "weights" in after && after.weights instanceof Map ? (after as WeightSnapshot) : snapshotWeights(after as tf.LayersModel);
  const layers = before.model.layers;
  const taken = new Set<number>();
  return groups.map((g, gi) => {
    const name = g.name ?? `group${gi}`;
    if (!g.layers) throw new Error(`weightChangeByGroup: group '${name}' needs a 'layers' selector.`);
    let params = 0;
    let absChange = 0;
    let absBefore = 0;
    for (const i of selectLayers(before.model, g.layers)) {
      if (taken.has(i)) continue;
      taken.add(i);
      const w0 = before.weights.get(layers[i].name);
      if (!w0) continue;
      const w1 = now.weights.get(layers[i].name);
      if (!w1 || w1.length !== w0.length) throw new Error(`weightChangeByGroup: layer '${layers[i].name}' is missing or different in the second snapshot; compare snapshots of the same model.`);
      w0.forEach((a, k) => {
        const b = w1[k];
        if (a.length !== b.length) throw new Error(`weightChangeByGroup: weight ${k} of layer '${layers[i].name}' changed size (${a.length} -> ${b.length}).`);
        for (let j = 0; j < a.length; j++) {
          absChange += Math.abs(b[j] - a[j]);
          absBefore += Math.abs(a[j]);
        }
        params += a.length;
      });
    }
    const meanAbsChange = params ? absChange / params : 0;
    const meanAbs = params ? absBefore / params : 0;
    return { group: name, params, meanAbsChange, relativeChange: meanAbs > 0 ? meanAbsChange / meanAbs : 0 };
  });
}
