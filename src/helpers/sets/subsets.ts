/**
 * Subsets of in-memory image arrays: copy chosen samples into a new dataset, or keep only some classes (relabelled
 * 0..n-1), e.g. MNIST digits 0-4 as one task and 5-9 as another. Each subset remembers where its samples came from,
 * so a notebook can show that two subsets share no image.
 */
import type { ArrayDataset } from "./arrays";

/** An ArrayDataset cut out of another one; `sourceIndices[i]` is sample i's index in the dataset it was taken from. */
export interface SubsetDataset extends ArrayDataset {
  sourceIndices: Int32Array;
}

function checkDataset(ds: ArrayDataset, where: string): number {
  const [h, w, c] = ds.imageShape;
  const px = h * w * c;
  if (!Number.isInteger(px) || px <= 0) throw new Error(`${where}: imageShape [${ds.imageShape}] must be three positive integers.`);
  if (ds.labels.length !== ds.count || ds.images.length !== ds.count * px) {
    throw new Error(
      `${where}: the dataset says count ${ds.count}, but has ${ds.labels.length} labels and ${ds.images.length} image bytes ` +
        `(expected ${ds.count} labels and ${ds.count} x ${px} bytes); build it with one of the loaders (e.g. loadMnist).`,
    );
  }
  return px;
}

/**
 * Copy the samples at `indices` (in that order; repeats allowed) into a new dataset with the same classes. The
 * result owns its bytes: changing it never changes `ds`.
 */
export function takeSamples(ds: ArrayDataset, indices: ArrayLike<number>): SubsetDataset {
  const px = checkDataset(ds, "takeSamples");
  const n = indices.length;
  const images = new Uint8Array(n * px);
  const labels = new Int32Array(n);
  const sourceIndices = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new Error(`takeSamples: index ${i} (position ${k}) is not a sample of this dataset; valid indices are integers 0..${ds.count - 1}.`);
    }
    images.set(ds.images.subarray(i * px, (i + 1) * px), k * px);
    labels[k] = ds.labels[i];
    sourceIndices[k] = i;
  }
  return { images, labels, classes: [...ds.classes], imageShape: [...ds.imageShape], count: n, sourceIndices };
}

/**
 * The samples whose label is one of `classes`, in dataset order, relabelled 0..classes.length-1 in the order given
 * (class names follow, e.g. ["5", ..., "9"]). Throws when a class is unknown, repeated, or has no samples here.
 */
export function selectClasses(ds: ArrayDataset, classes: readonly number[]): SubsetDataset {
  checkDataset(ds, "selectClasses");
  if (classes.length === 0) throw new Error("selectClasses: no classes given; pass the class indices to keep, e.g. [5, 6, 7, 8, 9].");
  const newLabel = new Map<number, number>();
  for (const c of classes) {
    if (!Number.isInteger(c) || c < 0 || c >= ds.classes.length) {
      throw new Error(`selectClasses: class ${c} does not exist; this dataset's classes are 0..${ds.classes.length - 1} (${ds.classes.join(", ")}).`);
    }
    if (newLabel.has(c)) throw new Error(`selectClasses: class ${c} is listed twice in [${classes}]; list each class once.`);
    newLabel.set(c, newLabel.size);
  }
  const idx: number[] = [];
  const perClass = new Map<number, number>();
  for (let i = 0; i < ds.count; i++) {
    const l = ds.labels[i];
    if (newLabel.has(l)) {
      idx.push(i);
      perClass.set(l, (perClass.get(l) ?? 0) + 1);
    }
  }
  const empty = classes.filter((c) => !perClass.has(c));
  if (empty.length) {
    throw new Error(`selectClasses: class ${empty.map((c) => `${c} (${ds.classes[c]})`).join(", ")} has no samples in this dataset of ${ds.count}; check the split you loaded.`);
  }
  const out = takeSamples(ds, idx);
  out.labels = Int32Array.from(out.labels, (l) => newLabel.get(l)!);
  out.classes = classes.map((c) => ds.classes[c]);
  return out;
}

/**
 * The first `perClass` samples of each class, in dataset order (a class with fewer keeps all of its own). The
 * rehearsal's cap on the packaged data sets (`TL_REHEARSAL_PER_CLASS`); returns `ds` itself when nothing is cut.
 */
export function firstPerClass(ds: ArrayDataset, perClass: number): ArrayDataset {
  checkDataset(ds, "firstPerClass");
  if (!Number.isInteger(perClass) || perClass < 1) throw new Error(`firstPerClass: keep at least 1 sample per class, not ${perClass}.`);
  const seen = new Map<number, number>();
  const keep: number[] = [];
  for (let i = 0; i < ds.count; i++) {
    const n = seen.get(ds.labels[i]) ?? 0;
    if (n < perClass) keep.push(i);
    seen.set(ds.labels[i], n + 1);
  }
  if (keep.length === ds.count) return ds;
  const { sourceIndices: _, ...subset } = takeSamples(ds, keep);
  return subset;
}
