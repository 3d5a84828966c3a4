/** Seeded shuffles, stratified train/val splits and few-shot subsets, as index arrays any stream can take. */
import { Rng } from "./rng";

/** A copy of `items` in seeded random order. */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  return new Rng(seed).shuffle(items.slice());
}

/** Options for `trainValSplit`: give exactly one of valFraction, valPerClass, trainPerClass. */
export interface TrainValSplitOptions {
  /** Fraction of samples for validation (per class when stratified): round(count * fraction). */
  valFraction?: number;
  /** Exactly this many validation samples per class (the rest train). */
  valPerClass?: number;
  /** Exactly this many training samples per class (few-shot; the rest validate). */
  trainPerClass?: number;
  seed?: number;
  /** Split each class separately so class proportions are kept (default true; needed for the *PerClass options). */
  stratify?: boolean;
}

export function checkLabels(labels: ArrayLike<number>, who: string): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!Number.isInteger(l) || l < 0) throw new Error(`${who}: labels must be non-negative integer class indices; labels[${i}] = ${l}.`);
  }
}

function groupByClass(labels: ArrayLike<number>): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const g = groups.get(labels[i]);
    if (g) g.push(i);
    else groups.set(labels[i], [i]);
  }
  return new Map([...groups.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * Seeded train/validation split of sample indices (both returned sorted ascending; streams shuffle them).
 * Stratified by default. Throws if a per-class count asks for more samples than a class has.
 */
export function trainValSplit(labels: ArrayLike<number>, opts: TrainValSplitOptions): { train: Int32Array; val: Int32Array } {
  checkLabels(labels, "trainValSplit");
  const given = (["valFraction", "valPerClass", "trainPerClass"] as const).filter((k) => opts[k] !== undefined);
  if (given.length !== 1) {
    throw new Error(`trainValSplit: give exactly one of valFraction, valPerClass, trainPerClass (got ${given.length ? given.join(", ") : "none"}).`);
  }
  const stratify = opts.stratify ?? true;
  const rng = new Rng(opts.seed ?? 0);
  if (opts.valFraction !== undefined && !(opts.valFraction >= 0 && opts.valFraction <= 1)) {
    throw new Error(`trainValSplit: valFraction must be in [0, 1], got ${opts.valFraction}.`);
  }
  for (const k of ["valPerClass", "trainPerClass"] as const) {
    const v = opts[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new Error(`trainValSplit: ${k} must be a non-negative integer, got ${v}.`);
  }
  if (!stratify && opts.valFraction === undefined) throw new Error("trainValSplit: valPerClass/trainPerClass need stratify: true.");
  const groups = stratify ? groupByClass(labels) : new Map([[0, Array.from({ length: labels.length }, (_, i) => i)]]);
  const train: number[] = [], val: number[] = [];
  for (const [cls, idx] of groups) {
    rng.shuffle(idx);
    let nVal: number;
    if (opts.valFraction !== undefined) nVal = Math.round(idx.length * opts.valFraction);
    else if (opts.valPerClass !== undefined) nVal = opts.valPerClass;
    else nVal = idx.length - opts.trainPerClass!;
    if (nVal < 0 || nVal > idx.length) {
      const want = opts.valPerClass ?? opts.trainPerClass;
      throw new Error(
        `trainValSplit: class ${cls} has only ${idx.length} samples, fewer than the ${want} per class requested. ` +
          `Lower the per-class count or drop that class.`,
      );
    }
    val.push(...idx.slice(0, nVal));
    train.push(...idx.slice(nVal));
  }
  const sorted = (a: number[]) => Int32Array.from(a).sort();
  return { train: sorted(train), val: sorted(val) };
}

/**
 * Few-shot subset: `k` seeded random samples of every class (sorted indices). Throws if a class has fewer than k,
 * unless `allowFewer` (then that class contributes all it has).
 */
export function fewShotIndices(labels: ArrayLike<number>, k: number, seed: number, opts: { allowFewer?: boolean } = {}): Int32Array {
  checkLabels(labels, "fewShotIndices");
  if (!Number.isInteger(k) || k <= 0) throw new Error(`fewShotIndices: k must be a positive integer, got ${k}.`);
  const rng = new Rng(seed);
  const out: number[] = [];
  for (const [cls, idx] of groupByClass(labels)) {
    if (idx.length < k && !opts.allowFewer) {
      throw new Error(`fewShotIndices: class ${cls} has ${idx.length} samples, fewer than k=${k}. Use a smaller k or { allowFewer: true }.`);
    }
    rng.shuffle(idx);
    out.push(...idx.slice(0, k));
  }
  return Int32Array.from(out).sort();
}

/** Take `indices` of an array (e.g. file samples or labels) in that order. */
export function takeIndices<T>(items: ArrayLike<T>, indices: ArrayLike<number>): T[] {
  const out: T[] = new Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!Number.isInteger(j) || j < 0 || j >= items.length) throw new Error(`takeIndices: index ${j} out of range [0, ${items.length}).`);
    out[i] = items[j];
  }
  return out;
}
