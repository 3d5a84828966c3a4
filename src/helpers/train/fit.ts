/**
 * A custom training loop (like model.fit, but resumable and transparent) over a BatchStream, for a tf.LayersModel or
 * a plain forward function + variables. Works the same for a head on cached features and whole-network fine-tuning.
 *
 * Reproducibility: weights come from seeded initializers (builders in ../models), batches from the stream's
 * `iterate(epoch)` (seeded per epoch), and random ops inside a step (dropout) draw from a seeded PRNG whose state is
 * checkpointed. A run resumed from a checkpoint therefore replays the same numbers as an uninterrupted one.
 */
import * as tf from "@tensorflow/tfjs";
import type { BatchStream } from "../types";
import { Rng } from "../pipeline/rng";
import { backendFor, releasingNativeBuffers } from "../backend";
import { LrSchedule } from "./schedules";
import { withSeededMathRandom } from "./rng";
import type { EpochLogs, TrainingHistory } from "./history";
import { forward, isLayersModel, stateTensors, type TrainTarget } from "./target";
import {
  GroupedOptimizer, createOptimizer, isOptimizerInstance, optimizerBaseLr, setOptimizerLearningRate, trainableVariables,
  type OptimizerSpec,
} from "./optimizers";
import {
  CHECKPOINT_VERSION, loadBestWeights, loadLatestCheckpoint, saveBestCheckpoint, saveLatestCheckpoint,
} from "./checkpoint";
import { checkCheckpointDirWritable } from "./durable";
import { removeStaleTemps } from "../fetch/staleTemp";
import { beginWork, isInterruptedError, InterruptedError } from "../display/interrupt";
import { withTrainingProgress } from "../display/autoProgress";

/** (yTrue, yPred) -> scalar loss. yTrue is one-hot / multi-hot float32 [B, C]. */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Scalar;

export interface BatchEndInfo {
  epoch: number;
  batch: number;
  numBatches: number;
  loss: number;
  lr: number;
}

/** Progress hooks; the display module's progress bar implements these. Promises are awaited. */
export interface TrainingCallbacks {
  onTrainBegin?(info: { epochs: number; startEpoch: number; numBatches: number }): void | Promise<void>;
  onBatchEnd?(info: BatchEndInfo): void | Promise<void>;
  onEpochEnd?(logs: EpochLogs, history: TrainingHistory): void | Promise<void>;
  onTrainEnd?(history: TrainingHistory): void | Promise<void>;
}

export interface TrainOptions {
  epochs: number;
  validation?: BatchStream;
  /** Default { type: "adam", lr: 1e-3 }. A tf.Optimizer or GroupedOptimizer may be passed; give a spec to be resumable across processes with a fresh optimizer. */
  optimizer?: OptimizerSpec | tf.Optimizer | GroupedOptimizer;
  schedule?: LrSchedule;
  /** Default "categoricalCrossentropy" (single-label); "binaryCrossentropy" for multi-label; or a function. */
  loss?: "categoricalCrossentropy" | "binaryCrossentropy" | LossFn;
  /** Model outputs logits rather than probabilities (default false: softmax/sigmoid outputs). */
  fromLogits?: boolean;
  /** Label smoothing epsilon for single-label cross-entropy (default 0). */
  labelSmoothing?: number;
  /** Decoupled weight decay (AdamW-style: w -= lr * wd * w after each step) on kernels (rank >= 2), not biases/BN. */
  weightDecay?: number;
  /** Metric watched by early stopping and best-checkpoint keeping (default "val_loss" with validation, else "loss"). */
  monitor?: string;
  /** "min" or "max" (default: max for names containing "acc", else min). */
  mode?: "min" | "max";
  earlyStopping?: { patience: number; minDelta?: number };
  /** Keep a copy of the best weights in memory and restore them at the end. Default false. */
  restoreBestWeights?: boolean;
  /**
   * Save weights + optimizer + RNG + history here after every epoch (checkpointDir/latest/), and the best epoch's
   * weights by `monitor` in checkpointDir/best/ (also as a TF.js model: best/model.json, loadable with loadLayersModelFromDir).
   */
  checkpointDir?: string;
  /** Continue from checkpointDir/latest when present (default true). */
  resume?: boolean;
  /** Seed of the in-step PRNG (dropout). Default 42. */
  seed?: number;
  callbacks?: TrainingCallbacks;
  /** Show the training progress bar (default: in a notebook, a terminal or the headless run; not in pipes). */
  progress?: boolean;
}

const EPS = 1e-7;

function toTargets(y: tf.Tensor, numClasses: number, smoothing: number): tf.Tensor {
  let t = y.rank === 1 ? tf.oneHot(y.toInt(), numClasses).toFloat() : y.toFloat();
  if (smoothing > 0) t = tf.add(tf.mul(t, 1 - smoothing), smoothing / numClasses);
  return t;
}

function builtinLoss(kind: "categoricalCrossentropy" | "binaryCrossentropy", fromLogits: boolean): LossFn {
  if (kind === "categoricalCrossentropy") {
    return (yt, yp) =>
      fromLogits
        ? (tf.losses.softmaxCrossEntropy(yt, yp) as tf.Scalar)
        : (tf.neg(tf.mean(tf.sum(tf.mul(yt, tf.log(tf.clipByValue(yp, EPS, 1))), -1))) as tf.Scalar);
  }
  return (yt, yp) =>
    fromLogits
      ? (tf.losses.sigmoidCrossEntropy(yt, yp) as tf.Scalar)
      : (tf.neg(
          tf.mean(tf.add(tf.mul(yt, tf.log(tf.clipByValue(yp, EPS, 1))), tf.mul(tf.sub(1, yt), tf.log(tf.clipByValue(tf.sub(1, yp), EPS, 1))))),
        ) as tf.Scalar);
}

/** Number of correct predictions: argmax match (single-label) or per-element threshold match (multi-label). */
function correctCount(y: tf.Tensor, yp: tf.Tensor, multiLabel: boolean, fromLogits: boolean): tf.Scalar {
  if (!multiLabel) return tf.sum(tf.equal(tf.argMax(yp, -1), y.rank === 1 ? y.toInt() : tf.argMax(y, -1)).toFloat()) as tf.Scalar;
  const pred = tf.greater(yp, fromLogits ? 0 : 0.5);
  return tf.div(tf.sum(tf.equal(pred, tf.greater(y, 0.5)).toFloat()), y.shape[1] ?? 1) as tf.Scalar;
}

/**
 * Labels that don't fit the model would train silently on garbage (tf.oneHot maps an out-of-range index to
 * all zeros), so every batch is checked before its step: the first bad batch stops training with a clear error.
 */
export function checkBatchLabels(y: tf.Tensor, numClasses: number, multiLabel: boolean, where: string): void {
  if (!numClasses) return;
  if (multiLabel || y.rank === 2) {
    if (y.rank !== 2 || y.shape[1] !== numClasses) {
      throw new Error(`Labels at ${where} have shape [${y.shape}] but the model has ${numClasses} outputs; multi-label targets must be [batch, ${numClasses}].`);
    }
    return;
  }
  if (y.rank !== 1) throw new Error(`Labels at ${where} have shape [${y.shape}]; single-label training needs class indices of shape [batch].`);
  const v = y.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (!Number.isInteger(v[i]) || v[i] < 0 || v[i] >= numClasses) {
      throw new Error(
        `Label ${v[i]} at ${where} (sample ${i}) is not a class index of this model (0..${numClasses - 1}). ` +
          `Check that the dataset's class list matches the classifier head (numClasses) and that labels are integers.`,
      );
    }
  }
}

/** Turn an allocation failure into advice: which batch size failed, and what to try. Other errors pass through. */
export function explainOutOfMemory(e: unknown, batchSize: number): unknown {
  const msg = e instanceof Error ? e.message : String(e);
  if (!/allocation failed|invalid typed array length|cannot enlarge memory|out of memory|\bOOM\b|memory access out of bounds|bad_alloc/i.test(msg)) return e;
  const smaller = Math.max(1, Math.floor(batchSize / 2));
  return new Error(
    `Out of memory during a training step with batch size ${batchSize} on the '${tf.getBackend()}' backend (${msg.split("\n")[0]}). ` +
      `Use a smaller batch (e.g. batchSize: ${smaller}) or a smaller input size, and restart the kernel to free memory.`,
  );
}

/**
 * Train `target` on `train` for `opts.epochs` epochs. Returns the history (also kept in the checkpoint).
 * With `checkpointDir`, every epoch is checkpointed and a rerun resumes after the last completed epoch.
 */
export async function trainModel(target: TrainTarget, train: BatchStream, opts: TrainOptions): Promise<TrainingHistory> {
  await backendFor("training", { trainsConvolutions: trainsConvolutions(target) });
  // The native backend's step-sized buffer pool is not needed between runs.
  return releasingNativeBuffers(() => trainModelOnce(target, train, opts));
}

/** Whether training `target` back-propagates into convolution weights (a function model is assumed to). */
function trainsConvolutions(target: TrainTarget): boolean {
  if (!isLayersModel(target)) return true;
  const trainsConv = (layers: tf.layers.Layer[]): boolean =>
    layers.some((l) => {
      const inner = (l as unknown as { layers?: tf.layers.Layer[] }).layers;
      if (inner) return l.trainable && trainsConv(inner); // a nested model, e.g. a backbone under a head
      return l.trainable && l.trainableWeights.length > 0 && /conv/i.test(l.getClassName());
    });
  return trainsConv(target.layers);
}

async function trainModelOnce(target: TrainTarget, train: BatchStream, optsIn: TrainOptions): Promise<TrainingHistory> {
  const opts: TrainOptions = { ...optsIn, callbacks: withTrainingProgress(optsIn.callbacks, optsIn.progress) as TrainingCallbacks | undefined };
  // Kernel > Interrupt: checked (and the event loop given a turn) after every batch; see display/interrupt.ts.
  const work = beginWork("training");
  try {
    return await trainModelLoop(target, train, opts, work);
  } finally {
    work.end();
  }
}

/** The one line a notebook shows when training is interrupted: where, what the model holds, how to go on. */
function interruptedTrainingMessage(opts: TrainOptions, epoch: number, batch: number, numBatches: number, completed: number): string {
  const at = completed > epoch ? `after epoch ${completed}/${opts.epochs}` : `at epoch ${epoch + 1}/${opts.epochs}, batch ${batch}/${numBatches}`;
  const holds =
    batch > 0 && completed <= epoch
      ? `the model holds the weights after batch ${batch} of epoch ${epoch + 1} (${completed} complete epoch${completed === 1 ? "" : "s"})`
      : `the model holds the weights after ${completed} complete epoch${completed === 1 ? "" : "s"}`;
  const next = opts.checkpointDir
    ? completed > 0
      ? `re-running this cell resumes from the checkpoint of epoch ${completed} in ${opts.checkpointDir}`
      : `re-running this cell starts again from epoch 1 (no epoch completed, so no checkpoint yet)`
    : `re-running this cell trains these weights for ${opts.epochs} more epochs (pass checkpointDir to resume from the last completed epoch instead)`;
  return `training stopped ${at}: ${holds}; ${next}.`;
}

async function trainModelLoop(target: TrainTarget, train: BatchStream, opts: TrainOptions, work: ReturnType<typeof beginWork>): Promise<TrainingHistory> {
  // Refusals that need no tensors come first, before the optimizer (which owns tensors) exists.
  if (train.numBatches === 0) {
    throw new Error(
      `trainModel: the training data has ${train.numSamples} sample(s) and yields no batches` +
        `${train.numSamples > 0 ? ` (batch size ${train.batchSize} with dropLast)` : ""}, so there is nothing to train on. ` +
        `Check the dataset path/filter, or use a smaller batchSize or dropLast: false.`,
    );
  }
  if (opts.checkpointDir) {
    // Before the first epoch, not after it: a file or read-only folder would otherwise waste a whole epoch.
    checkCheckpointDirWritable(opts.checkpointDir);
    removeStaleTemps(opts.checkpointDir, "latest.tmp-");
    removeStaleTemps(opts.checkpointDir, "best.tmp-");
  }
  const seed = opts.seed ?? 42;
  const opt: tf.Optimizer | GroupedOptimizer =
    opts.optimizer === undefined
      ? createOptimizer({ type: "adam", lr: 1e-3 })
      : isOptimizerInstance(opts.optimizer)
        ? opts.optimizer
        : createOptimizer(opts.optimizer as OptimizerSpec);
  const baseLr = optimizerBaseLr(opt);
  const lossKind = opts.loss ?? "categoricalCrossentropy";
  const fromLogits = opts.fromLogits ?? false;
  const lossFn = typeof lossKind === "function" ? lossKind : builtinLoss(lossKind, fromLogits);
  const multiLabel = lossKind === "binaryCrossentropy";
  const smoothing = opts.labelSmoothing ?? 0;
  const monitor = opts.monitor ?? (opts.validation ? "val_loss" : "loss");
  const mode = opts.mode ?? (monitor.includes("acc") ? "max" : "min");
  const better = (a: number, b: number | null, delta = 0) => b === null || (mode === "min" ? a < b - delta : a > b + delta);
  const vars = trainableVariables(target);
  if (vars.length === 0) throw new Error("trainModel: the model has no trainable variables (all layers frozen?). Unfreeze some layers first.");
  const decayVars = opts.weightDecay ? vars.filter((v) => v.rank >= 2) : [];
  // State a training-mode forward pass changes besides the trained variables (BatchNorm moving statistics): small,
  // copied before each step so a non-finite loss leaves the model as it was before that batch.
  const trainableSet = new Set(vars);
  const sideState = stateTensors(target).map((s) => s.variable).filter((v) => !trainableSet.has(v) && /moving_(mean|variance)/.test(v.name));
  const outShape = isLayersModel(target) ? target.outputs[0].shape : undefined;
  let numClasses = outShape ? (outShape[outShape.length - 1] as number) : 0;

  let history: TrainingHistory = { epochs: [], stoppedEarly: false, startEpoch: 0 };
  let rng = new Rng(seed);
  let wait = 0;
  let bestValue: number | null = null;
  let bestWeights: tf.Tensor[] | undefined;
  const ckDir = opts.checkpointDir;

  if (ckDir && opts.resume !== false) {
    const st = await loadLatestCheckpoint(ckDir, target, opt);
    if (st) {
      history = { ...st.history, startEpoch: st.epoch + 1 };
      rng = Rng.fromState(st.rngState);
      wait = st.wait;
      bestValue = st.bestValue;
      if (opts.restoreBestWeights) bestWeights = loadBestWeights(ckDir);
      if (st.stopped) {
        // finished by early stopping: nothing to train; free what the resume loaded
        bestWeights?.forEach((t) => t.dispose());
        if (!isOptimizerInstance(opts.optimizer)) opt.dispose();
        return history;
      }
    }
  }
  const startEpoch = history.epochs.length;
  history.startEpoch = startEpoch;
  await opts.callbacks?.onTrainBegin?.({ epochs: opts.epochs, startEpoch, numBatches: train.numBatches });

  let lastFactor = NaN;
  const setFactor = (f: number) => {
    if (f === lastFactor) return;
    lastFactor = f;
    if (opt instanceof GroupedOptimizer) opt.setLrFactor(f);
    else setOptimizerLearningRate(opt, baseLr * f);
  };
  const lrOf = (name: string) => (opt instanceof GroupedOptimizer ? opt.lrFor(name) ?? 0 : baseLr * lastFactor);

  let epoch = startEpoch;
  let batch = 0;
  try {
    for (; epoch < opts.epochs; epoch++) {
      const t0 = Date.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      batch = 0;
      for await (const b of train.iterate(epoch)) {
        const bs = b.x.shape[0];
        const factor = opts.schedule ? opts.schedule({ epoch, step: epoch * train.numBatches + batch, stepsPerEpoch: train.numBatches, epochs: opts.epochs }) : 1;
        setFactor(factor);
        checkBatchLabels(b.y, numClasses, multiLabel, `epoch ${epoch + 1}, batch ${batch + 1}`);
        let stepOut: tf.Tensor[];
        const sideSnap = sideState.map((v) => tf.keep(v.clone()));
        try {
          stepOut = withSeededMathRandom(rng, () =>
          tf.tidy(() => {
            let corr: tf.Scalar | undefined;
            const { value, grads } = tf.variableGrads(() => {
              const preds = forward(target, b.x, true);
              if (!numClasses) numClasses = preds.shape[preds.shape.length - 1];
              // variableGrads disposes everything but the loss on return; keep the count (the outer tidy frees it)
              corr = tf.keep(correctCount(b.y, preds, multiLabel, fromLogits));
              return lossFn(toTargets(b.y, numClasses, smoothing), preds);
            }, vars);
            // A non-finite loss must not reach the weights (nor the optimizer's moments): stop before applying.
            if (!Number.isFinite(value.dataSync()[0]!)) return [value, corr!];
            opt.applyGradients(grads);
            for (const v of decayVars) v.assign(tf.mul(v, 1 - lrOf(v.name) * opts.weightDecay!));
            return [value, corr!];
          }),
          );
        } catch (e) {
          sideSnap.forEach((t) => t.dispose());
          throw explainOutOfMemory(e, bs);
        }
        const [lossT, corrT] = stepOut;
        const lossV = (await lossT.data())[0];
        correct += (await corrT.data())[0];
        lossT.dispose();
        corrT.dispose();
        b.x.dispose();
        b.y.dispose();
        if (!Number.isFinite(lossV)) {
          sideState.forEach((v, i) => v.assign(sideSnap[i]!));
          sideSnap.forEach((t) => t.dispose());
          throw new Error(
            `Loss became ${lossV} at epoch ${epoch + 1}, batch ${batch + 1}: lower the learning rate or check the labels/preprocessing ` +
              `(NaN or infinite inputs?). The model keeps its last good weights, from before this batch.`,
          );
        }
        sideSnap.forEach((t) => t.dispose());
        lossSum += lossV * bs;
        seen += bs;
        await opts.callbacks?.onBatchEnd?.({ epoch, batch, numBatches: train.numBatches, loss: lossV, lr: baseLr * factor });
        batch++;
        await work.checkpoint();
      }
      if (batch === 0) throw new Error(`trainModel: epoch ${epoch + 1} yielded no batches although the data reports ${train.numBatches}; the data stream is empty. Check the dataset.`);
      const logs: EpochLogs = { epoch, loss: lossSum / Math.max(1, seen), acc: correct / Math.max(1, seen), lr: baseLr * (Number.isNaN(lastFactor) ? 1 : lastFactor), seconds: 0 };
      if (opts.validation) {
        const v = await evaluateLoss(target, opts.validation, { loss: lossKind, fromLogits, numClasses, work });
        logs.val_loss = v.loss;
        logs.val_acc = v.acc;
      }
      logs.seconds = (Date.now() - t0) / 1000;
      history.epochs.push(logs);

      const value = (logs as unknown as Record<string, number | undefined>)[monitor];
      if (value === undefined) throw new Error(`monitor '${monitor}' is not among the epoch logs (${Object.keys(logs).join(", ")}).`);
      const improved = better(value, bestValue);
      const improvedEnough = better(value, bestValue, opts.earlyStopping?.minDelta ?? 0);
      if (improved) {
        bestValue = value;
        history.best = { epoch, monitor, value };
        if (opts.restoreBestWeights) {
          bestWeights?.forEach((t) => t.dispose());
          bestWeights = stateTensors(target).map((s) => tf.keep(s.variable.clone()));
        }
        if (ckDir) await saveBestCheckpoint(ckDir, target, { epoch, monitor, value });
      }
      wait = improvedEnough ? 0 : wait + 1;
      const stop = !!opts.earlyStopping && wait >= opts.earlyStopping.patience;
      if (stop) history.stoppedEarly = true;
      if (ckDir) {
        await saveLatestCheckpoint(ckDir, target, opt, { version: CHECKPOINT_VERSION, epoch, history, rngState: rng.state(), wait, bestValue, stopped: stop });
      }
      await opts.callbacks?.onEpochEnd?.(logs, history);
      if (stop) break;
      await work.checkpoint();
    }
    if (opts.restoreBestWeights && bestWeights) {
      const vars2 = stateTensors(target);
      bestWeights.forEach((t, i) => vars2[i].variable.assign(t));
    }
  } catch (e) {
    if (!isInterruptedError(e)) throw e;
    // Show the stopped state once (no further progress updates), then end the cell with one line.
    await opts.callbacks?.onTrainEnd?.(history);
    throw new InterruptedError(interruptedTrainingMessage(opts, epoch, batch, train.numBatches, history.epochs.length));
  } finally {
    // also on a crash (e.g. a callback throws): free what this call allocated
    bestWeights?.forEach((t) => t.dispose());
    // we own (and free) only optimizers we created from a spec
    if (!isOptimizerInstance(opts.optimizer)) opt.dispose();
  }
  await opts.callbacks?.onTrainEnd?.(history);
  return history;
}

/** Mean loss and accuracy over a stream, in inference mode. */
export async function evaluateLoss(
  target: TrainTarget,
  data: BatchStream,
  opts: { loss?: "categoricalCrossentropy" | "binaryCrossentropy" | LossFn; fromLogits?: boolean; numClasses?: number; work?: ReturnType<typeof beginWork> } = {},
): Promise<{ loss: number; acc: number }> {
  const work = opts.work ?? beginWork("evaluation");
  try {
    return await evaluateLossLoop(target, data, opts, work);
  } finally {
    if (!opts.work) work.end();
  }
}

async function evaluateLossLoop(
  target: TrainTarget,
  data: BatchStream,
  opts: { loss?: "categoricalCrossentropy" | "binaryCrossentropy" | LossFn; fromLogits?: boolean; numClasses?: number },
  work: ReturnType<typeof beginWork>,
): Promise<{ loss: number; acc: number }> {
  const kind = opts.loss ?? "categoricalCrossentropy";
  const fromLogits = opts.fromLogits ?? false;
  const lossFn = typeof kind === "function" ? kind : builtinLoss(kind, fromLogits);
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  for await (const b of data.iterate(0)) {
    const [l, c] = tf.tidy(() => {
      const p = forward(target, b.x, false);
      const k = opts.numClasses || p.shape[p.shape.length - 1];
      return [lossFn(toTargets(b.y, k, 0), p), correctCount(b.y, p, kind === "binaryCrossentropy", fromLogits)];
    });
    lossSum += (await l.data())[0] * b.x.shape[0];
    correct += (await c.data())[0];
    n += b.x.shape[0];
    l.dispose();
    c.dispose();
    b.x.dispose();
    b.y.dispose();
    await work.checkpoint(() => "during validation");
  }
  return { loss: lossSum / Math.max(1, n), acc: correct / Math.max(1, n) };
}
