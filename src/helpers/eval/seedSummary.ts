/** Mean and spread of one measurement repeated over seeds, per group (e.g. per method and label budget). */

export interface SeedSummary<K extends string> {
  /** The grouping fields' values, as in the rows. */
  group: Record<K, string | number>;
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); 0 for a single run. */
  sd: number;
  min: number;
  max: number;
  /** Every run's value, in row order. */
  values: number[];
}

/**
 * Group `rows` by the fields `by` (groups in order of first appearance) and summarise the numeric field `value`.
 * Throws when a row lacks a grouping field or has a non-finite value, naming the row.
 */
export function summariseSeeds<R extends Record<string, unknown>, K extends keyof R & string>(
  rows: readonly R[],
  by: readonly K[],
  value: keyof R & string,
): SeedSummary<K>[] {
  if (rows.length === 0) throw new Error("summariseSeeds: no rows; pass one row per run, e.g. { method, seed, accuracy }.");
  const groups = new Map<string, { group: Record<K, string | number>; values: number[] }>();
  rows.forEach((r, i) => {
    const group = {} as Record<K, string | number>;
    for (const k of by) {
      const g = r[k];
      if (typeof g !== "string" && typeof g !== "number") throw new Error(`summariseSeeds: row ${i} has ${k} = ${String(g)}; every row needs a string or number ${k}.`);
      group[k] = g;
    }
    const v = r[value];
    if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`summariseSeeds: row ${i} has ${value} = ${String(v)}; it must be a finite number.`);
    const key = JSON.stringify(by.map((k) => group[k]));
    if (!groups.has(key)) groups.set(key, { group, values: [] });
    groups.get(key)!.values.push(v);
  });
  return [...groups.values()].map(({ group, values }) => {
    const n = values.length;
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const sd = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
    return { group, n, mean, sd, min: Math.min(...values), max: Math.max(...values), values };
  });
}
