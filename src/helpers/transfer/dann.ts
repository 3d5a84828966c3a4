/**
 * Domain-adversarial training (DANN; Ganin & Lempitsky 2015, "Unsupervised Domain Adaptation by Backpropagation").
 *
 * Three parts: a feature extractor G_f, a label classifier G_y on the features (trained on labelled source batches)
 * and a domain classifier G_d behind a gradient reversal layer (trained on source + unlabelled target batches to tell
 * the domains apart). One step minimises  L_y(source) + w * L_d(source, target):  G_d descends L_d, while G_f gets
 * -lambda times L_d's gradient through the reversal, so it learns features the domain classifier cannot separate.
 *
 * Schedules from the paper, with p = training progress in [0, 1]:
 *   lambda_p = 2 / (1 + exp(-gamma p)) - 1  (gamma = 10),      lr_p = lr_0 / (1 + alpha p)^beta  (alpha = 10, beta = 0.75).
 *
 * The same loop without a target stream (or with domainLossWeight 0) is plain supervised training of G_y(G_f(x)),
 * which gives the source-only and target-supervised baselines exactly the same optimiser and schedules.
 */
import * as tf from "@tensorflow/tfjs";
import type { BatchStream, LabeledBatch } from "../types";
import { createOptimizer, setOptimizerLearningRate, type OptimizerSpec } from "../train/optimizers";
import { gradientReversal } from "./gradientReversal";
import { seededInitializer } from "../models/builders";
import { releasingNativeBuffers } from "../backend";
import { beginWork, InterruptedError, isInterruptedError, type Work } from "../display/interrupt";
import { autoProgressEnabled, autoTrainingProgress } from "../display/autoProgress";

/** lambda_p = 2 / (1 + exp(-gamma p)) - 1: 0 at p = 0, ~1 at p = 1. */
export function dannLambda(p: number, gamma = 10): number {
  return 2 / (1 + Math.exp(-gamma * p)) - 1;
}

/** Learning-rate factor 1 / (1 + alpha p)^beta (multiply by lr_0). */
export function dannLrFactor(p: number, alpha = 10, beta = 0.75): number {
  return 1 / Math.pow(1 + alpha * p, beta);
}

/** The three networks. `labelClassifier` outputs class probabilities (softmax); `domainClassifier` one logit. */
export interface DannNetworks {
  featureExtractor: tf.LayersModel;
  labelClassifier: tf.LayersModel;
  domainClassifier: tf.LayersModel;
}

export interface DannNetworkOptions {
  /** Input image shape, default [28, 28, 3]. */
  inputShape?: [number, number, number];
  numClasses: number;
  /** Conv filters (5x5, each followed by 2x2 max-pool), default [32, 48] as in the paper's MNIST network. */
  filters?: number[];
  /** Units of the dense feature layer after the convolutions (0 = use the flattened conv map), default 0. */
  featureUnits?: number;
  /** Hidden units of the label classifier (default [100]) and of the domain classifier (default [100]). */
  labelHidden?: number[];
  domainHidden?: number[];
  /** Conv kernel size, default 5. */
  kernelSize?: number;
  seed?: number;
}

/**
 * Small DANN networks for digit-sized images (the paper's MNIST architecture scaled by `filters`):
 * G_f = [conv(k x k) - relu - maxpool 2] x len(filters) - flatten (- dense featureUnits relu);
 * G_y = dense hidden relu ... - dense numClasses softmax; G_d = dense hidden relu ... - dense 1 (logit).
 * All initialisers seeded, so two calls with the same seed give identical weights.
 */
export function buildDannNetworks(opts: DannNetworkOptions): DannNetworks {
  const seed = opts.seed ?? 42;
  let s = seed;
  const input = tf.input({ shape: opts.inputShape ?? [28, 28, 3], name: "dann_image" });
  let x: tf.SymbolicTensor = input;
  (opts.filters ?? [32, 48]).forEach((f, i) => {
    x = tf.layers
      .conv2d({ filters: f, kernelSize: opts.kernelSize ?? 5, padding: "same", activation: "relu", kernelInitializer: seededInitializer(s++, "heNormal"), name: `dann_conv${i + 1}` })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2, name: `dann_pool${i + 1}` }).apply(x) as tf.SymbolicTensor;
  });
  x = tf.layers.flatten({ name: "dann_flatten" }).apply(x) as tf.SymbolicTensor;
  if (opts.featureUnits) {
    x = tf.layers.dense({ units: opts.featureUnits, activation: "relu", kernelInitializer: seededInitializer(s++, "heNormal"), name: "dann_features" }).apply(x) as tf.SymbolicTensor;
  }
  const featureExtractor = tf.model({ inputs: input, outputs: x, name: "dann_feature_extractor" });
  const featShape = x.shape.slice(1) as number[];
  const head = (name: string, hidden: number[], units: number, activation: "softmax" | "linear") => {
    const inp = tf.input({ shape: featShape, name: `${name}_input` });
    let h: tf.SymbolicTensor = inp;
    hidden.forEach((u, i) => {
      h = tf.layers.dense({ units: u, activation: "relu", kernelInitializer: seededInitializer(s++, "heNormal"), name: `${name}_hidden${i + 1}` }).apply(h) as tf.SymbolicTensor;
    });
    const out = tf.layers.dense({ units, activation, kernelInitializer: seededInitializer(s++), name: `${name}_out` }).apply(h) as tf.SymbolicTensor;
    return tf.model({ inputs: inp, outputs: out, name });
  };
  return {
    featureExtractor,
    labelClassifier: head("label_classifier", opts.labelHidden ?? [100], opts.numClasses, "softmax"),
    domainClassifier: head("domain_classifier", opts.domainHidden ?? [100], 1, "linear"),
  };
}

/** G_y(G_f(x)) as one tf.LayersModel (shares the layers, so it predicts with the trained weights). */
export function dannClassifier(nets: Pick<DannNetworks, "featureExtractor" | "labelClassifier">): tf.LayersModel {
  const f = nets.featureExtractor;
  const out = nets.labelClassifier.apply(f.outputs[0]) as tf.SymbolicTensor;
  return tf.model({ inputs: f.inputs, outputs: out, name: "dann_classifier" });
}

export interface DannEpochLogs {
  epoch: number;
  /** Mean source label cross-entropy over the epoch. */
  labelLoss: number;
  /** Source label accuracy over the epoch's training batches. */
  labelAcc: number;
  /** Mean domain cross-entropy (NaN when no domain classifier was trained). */
  domainLoss: number;
  /** Domain classifier accuracy on the training batches (0.5 = domains indistinguishable). */
  domainAcc: number;
  /** lambda and learning rate at the epoch's last step. */
  lambda: number;
  lr: number;
  seconds: number;
  /** Whatever `evaluate` returned for this epoch (e.g. target_acc). */
  [metric: string]: number;
}

export interface TrainDannOptions {
  /** Labelled source batches: x images, y int32 class indices [B] (or one-hot [B, C]). */
  source: BatchStream;
  /** Unlabelled target batches (y ignored). Omit for plain supervised training on `source`. */
  target?: BatchStream;
  epochs: number;
  /** Default { type: "sgd", lr: 0.01, momentum: 0.9 } (the paper's). */
  optimizer?: OptimizerSpec;
  /** "dann" (default): lr_0 / (1 + 10p)^0.75; "constant"; or a factor function of p. */
  lrSchedule?: "dann" | "constant" | ((p: number) => number);
  /** "dann" (default): 2 / (1 + exp(-10 p)) - 1; a constant; or a function of p. */
  lambdaSchedule?: "dann" | number | ((p: number) => number);
  /** Weight of the domain loss in the total (default 1). 0 trains no domain classifier (source-only). */
  domainLossWeight?: number;
  /** Called after each epoch with that epoch's logs; may add metrics by returning them (e.g. target accuracy). */
  evaluate?: (epoch: number) => Promise<Record<string, number>> | Record<string, number>;
  onEpochEnd?: (logs: DannEpochLogs) => void | Promise<void>;
  /** Show the training progress bar (default: in a notebook, a terminal or the headless run; not in pipes). */
  progress?: boolean;
}

export interface DannHistory {
  epochs: DannEpochLogs[];
  steps: number;
  seconds: number;
}

function oneHotLabels(y: tf.Tensor, numClasses: number): tf.Tensor {
  return y.rank === 1 ? tf.oneHot(y.toInt(), numClasses).toFloat() : y.toFloat();
}

/**
 * Train DANN networks (or, without a target, the source classifier alone). One epoch is one pass over `source`;
 * the target stream is cycled alongside (its epochs advance when it runs out). Batches of both streams should have
 * the same size (the domain classifier then sees balanced domains). Weights are updated in place.
 */
export async function trainDann(nets: DannNetworks | Pick<DannNetworks, "featureExtractor" | "labelClassifier">, opts: TrainDannOptions): Promise<DannHistory> {
  // Kernel > Interrupt: checked (and the event loop given a turn) after every step; see display/interrupt.ts.
  const work = beginWork("DANN training");
  try {
    // The native backend's step-sized buffer pool is not needed between runs.
    return await releasingNativeBuffers(() => trainDannOnce(nets, opts, work));
  } finally {
    work.end();
  }
}

async function trainDannOnce(nets: DannNetworks | Pick<DannNetworks, "featureExtractor" | "labelClassifier">, opts: TrainDannOptions, work: Work): Promise<DannHistory> {
  const t0 = Date.now();
  const w = opts.domainLossWeight ?? 1;
  const domain = opts.target && w > 0 ? (nets as DannNetworks).domainClassifier : undefined;
  if (opts.target && w > 0 && !domain) throw new Error("trainDann: a target stream needs nets.domainClassifier (or set domainLossWeight: 0).");
  if (!Number.isInteger(opts.epochs) || opts.epochs <= 0) throw new Error(`trainDann: epochs must be a positive integer, got ${opts.epochs}.`);
  const spec = opts.optimizer ?? { type: "sgd", lr: 0.01, momentum: 0.9 };
  const optimizer = createOptimizer(spec);
  const lr0 = spec.lr;
  const lrFactor = opts.lrSchedule === "constant" ? () => 1 : typeof opts.lrSchedule === "function" ? opts.lrSchedule : (p: number) => dannLrFactor(p);
  const lam = opts.lambdaSchedule ?? "dann";
  const lambdaAt = typeof lam === "number" ? () => lam : typeof lam === "function" ? lam : (p: number) => dannLambda(p);
  const numClasses = nets.labelClassifier.outputs[0].shape[nets.labelClassifier.outputs[0].shape.length - 1] as number;
  const vars = [nets.featureExtractor, nets.labelClassifier, ...(domain ? [domain] : [])].flatMap((m) => m.trainableWeights.map((v) => v.read() as tf.Variable));
  const totalSteps = opts.epochs * opts.source.numBatches;

  // Target batches, cycled: a new pass (next epoch number) starts when one ends.
  let targetEpoch = 0;
  let targetIt: AsyncIterableIterator<LabeledBatch> | undefined = domain ? opts.target!.iterate(0) : undefined;
  const nextTarget = async (): Promise<tf.Tensor> => {
    let r = await targetIt!.next();
    if (r.done) {
      targetIt = opts.target!.iterate(++targetEpoch);
      r = await targetIt.next();
      if (r.done) throw new Error("trainDann: the target stream yielded no batches.");
    }
    r.value.y.dispose();
    return r.value.x;
  };

  const history: DannHistory = { epochs: [], steps: 0, seconds: 0 };
  let step = 0;
  let epoch = 0;
  const bar = autoProgressEnabled(opts.progress) ? autoTrainingProgress({ epochs: opts.epochs, batchesPerEpoch: opts.source.numBatches }) : undefined;
  bar?.onTrainBegin({ epochs: opts.epochs, numBatches: opts.source.numBatches });
  try {
    for (; epoch < opts.epochs; epoch++) {
      const te = Date.now();
      let sumLy = 0, sumLd = 0, nBatches = 0, correct = 0, seen = 0, dCorrect = 0, dSeen = 0;
      let lambda = 0, lr = lr0;
      for await (const b of opts.source.iterate(epoch)) {
        const p = step / Math.max(1, totalSteps - 1);
        lambda = lambdaAt(p);
        lr = lr0 * lrFactor(p);
        setOptimizerLearningRate(optimizer, lr);
        const xt = domain ? await nextTarget() : undefined;
        const ns = b.x.shape[0];
        // variableGrads disposes everything its function creates except the returned loss, so the numbers we log
        // (label loss, domain loss, correct counts) are computed inside it and kept explicitly.
        const kept: tf.Tensor[] = [];
        const keep = (t: tf.Tensor) => {
          kept.push(tf.keep(t));
          return t;
        };
        tf.tidy(() => {
          const yTrue = oneHotLabels(b.y, numClasses);
          const { grads } = tf.variableGrads(() => {
            const x = xt ? tf.concat([b.x, xt], 0) : b.x;
            const feats = nets.featureExtractor.apply(x, { training: true }) as tf.Tensor;
            const fs = xt ? feats.slice(0, ns) : feats;
            const probs = nets.labelClassifier.apply(fs, { training: true }) as tf.Tensor;
            const ly = tf.neg(tf.mean(tf.sum(tf.mul(yTrue, tf.log(tf.clipByValue(probs, 1e-7, 1))), -1))) as tf.Scalar;
            keep(ly);
            keep(tf.sum(tf.equal(tf.argMax(probs, -1), tf.argMax(yTrue, -1)).toFloat()));
            if (!domain || !xt) return ly;
            const dLogits = (domain.apply(gradientReversal(feats, lambda), { training: true }) as tf.Tensor).reshape([-1]);
            const nt = xt.shape[0];
            const dLabels = tf.concat([tf.zeros([ns]), tf.ones([nt])]);
            const ld = tf.losses.sigmoidCrossEntropy(dLabels, dLogits) as tf.Scalar;
            keep(ld);
            keep(tf.sum(tf.equal(tf.greater(dLogits, 0).toFloat(), dLabels).toFloat()));
            return tf.add(ly, tf.mul(ld, w)) as tf.Scalar;
          }, vars);
          optimizer.applyGradients(grads);
        });
        const vals = await Promise.all(kept.map(async (t) => (await t.data())[0]));
        tf.dispose(kept);
        const [vly, vacc, vld = NaN, vdacc = NaN] = vals;
        b.x.dispose();
        b.y.dispose();
        xt?.dispose();
        sumLy += vly;
        sumLd += vld;
        correct += vacc;
        seen += ns;
        if (xt) {
          dCorrect += vdacc;
          dSeen += ns + xt.shape[0];
        }
        nBatches++;
        step++;
        if (!Number.isFinite(vly)) throw new Error(`trainDann: label loss became ${vly} at epoch ${epoch + 1}, step ${step}; lower the learning rate.`);
        bar?.onBatchEnd({ labelLoss: vly, lambda, lr });
        await work.checkpoint();
      }
      const logs: DannEpochLogs = {
        epoch: epoch + 1,
        labelLoss: sumLy / nBatches,
        labelAcc: correct / seen,
        domainLoss: domain ? sumLd / nBatches : NaN,
        domainAcc: domain ? dCorrect / dSeen : NaN,
        lambda: domain ? lambda : 0,
        lr,
        seconds: 0,
      };
      if (opts.evaluate) Object.assign(logs, await opts.evaluate(epoch + 1));
      logs.seconds = (Date.now() - te) / 1000;
      history.epochs.push(logs);
      bar?.onEpochEnd(logs);
      await opts.onEpochEnd?.(logs);
    }
  } catch (e) {
    if (!isInterruptedError(e)) throw e;
    bar?.onTrainEnd();
    throw new InterruptedError(
      `DANN training stopped at epoch ${epoch + 1}/${opts.epochs}, step ${step}/${totalSteps}: the networks hold the weights after step ${step} (${history.epochs.length} complete epochs); re-running this cell trains them further from here (DANN keeps no checkpoint).`,
    );
  } finally {
    if (targetIt) await targetIt.return?.(undefined);
    optimizer.dispose();
  }
  bar?.onTrainEnd();
  history.steps = step;
  history.seconds = (Date.now() - t0) / 1000;
  return history;
}
