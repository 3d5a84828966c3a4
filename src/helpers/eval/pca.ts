/**
 * Principal component analysis for 2-D projections of feature vectors (e.g. source vs target features before and
 * after domain adaptation). Plain JS (covariance + power iteration with deflation): deterministic, no tensors, fast
 * enough for a few thousand vectors of a few hundred dimensions.
 */

export interface PcaResult {
  /** Projected coordinates, one `[pc1, pc2, ...]` row per input vector. */
  coords: number[][];
  /** Principal directions (unit vectors of length `dim`), largest variance first. Sign: largest |entry| positive. */
  components: Float64Array[];
  /** Mean subtracted before projecting. */
  mean: Float64Array;
  /** Variance along each component. */
  variance: number[];
  /** Fraction of the total variance each component explains. */
  explainedRatio: number[];
  /** Project other vectors (same dimension) onto the same components. */
  project(features: ArrayLike<number>[] | Float32Array, dim?: number): number[][];
}

/** Rows of a matrix given as an array of vectors, or as a flat N x dim array with `dim`. */
function toRows(features: ArrayLike<number>[] | Float32Array | Float64Array, dim: number | undefined, who: string): ArrayLike<number>[] {
  if (Array.isArray(features)) return features;
  const flat = features as Float32Array | Float64Array;
  if (!dim || !Number.isInteger(dim) || dim <= 0 || flat.length % dim !== 0) {
    throw new Error(`${who}: a flat feature array needs dim (values per vector) that divides its length ${flat.length}; got ${dim}.`);
  }
  const n = flat.length / dim;
  return Array.from({ length: n }, (_, i) => flat.subarray(i * dim, (i + 1) * dim));
}

/**
 * PCA of feature vectors onto their first `k` principal components (default 2).
 * @param features N vectors (arrays), or a flat Float32Array of N*dim values with `opts.dim`.
 */
export function pca(features: ArrayLike<number>[] | Float32Array | Float64Array, opts: { dim?: number; k?: number; iterations?: number } = {}): PcaResult {
  const rows = toRows(features, opts.dim, "pca");
  const n = rows.length;
  if (n < 2) throw new Error(`pca: need at least 2 vectors, got ${n}.`);
  const d = rows[0].length;
  const k = opts.k ?? 2;
  if (!Number.isInteger(k) || k < 1 || k > d) throw new Error(`pca: k must be an integer in 1..${d}, got ${k}.`);
  for (let i = 0; i < n; i++) {
    if (rows[i].length !== d) throw new Error(`pca: vector ${i} has ${rows[i].length} values, vector 0 has ${d}.`);
  }
  const mean = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] += r[j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  // Covariance (d x d, symmetric).
  const cov = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (const r of rows) {
    for (let j = 0; j < d; j++) {
      const v = r[j] - mean[j];
      if (!Number.isFinite(v)) throw new Error("pca: features contain NaN or Infinity.");
      c[j] = v;
    }
    for (let a = 0; a < d; a++) {
      const ca = c[a];
      if (ca === 0) continue;
      const off = a * d;
      for (let b = a; b < d; b++) cov[off + b] += ca * c[b];
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b] / (n - 1);
      cov[a * d + b] = v;
      cov[b * d + a] = v;
    }
  }
  let total = 0;
  for (let j = 0; j < d; j++) total += cov[j * d + j];
  const components: Float64Array[] = [];
  const variance: number[] = [];
  const iters = opts.iterations ?? 500;
  const w = new Float64Array(d);
  for (let comp = 0; comp < k; comp++) {
    // Deterministic start vector, not orthogonal to anything in particular.
    let v = new Float64Array(d);
    for (let j = 0; j < d; j++) v[j] = 1 + ((j * 7919) % 13) / 13;
    let lambda = 0;
    for (let it = 0; it < iters; it++) {
      for (let a = 0; a < d; a++) {
        let s = 0;
        const off = a * d;
        for (let b = 0; b < d; b++) s += cov[off + b] * v[b];
        w[a] = s;
      }
      // Deflate: remove the components already found (keeps the iteration in their orthogonal complement).
      for (const u of components) {
        let dot = 0;
        for (let j = 0; j < d; j++) dot += w[j] * u[j];
        for (let j = 0; j < d; j++) w[j] -= dot * u[j];
      }
      let norm = 0;
      for (let j = 0; j < d; j++) norm += w[j] * w[j];
      norm = Math.sqrt(norm);
      if (norm === 0) break; // no variance left
      let diff = 0;
      for (let j = 0; j < d; j++) {
        const nv = w[j] / norm;
        diff += Math.abs(nv - v[j]);
        v[j] = nv;
      }
      lambda = norm;
      if (diff < 1e-10) break;
    }
    if (lambda === 0) v = new Float64Array(d).fill(0);
    // Sign convention: the entry with the largest magnitude is positive (so results do not flip between runs).
    let big = 0;
    for (let j = 1; j < d; j++) if (Math.abs(v[j]) > Math.abs(v[big])) big = j;
    if (v[big] < 0) for (let j = 0; j < d; j++) v[j] = -v[j];
    components.push(v);
    variance.push(lambda);
  }
  const project = (fs: ArrayLike<number>[] | Float32Array, dim?: number): number[][] =>
    toRows(fs, dim ?? d, "pca.project").map((r, i) => {
      if (r.length !== d) throw new Error(`pca.project: vector ${i} has ${r.length} values, the PCA was fitted on ${d}.`);
      return components.map((u) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += (r[j] - mean[j]) * u[j];
        return s;
      });
    });
  return {
    coords: project(rows),
    components,
    mean,
    variance,
    explainedRatio: variance.map((v) => (total > 0 ? v / total : 0)),
    project,
  };
}

/** 2-D PCA projection: `pca(features, { k: 2 })`; `coords[i] = [pc1, pc2]` fits `plotScatter({ coords, groups })`. */
export function pca2d(features: ArrayLike<number>[] | Float32Array | Float64Array, opts: { dim?: number } = {}): PcaResult {
  return pca(features, { ...opts, k: 2 });
}
