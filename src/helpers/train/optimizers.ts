/**
 * Optimizers: specs and `createOptimizer`, setting a learning rate, the trainable variables of a model, and per-group
 * learning rates ("discriminative fine-tuning": one tf optimizer per group of variables, each with its own learning
 * rate, behind the same applyGradients / getWeights / setWeights surface as a tf.Optimizer).
 */
import * as tf from "@tensorflow/tfjs";
import { selectLayers, type LayerSelector } from "../models/layerSelect";
import { isLayersModel, type TrainTarget } from "./target";

export interface SgdSpec {
  type: "sgd";
  lr: number;
  /** Momentum (0 = plain SGD). */
  momentum?: number;
  nesterov?: boolean;
}
export interface AdamSpec {
  type: "adam";
  lr: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}
export type OptimizerSpec = SgdSpec | AdamSpec;

/** Build a tf optimizer from a spec. */
export function createOptimizer(spec: OptimizerSpec): tf.Optimizer {
  if (spec.type === "sgd") return spec.momentum ? tf.train.momentum(spec.lr, spec.momentum, spec.nesterov ?? false) : tf.train.sgd(spec.lr);
  if (spec.type === "adam") return tf.train.adam(spec.lr, spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, spec.epsilon ?? 1e-7);
  throw new Error(`Unknown optimizer type '${(spec as { type: string }).type}'. Use { type: "sgd", lr, momentum } or { type: "adam", lr }.`);
}

export interface ParamGroup {
  name?: string;
  /** Layers whose trainable weights belong to the group (LayersModel only). */
  layers?: LayerSelector;
  /** Or explicit variables. */
  variables?: tf.Variable[];
  lr: number;
}

/** One saved optimizer variable (same shape as tf's NamedTensor, which tfjs does not export). */
export interface OptimizerWeight {
  name: string;
  tensor: tf.Tensor;
}

interface Group {
  name: string;
  baseLr: number;
  lr: number;
  names: Set<string>;
  optimizer: tf.Optimizer;
}

/** Set a tf optimizer's learning rate (SGD/momentum have setLearningRate; Adam and others read a field). */
export function setOptimizerLearningRate(opt: tf.Optimizer, lr: number): void {
  const o = opt as any;
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** Variables a model (or a function model) trains now, in model order. */
export function trainableVariables(model: TrainTarget): tf.Variable[] {
  if (isLayersModel(model)) return model.trainableWeights.map((w) => w.read() as tf.Variable);
  return model.variables.filter((v) => v.trainable);
}

export class GroupedOptimizer {
  readonly groups: Group[];
  /**
   * @param target model (for `layers` selectors) or null when every group lists `variables`
   * @param groups first match wins when a variable is in several groups
   * @param makeOptimizer builds each group's optimizer for its learning rate, e.g. `lr => tf.train.adam(lr)`
   * @param restLr learning rate for trainable variables in no group; undefined leaves them unchanged
   */
  constructor(target: tf.LayersModel | null, groups: ParamGroup[], makeOptimizer: (lr: number) => tf.Optimizer, restLr?: number) {
    const taken = new Set<string>();
    this.groups = groups.map((g, gi) => {
      let vars: tf.Variable[];
      if (g.variables) vars = g.variables;
      else if (g.layers && target) {
        const idx = selectLayers(target, g.layers);
        vars = idx.flatMap((i) => target.layers[i].trainableWeights.map((w) => w.read() as tf.Variable));
      } else throw new Error(`Parameter group ${g.name ?? gi} needs 'variables', or 'layers' together with a model.`);
      const names = new Set(vars.map((v) => v.name).filter((n) => !taken.has(n)));
      names.forEach((n) => taken.add(n));
      return { name: g.name ?? `group${gi}`, baseLr: g.lr, lr: g.lr, names, optimizer: makeOptimizer(g.lr) };
    });
    if (restLr !== undefined && target) {
      const rest = trainableVariables(target).map((v) => v.name).filter((n) => !taken.has(n));
      this.groups.push({ name: "rest", baseLr: restLr, lr: restLr, names: new Set(rest), optimizer: makeOptimizer(restLr) });
    }
  }

  /** Route each gradient to its group's optimizer; gradients of variables in no group are ignored. */
  applyGradients(grads: tf.NamedTensorMap): void {
    for (const g of this.groups) {
      const sub: tf.NamedTensorMap = {};
      for (const [k, v] of Object.entries(grads)) if (g.names.has(k)) sub[k] = v;
      if (Object.keys(sub).length) g.optimizer.applyGradients(sub);
    }
  }

  /** Scale every group's base learning rate by `factor` (schedules). */
  setLrFactor(factor: number): void {
    for (const g of this.groups) {
      g.lr = g.baseLr * factor;
      setOptimizerLearningRate(g.optimizer, g.lr);
    }
  }

  /** Current learning rate of the group holding `variableName` (undefined if none). */
  lrFor(variableName: string): number | undefined {
    return this.groups.find((g) => g.names.has(variableName))?.lr;
  }

  async getWeights(): Promise<OptimizerWeight[]> {
    const out: OptimizerWeight[] = [];
    for (let i = 0; i < this.groups.length; i++) {
      for (const w of await this.groups[i].optimizer.getWeights()) out.push({ name: `g${i}::${w.name}`, tensor: w.tensor });
    }
    return out;
  }

  async setWeights(weights: OptimizerWeight[]): Promise<void> {
    for (let i = 0; i < this.groups.length; i++) {
      const mine = weights.filter((w) => w.name.startsWith(`g${i}::`)).map((w) => ({ name: w.name.slice(`g${i}::`.length), tensor: w.tensor }));
      if (mine.length) await this.groups[i].optimizer.setWeights(mine);
    }
  }

  dispose(): void {
    for (const g of this.groups) g.optimizer.dispose();
  }
}

/** Convenience: `createGroupedOptimizer(model, [{ layers: { prefix: "head" }, lr: 1e-3 }, { layers: { lastBlocks: 2 }, lr: 1e-4 }], lr => tf.train.adam(lr))`. */
export function createGroupedOptimizer(
  target: tf.LayersModel | null,
  groups: ParamGroup[],
  makeOptimizer: (lr: number) => tf.Optimizer,
  restLr?: number,
): GroupedOptimizer {
  return new GroupedOptimizer(target, groups, makeOptimizer, restLr);
}

/** A tf.Optimizer or GroupedOptimizer (tf.Optimizer's instanceof check throws on undefined, so duck-type). */
export function isOptimizerInstance(o: unknown): o is tf.Optimizer | GroupedOptimizer {
  return o instanceof GroupedOptimizer || (o != null && typeof (o as tf.Optimizer).applyGradients === "function");
}

/** Base learning rate of an optimizer (a grouped one reports its first group's). */
export function optimizerBaseLr(opt: tf.Optimizer | GroupedOptimizer): number {
  if (opt instanceof GroupedOptimizer) return opt.groups[0]?.baseLr ?? 0;
  return Number((opt as any).learningRate ?? 0);
}

async function getOptWeights(opt: tf.Optimizer | GroupedOptimizer): Promise<OptimizerWeight[]> {
  return (await opt.getWeights()) as OptimizerWeight[];
}
