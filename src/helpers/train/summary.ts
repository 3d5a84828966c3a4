/**
 * One record per training run, in the shape the comparison table, the curves chart and the results
 * file all take, so a chapter doesn't recompute "best val accuracy, wall time, parameters" by hand;
 * and the comparison table's rows built from those records.
 */
import type * as tf from "@tensorflow/tfjs";
import type { EpochLogs, TrainingHistory } from "./history";

export interface RunSummary {
  /** Row name, e.g. "feature extraction" or "fine-tune last 2 blocks". */
  name: string;
  /** Metrics, e.g. { val_acc: 0.93, seconds: 41 }. */
  metrics: Record<string, number | undefined>;
  /** Descriptive columns, e.g. { backbone: "mobilenet_v2_0.35", trainable: 12810 }. */
  info?: Record<string, string | number | undefined>;
}

export type ComparisonRow = Record<string, string | number | null>;

/**
 * Rows for a comparison table across runs: one row per run with `name`, the info fields, then the metrics
 * (missing values as null). `sortBy` sorts by a metric (descending unless `ascending`); `digits` rounds numbers.
 */
export function buildComparisonRows(runs: RunSummary[], opts: { metrics?: string[]; sortBy?: string; ascending?: boolean; digits?: number } = {}): ComparisonRow[] {
  const metricNames = opts.metrics ?? [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))];
  const infoNames = [...new Set(runs.flatMap((r) => Object.keys(r.info ?? {})))];
  const round = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? null : opts.digits !== undefined ? Number(v.toFixed(opts.digits)) : v);
  let sorted = runs;
  if (opts.sortBy) {
    const key = opts.sortBy;
    const dir = opts.ascending ? 1 : -1;
    sorted = [...runs].sort((a, b) => {
      const x = a.metrics[key];
      const y = b.metrics[key];
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      return dir * (x - y);
    });
  }
  return sorted.map((r) => {
    const row: ComparisonRow = { name: r.name };
    for (const k of infoNames) row[k] = r.info?.[k] ?? null;
    for (const m of metricNames) row[m] = round(r.metrics[m]);
    return row;
  });
}

export interface TrainingRun extends RunSummary {
  /** Per-epoch logs, for curves and for the results file. */
  history: EpochLogs[];
}

/** Best validation accuracy of a history (NaN when it has no val_acc). */
export function bestValAccuracy(history: TrainingHistory): number {
  const accs = history.epochs.map((e) => e.val_acc).filter((a): a is number => typeof a === "number");
  return accs.length ? Math.max(...accs) : NaN;
}

export interface SummarizeRunOptions {
  /** The trained model, for its trainable parameter count. */
  model?: tf.LayersModel;
  /** Seconds spent outside the loop that belong to this run (e.g. feature extraction). */
  extraSeconds?: number;
  /** Descriptive columns for the table. */
  info?: Record<string, string | number | undefined>;
}

/** Summarise a run: best and final val accuracy, best epoch (1-based), wall time, trainable parameters. */
export function summarizeRun(name: string, history: TrainingHistory, opts: SummarizeRunOptions = {}): TrainingRun {
  if (history.epochs.length === 0) throw new Error(`summarizeRun('${name}'): the history has no epochs; did training run?`);
  const best = bestValAccuracy(history);
  const bestEpoch = history.epochs.findIndex((e) => e.val_acc === best);
  const seconds = history.epochs.reduce((s, e) => s + e.seconds, 0) + (opts.extraSeconds ?? 0);
  const trainable = opts.model ? opts.model.trainableWeights.reduce((s, w) => s + (w.shape as number[]).reduce((a: number, b: number) => a * b, 1), 0) : undefined;
  return {
    name,
    info: { ...(trainable !== undefined ? { trainable_params: trainable } : {}), ...(opts.info ?? {}) },
    metrics: {
      best_val_acc: best,
      best_epoch: bestEpoch >= 0 ? bestEpoch + 1 : undefined,
      final_val_acc: history.epochs[history.epochs.length - 1].val_acc,
      seconds: Math.round(seconds * 10) / 10,
    },
    history: history.epochs,
  };
}
