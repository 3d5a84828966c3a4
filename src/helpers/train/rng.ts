/**
 * Seeded randomness inside a training step. The course has one PRNG (`Rng` in the data pipeline, whose
 * whole state can be saved in a checkpoint); this file only routes TF.js's own randomness through it.
 */

/**
 * Run `fn` (synchronous) with Math.random replaced by `rng`. TF.js random ops without an explicit seed (dropout
 * masks among them) seed themselves from Math.random, so this makes a training step reproducible and resumable.
 */
export function withSeededMathRandom<T>(rng: { next(): number }, fn: () => T): T {
  const orig = Math.random;
  Math.random = () => rng.next();
  try {
    return fn();
  } finally {
    Math.random = orig;
  }
}
