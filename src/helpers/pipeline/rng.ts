/**
 * Seeded pseudo-random numbers for shuffling, splitting and augmentation.
 *
 * xoshiro128** (Blackman & Vigna): 128-bit state, fast on 32-bit integer maths, good statistical quality,
 * and the whole state is four uint32s, so `rng.state()` can be saved in a checkpoint and
 * `Rng.fromState(...)` resumes the exact same sequence.
 */

/** Serialisable RNG state: four unsigned 32-bit integers (JSON-friendly). */
export type RngState = [number, number, number, number];

/** splitmix32 step: turns any 32-bit seed into well-mixed words (used to seed xoshiro, never all-zero). */
function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [x, z >>> 0];
}

/**
 * Hash any number of integers into one 32-bit seed. Used to derive independent streams, e.g.
 * `deriveSeed(seed, epoch, sampleIndex)` so per-sample augmentation does not depend on batch order or concurrency.
 */
export function deriveSeed(...parts: number[]): number {
  let h = 0x811c9dc5 | 0;
  for (const p of parts) {
    if (!Number.isFinite(p)) throw new Error(`deriveSeed: every part must be a finite number, got ${p}.`);
    // Fold in the low and high 32-bit halves so seeds above 2^32 still matter.
    const lo = p | 0;
    const hi = Math.floor(p / 4294967296) | 0;
    for (const w of [lo, hi]) {
      h = Math.imul(h ^ w, 0x01000193);
      h ^= h >>> 15;
      h = Math.imul(h, 0x2c1b3c6d);
      h ^= h >>> 12;
    }
  }
  return h >>> 0;
}

/** A seeded PRNG (xoshiro128**). Not cryptographic. */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** Seed with any finite number (integers recommended). The same seed always gives the same sequence. */
  constructor(seed: number = 0) {
    if (!Number.isFinite(seed)) throw new Error(`Rng seed must be a finite number, got ${seed}.`);
    let x = deriveSeed(seed);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [nx, z] = splitmix32(x);
      x = nx;
      words.push(z);
    }
    [this.s0, this.s1, this.s2, this.s3] = words;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // all-zero state is a fixed point
  }

  /** Recreate a generator from `state()` output; it continues exactly where the saved one was. */
  static fromState(state: readonly number[]): Rng {
    if (!Array.isArray(state) || state.length !== 4 || state.some((v) => !Number.isInteger(v))) {
      throw new Error(`Rng.fromState expects the 4 integers returned by rng.state(), got ${JSON.stringify(state)}.`);
    }
    if (state.every((v) => (v | 0) === 0)) throw new Error("Rng.fromState: the all-zero state is invalid for xoshiro128**.");
    const r = new Rng(0);
    r.s0 = state[0] | 0;
    r.s1 = state[1] | 0;
    r.s2 = state[2] | 0;
    r.s3 = state[3] | 0;
    return r;
  }

  /** Current state (copy), for checkpoints. */
  state(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  /** An independent copy with the same state. */
  clone(): Rng {
    return Rng.fromState(this.state());
  }

  /** Next raw unsigned 32-bit integer. */
  nextUint32(): number {
    const s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    this.s2 = s2 ^ s0;
    this.s3 = s3 ^ s1;
    this.s1 = s1 ^ this.s2;
    this.s0 = s0 ^ this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result >>> 0;
  }

  /** Uniform float in [0, 1) (32 bits of randomness). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number = 0, hi: number = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n) without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new Error(`Rng.int(n) needs an integer 1 <= n <= 2^32, got ${n}.`);
    }
    // Rejection sampling: discard the top partial range.
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Uniform integer in [lo, hi] inclusive. */
  intRange(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`Rng.intRange: hi (${hi}) must be >= lo (${lo}).`);
    return lo + this.int(hi - lo + 1);
  }

  /** True with probability p. */
  bool(p: number = 0.5): boolean {
    return this.next() < p;
  }

  /** Standard normal sample (Box-Muller; no cached second value, so `state()` captures everything). */
  normal(mean: number = 0, std: number = 1): number {
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(arr: T[]): T[];
  shuffle<A extends { length: number; [i: number]: number }>(arr: A): A;
  shuffle(arr: { length: number; [i: number]: unknown }): unknown {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** A random permutation of 0..n-1 as Int32Array. */
  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new Error(`Rng.permutation(n) needs a non-negative integer, got ${n}.`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
