/** A small seeded PRNG whose whole state is one number, so checkpoints can save and restore it exactly. */
export interface SeededRng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Current state (save it; `createRng(seed, state)` continues from it). */
  state(): number;
}

/** mulberry32: fast, 32-bit state, good enough for shuffles and dropout masks. */
export function createRng(seed: number, state?: number): SeededRng {
  let s = (state ?? (seed ^ 0x9e3779b9)) >>> 0;
  return {
    next() {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    state: () => s,
  };
}

/** Fisher-Yates permutation of 0..n-1 driven by `rng`. */
export function seededPermutation(n: number, rng: SeededRng): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/**
 * Run `fn` (synchronous) with Math.random replaced by `rng`. TF.js random ops without an explicit seed (dropout
 * masks among them) seed themselves from Math.random, so this makes a training step reproducible and resumable.
 */
export function withSeededMathRandom<T>(rng: SeededRng, fn: () => T): T {
  const orig = Math.random;
  Math.random = () => rng.next();
  try {
    return fn();
  } finally {
    Math.random = orig;
  }
}
