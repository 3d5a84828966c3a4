/** Training: the resumable loop, what it trains and records, optimizers, checkpoints, LR schedules, seeded RNG. */
export * from "./fit";
export * from "./target";
export * from "./history";
export * from "./optimizers";
export * from "./checkpoint";
export * from "./schedules";
export * from "./rng";
export * from "./tensorFiles";
export * from "./summary";
