/**
 * Evaluation: classification metrics on plain arrays (easy to test and to print), predictions with probabilities
 * for galleries, and comparison rows across runs (the display module renders them).
 */
import * as tf from "@tensorflow/tfjs";
import type { BatchStream } from "../types";
import { beginWork } from "../display/interrupt";

type Labels = ArrayLike<number>;
/** Per-sample score rows: probs[i][c]. */
export type ScoreRows = ArrayLike<ArrayLike<number>>;

function checkSameLength(a: Labels, b: { length: number }, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: yTrue has ${a.length} samples but predictions have ${b.length}.`);
}

/** Fraction of exact matches. NaN for no samples. */
export function accuracy(yTrue: Labels, yPred: Labels): number {
  checkSameLength(yTrue, yPred, "accuracy");
  if (yTrue.length === 0) return NaN;
  let c = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) c++;
  return c / yTrue.length;
}

/** Argmax of each score row. */
export function argmaxRows(scores: ScoreRows): number[] {
  const out: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const r = scores[i];
    let best = 0;
    for (let c = 1; c < r.length; c++) if (r[c] > r[best]) best = c;
    out.push(best);
  }
  return out;
}

/** Fraction of samples whose true class is among the k highest scores (ties: lower class index first). */
export function topKAccuracy(yTrue: Labels, scores: ScoreRows, k: number): number {
  checkSameLength(yTrue, scores, "topKAccuracy");
  if (yTrue.length === 0) return NaN;
  let hit = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const r = scores[i];
    const t = yTrue[i];
    // rank of the true class = number of classes scoring strictly higher (or equal with lower index)
    let rank = 0;
    for (let c = 0; c < r.length; c++) if (r[c] > r[t] || (r[c] === r[t] && c < t)) rank++;
    if (rank < k) hit++;
  }
  return hit / yTrue.length;
}

/** Confusion matrix, rows = true class, columns = predicted class. */
export function confusionMatrix(yTrue: Labels, yPred: Labels, numClasses: number): number[][] {
  checkSameLength(yTrue, yPred, "confusionMatrix");
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i];
    const p = yPred[i];
    if (!(t >= 0 && t < numClasses && p >= 0 && p < numClasses)) throw new Error(`confusionMatrix: label ${t} or prediction ${p} at sample ${i} is outside 0..${numClasses - 1}.`);
    m[t][p]++;
  }
  return m;
}

/** Accuracy within each true class (= recall per class); NaN for classes with no samples. */
export function perClassAccuracy(yTrue: Labels, yPred: Labels, numClasses: number): number[] {
  const cm = confusionMatrix(yTrue, yPred, numClasses);
  return cm.map((row, c) => {
    const n = row.reduce((a, b) => a + b, 0);
    return n === 0 ? NaN : row[c] / n;
  });
}

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}
export interface PrecisionRecallF1 {
  perClass: ClassScores[];
  /** Unweighted mean over classes with support > 0. */
  macro: ClassScores;
  /** Mean weighted by support. */
  weighted: ClassScores;
}

/** Precision, recall and F1 from a confusion matrix (rows true, columns predicted). 0/0 counts as 0, as in scikit-learn. */
export function precisionRecallF1(cm: number[][]): PrecisionRecallF1 {
  const k = cm.length;
  const perClass: ClassScores[] = [];
  for (let c = 0; c < k; c++) {
    const tp = cm[c][c];
    const support = cm[c].reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += cm[r][c];
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    perClass.push({ precision, recall, f1, support });
  }
  const present = perClass.filter((p) => p.support > 0);
  const total = present.reduce((s, p) => s + p.support, 0);
  const avg = (f: (p: ClassScores) => number, w: (p: ClassScores) => number, denom: number) => (denom === 0 ? 0 : present.reduce((s, p) => s + f(p) * w(p), 0) / denom);
  const macro = {
    precision: avg((p) => p.precision, () => 1, present.length),
    recall: avg((p) => p.recall, () => 1, present.length),
    f1: avg((p) => p.f1, () => 1, present.length),
    support: total,
  };
  const weighted = {
    precision: avg((p) => p.precision, (p) => p.support, total),
    recall: avg((p) => p.recall, (p) => p.support, total),
    f1: avg((p) => p.f1, (p) => p.support, total),
    support: total,
  };
  return { perClass, macro, weighted };
}

/**
 * Average precision of one class from scores and binary labels (1 positive, 0 negative).
 * - "voc2010" (default; PASCAL VOC 2010+ and the usual "VOC mAP"): area under the precision-recall curve after
 *   making precision monotonically non-increasing (precision at recall r = max precision at recall >= r),
 *   summed over every recall step.
 * - "voc2007": 11-point interpolated AP, mean of that interpolated precision at recall 0, 0.1, ..., 1.
 * Tied scores are ranked by original index (stable). NaN when there are no positives.
 */
export function averagePrecision(scores: Labels, labels: Labels, method: "voc2010" | "voc2007" = "voc2010"): number {
  checkSameLength(labels, scores, "averagePrecision");
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const npos = Array.from(labels).filter((l) => l > 0).length;
  if (npos === 0) return NaN;
  const rec: number[] = [];
  const prec: number[] = [];
  let tp = 0;
  order.forEach((i, r) => {
    if (labels[i] > 0) tp++;
    rec.push(tp / npos);
    prec.push(tp / (r + 1));
  });
  if (method === "voc2007") {
    let s = 0;
    for (let t = 0; t <= 10; t++) {
      const thr = t / 10;
      let p = 0;
      for (let i = 0; i < rec.length; i++) if (rec[i] >= thr - 1e-12) p = Math.max(p, prec[i]);
      s += p / 11;
    }
    return s;
  }
  const mrec = [0, ...rec, 1];
  const mpre = [0, ...prec, 0];
  for (let i = mpre.length - 2; i >= 0; i--) mpre[i] = Math.max(mpre[i], mpre[i + 1]);
  let ap = 0;
  for (let i = 1; i < mrec.length; i++) if (mrec[i] !== mrec[i - 1]) ap += (mrec[i] - mrec[i - 1]) * mpre[i];
  return ap;
}

/** Per-class AP and their mean over classes that have at least one positive (multi-label, VOC-style). */
export function meanAveragePrecision(scores: ScoreRows, labels: ScoreRows, method: "voc2010" | "voc2007" = "voc2010"): { perClass: number[]; mAP: number } {
  checkSameLength(labels as unknown as Labels, scores, "meanAveragePrecision");
  const k = scores.length ? scores[0].length : 0;
  const perClass: number[] = [];
  for (let c = 0; c < k; c++) {
    const s = Array.from({ length: scores.length }, (_, i) => scores[i][c]);
    const l = Array.from({ length: labels.length }, (_, i) => labels[i][c]);
    perClass.push(averagePrecision(s, l, method));
  }
  const valid = perClass.filter((x) => !Number.isNaN(x));
  return { perClass, mAP: valid.length ? valid.reduce((a, b) => a + b, 0) / valid.length : NaN };
}

export interface Prediction {
  /** Sample index in stream order. */
  index: number;
  predictedIndex: number;
  predicted: string;
  probability: number;
  /** Highest-scoring classes, best first. */
  top: { label: string; index: number; probability: number }[];
  trueIndex?: number;
  trueLabel?: string;
  correct?: boolean;
}

/** Class probabilities of `model` for every sample of a stream or a tensor, as rows (plus labels when a stream). */
export async function predictScores(model: tf.LayersModel, data: BatchStream | tf.Tensor): Promise<{ scores: number[][]; labels?: number[] }> {
  if (data instanceof tf.Tensor) {
    const p = model.predict(data) as tf.Tensor;
    const rows = (await p.array()) as number[][];
    p.dispose();
    return { scores: rows };
  }
  const scores: number[][] = [];
  const labels: number[] = [];
  // Kernel > Interrupt: checked (and the event loop given a turn) after every batch; see display/interrupt.ts.
  const work = beginWork("prediction");
  try {
    let done = 0;
    for await (const b of data.iterate(0)) {
      const p = model.predict(b.x) as tf.Tensor;
      scores.push(...((await p.array()) as number[][]));
      if (b.y.rank === 1) labels.push(...Array.from(await b.y.data()));
      p.dispose();
      b.x.dispose();
      b.y.dispose();
      done++;
      await work.checkpoint(() => `at batch ${done}/${data.numBatches} (re-running the cell predicts again)`);
    }
  } finally {
    work.end();
  }
  return { scores, labels: labels.length ? labels : undefined };
}

/** Predictions with probabilities and top-k classes, for galleries of right and wrong answers. */
export async function predictWithProbabilities(model: tf.LayersModel, data: BatchStream | tf.Tensor, classes: string[], topK = 3): Promise<Prediction[]> {
  const { scores, labels } = await predictScores(model, data);
  return predictionsFromScores(scores, classes, labels, topK);
}

/** Same as predictWithProbabilities, from scores already computed. */
export function predictionsFromScores(scores: ScoreRows, classes: string[], labels?: Labels, topK = 3): Prediction[] {
  const out: Prediction[] = [];
  for (let i = 0; i < scores.length; i++) {
    const r = Array.from(scores[i]);
    if (r.length !== classes.length) throw new Error(`Model gives ${r.length} scores per sample but ${classes.length} class names were given.`);
    const ranked = r.map((p, c) => ({ label: classes[c], index: c, probability: p })).sort((a, b) => b.probability - a.probability || a.index - b.index);
    const p: Prediction = { index: i, predictedIndex: ranked[0].index, predicted: ranked[0].label, probability: ranked[0].probability, top: ranked.slice(0, topK) };
    if (labels) {
      p.trueIndex = labels[i];
      p.trueLabel = classes[labels[i]];
      p.correct = labels[i] === ranked[0].index;
    }
    out.push(p);
  }
  return out;
}

export interface ClassificationReport {
  accuracy: number;
  /** Top-k accuracy for k = min(5, classes). */
  topK: { k: number; accuracy: number };
  perClassAccuracy: number[];
  confusion: number[][];
  prf: PrecisionRecallF1;
  classes: string[];
  numSamples: number;
}

/** All single-label metrics from scores and labels. */
export function classificationReport(yTrue: Labels, scores: ScoreRows, classes: string[]): ClassificationReport {
  const pred = argmaxRows(scores);
  const k = Math.min(5, classes.length);
  const cm = confusionMatrix(yTrue, pred, classes.length);
  return {
    accuracy: accuracy(yTrue, pred),
    topK: { k, accuracy: topKAccuracy(yTrue, scores, k) },
    perClassAccuracy: perClassAccuracy(yTrue, pred, classes.length),
    confusion: cm,
    prf: precisionRecallF1(cm),
    classes,
    numSamples: yTrue.length,
  };
}

/** Run a model over a labelled stream and compute the classification report. */
export async function evaluateClassifier(model: tf.LayersModel, data: BatchStream, classes: string[]): Promise<ClassificationReport> {
  const { scores, labels } = await predictScores(model, data);
  if (!labels) throw new Error("evaluateClassifier needs class-index labels (int32 [B]); for multi-hot labels use meanAveragePrecision.");
  return classificationReport(labels, scores, classes);
}

export * from "./pca";
export * from "./seedSummary";
export * from "./classCounts";
