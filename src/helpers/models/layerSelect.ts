/** Layer selectors: which layers of a model an operation (freeze, a learning-rate group, a weight-change report) acts on. */
import * as tf from "@tensorflow/tfjs";

/**
 * Which layers to act on. Fields combine with OR. `lastBlocks: n` selects the layers from the start of the n-th
 * last numbered block to the end of the model (MobileNetV2 `block_1_`..`block_16_`, MobileNet v1 `conv_dw_1`..`_13`),
 * so the top conv and any head are included.
 */
export interface LayerSelector {
  all?: boolean;
  names?: string[];
  prefix?: string | string[];
  /** Layer indices [start, end) in model.layers order; negative values count from the end. */
  range?: [number, number];
  lastBlocks?: number;
  /** Any custom test. */
  where?: (layer: tf.layers.Layer, index: number) => boolean;
}

/** Block number of a MobileNet layer name, or undefined. */
export function blockNumber(layerName: string): number | undefined {
  const m = /^block_(\d+)_/.exec(layerName) ?? /^conv_(?:dw|pw|pad)_(\d+)/.exec(layerName);
  return m ? Number(m[1]) : undefined;
}

/** Indices of the layers a selector picks (throws when a named layer does not exist). */
export function selectLayers(model: tf.LayersModel, sel: LayerSelector): number[] {
  const layers = model.layers;
  const picked = new Set<number>();
  const n = layers.length;
  if (sel.all) layers.forEach((_, i) => picked.add(i));
  if (sel.names) {
    for (const name of sel.names) {
      const i = layers.findIndex((l) => l.name === name);
      if (i < 0) throw new Error(`No layer named '${name}' in model '${model.name}'.`);
      picked.add(i);
    }
  }
  if (sel.prefix !== undefined) {
    const prefixes = Array.isArray(sel.prefix) ? sel.prefix : [sel.prefix];
    let hit = false;
    layers.forEach((l, i) => {
      if (prefixes.some((p) => l.name.startsWith(p))) {
        picked.add(i);
        hit = true;
      }
    });
    if (!hit) throw new Error(`No layer of model '${model.name}' starts with ${prefixes.map((p) => `'${p}'`).join(" or ")}.`);
  }
  if (sel.range) {
    const norm = (k: number) => (k < 0 ? n + k : k);
    const [a, b] = [norm(sel.range[0]), norm(sel.range[1])];
    for (let i = Math.max(0, a); i < Math.min(n, b); i++) picked.add(i);
  }
  if (sel.lastBlocks !== undefined && sel.lastBlocks > 0) {
    const nums = layers.map((l) => blockNumber(l.name));
    const max = Math.max(...nums.filter((x): x is number => x !== undefined));
    if (!Number.isFinite(max)) throw new Error(`lastBlocks: model '${model.name}' has no numbered blocks (block_N_ / conv_dw_N layers).`);
    const first = max - sel.lastBlocks + 1;
    const start = first <= 0 ? 0 : nums.findIndex((b) => b !== undefined && b >= first);
    for (let i = start; i < n; i++) picked.add(i);
  }
  if (sel.where) layers.forEach((l, i) => sel.where!(l, i) && picked.add(i));
  return [...picked].sort((a, b) => a - b);
}
