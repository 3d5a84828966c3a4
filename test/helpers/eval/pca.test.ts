import { describe, it, expect } from "vitest";
import { pca, pca2d } from "../../../src/helpers/eval";

/** Points on an elongated, rotated Gaussian-ish cloud in 3-D: most variance along u, some along v, little along w. */
function cloud(n: number): number[][] {
  let s = 12345;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const u = [0.6, 0.8, 0], v = [-0.8, 0.6, 0], w = [0, 0, 1];
  return Array.from({ length: n }, () => {
    const a = 10 * rand(), b = 3 * rand(), c = 0.1 * rand();
    return [0, 1, 2].map((j) => 5 + a * u[j] + b * v[j] + c * w[j]);
  });
}

describe("pca2d", () => {
  it("finds the directions of largest variance, largest first, as unit vectors", () => {
    const r = pca2d(cloud(2000));
    expect(r.coords).toHaveLength(2000);
    expect(r.coords[0]).toHaveLength(2);
    const [c1, c2] = r.components;
    // up to sign convention (largest entry positive): c1 ~ (0.6, 0.8, 0), c2 ~ (0.8, -0.6, 0)
    expect(Math.abs(c1[0])).toBeCloseTo(0.6, 1);
    expect(Math.abs(c1[1])).toBeCloseTo(0.8, 1);
    expect(Math.abs(c2[0])).toBeCloseTo(0.8, 1);
    expect(Math.abs(c2[2])).toBeLessThan(0.05);
    const dot = c1.reduce((s, x, j) => s + x * c2[j], 0);
    expect(Math.abs(dot)).toBeLessThan(1e-6);
    expect(r.variance[0]).toBeGreaterThan(r.variance[1]);
    expect(r.explainedRatio[0] + r.explainedRatio[1]).toBeGreaterThan(0.99);
    expect(r.mean[2]).toBeCloseTo(5, 1);
  });

  it("projections are centred, have the component variances, and project() matches coords", () => {
    const data = cloud(500);
    const r = pca2d(data);
    const m0 = r.coords.reduce((s, p) => s + p[0], 0) / r.coords.length;
    expect(Math.abs(m0)).toBeLessThan(1e-9);
    const var0 = r.coords.reduce((s, p) => s + p[0] * p[0], 0) / (r.coords.length - 1);
    expect(var0).toBeCloseTo(r.variance[0], 6);
    expect(r.project(data.slice(0, 3))).toEqual(r.coords.slice(0, 3));
  });

  it("accepts a flat Float32Array with dim, is deterministic, and explains bad input", () => {
    const data = cloud(100);
    const flat = Float32Array.from(data.flat());
    const a = pca2d(flat, { dim: 3 });
    const b = pca2d(flat, { dim: 3 });
    expect(a.coords).toEqual(b.coords);
    expect(a.coords).toHaveLength(100);
    expect(() => pca2d(flat, { dim: 7 })).toThrow(/dim/);
    expect(() => pca2d([[1, 2]])).toThrow(/at least 2/);
    expect(() => pca2d([[1, 2], [1]])).toThrow(/vector 1 has 1 values/);
    expect(() => pca([[1, 2], [3, 4]], { k: 3 })).toThrow(/k must be/);
  });

  it("handles constant features (zero variance) without NaN", () => {
    const r = pca2d([[1, 1, 1], [1, 1, 1], [1, 1, 1]]);
    for (const p of r.coords) for (const v of p) expect(Number.isFinite(v)).toBe(true);
  });
});
