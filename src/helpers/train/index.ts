/** Training: the resumable loop, optimizers, LR schedules, seeded RNG, checkpoint tensor files. */
export * from "./fit";
export * from "./schedules";
export * from "./rng";
export * from "./tensorFiles";
export * from "./summary";
export * from "./durable";
