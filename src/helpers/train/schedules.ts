/**
 * Learning-rate schedules as multipliers of the base rate, evaluated before every step. Returning a factor (not an
 * absolute rate) lets one schedule drive several parameter groups with different base rates.
 */
export interface ScheduleContext {
  /** 0-based epoch. */
  epoch: number;
  /** 0-based global step (epoch * stepsPerEpoch + batch). */
  step: number;
  stepsPerEpoch: number;
  epochs: number;
}
export type LrSchedule = (ctx: ScheduleContext) => number;

/** Constant rate. */
export function constantLR(): LrSchedule {
  return () => 1;
}

/** Multiply by `gamma` every `stepSize` epochs (PyTorch StepLR). */
export function stepLR(stepSize: number, gamma = 0.1): LrSchedule {
  if (!(stepSize > 0)) throw new Error(`stepLR: stepSize must be > 0 epochs, got ${stepSize}.`);
  return ({ epoch }) => Math.pow(gamma, Math.floor(epoch / stepSize));
}

/** Cosine decay from 1 to `minFactor` over the whole run, per step. */
export function cosineLR(minFactor = 0): LrSchedule {
  return ({ step, stepsPerEpoch, epochs }) => {
    const total = Math.max(1, stepsPerEpoch * epochs);
    const t = Math.min(1, step / total);
    return minFactor + (1 - minFactor) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
}

/** Linear warm-up from ~0 to 1 over `warmupSteps`, then `after` (default constant), evaluated with steps shifted. */
export function linearWarmup(warmupSteps: number, after: LrSchedule = constantLR()): LrSchedule {
  return (ctx) => {
    if (ctx.step < warmupSteps) return (ctx.step + 1) / (warmupSteps + 1);
    return after(ctx);
  };
}
