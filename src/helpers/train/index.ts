/** Training: the resumable loop, what it trains and records, optimizers, checkpoints, LR schedules, seeded RNG. */
export * from "./fit";
export type { FunctionModel, TrainTarget } from "./target";
export * from "./history";
export {
  createOptimizer, setOptimizerLearningRate, trainableVariables, GroupedOptimizer, createGroupedOptimizer,
  type SgdSpec, type AdamSpec, type OptimizerSpec, type OptimizerWeight, type ParamGroup,
} from "./optimizers";
export { checkpointEpoch, type CheckpointState } from "./checkpoint";
export * from "./schedules";
export * from "./rng";
export * from "./tensorFiles";
export * from "./summary";
export * from "./durable";
