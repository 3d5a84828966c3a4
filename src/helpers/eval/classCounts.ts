/** How many samples of each class every split holds, as table rows (one row per split, one column per class). */

/** A split's labels: class indices, or samples that carry a `label` (e.g. an image folder's samples). */
export type SplitLabels = ArrayLike<number> | readonly { label: number }[];

/** Rows `{ split, <class name>: count, ..., total }` for `table(...)`, in the order the splits are given. */
export function classCountRows(classes: readonly string[], splits: Readonly<Record<string, SplitLabels>>): Record<string, string | number>[] {
  if (classes.length === 0) throw new Error("classCountRows: no class names given; pass the dataset's classes.");
  return Object.entries(splits).map(([split, items]) => {
    const counts = new Array<number>(classes.length).fill(0);
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const label = typeof item === "number" ? item : item.label;
      if (!Number.isInteger(label) || label < 0 || label >= classes.length) {
        throw new Error(`classCountRows: split '${split}' item ${i} has label ${label}, but there are ${classes.length} classes (0 to ${classes.length - 1}); pass the classes the labels index.`);
      }
      counts[label]++;
    }
    return { split, ...Object.fromEntries(classes.map((name, c) => [name, counts[c]])), total: items.length };
  });
}
