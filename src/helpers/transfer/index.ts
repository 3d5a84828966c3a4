/** Transfer-learning operations: cut, head, freeze, counts, cached feature extraction, per-group LRs, gradient reversal. */
export * from "./ops";
export * from "./features";
export * from "./gradientReversal";
export * from "./arrayFeatures";
export * from "./dann";
export * from "./weightChange";
export * from "./stages";
export * from "./trainAndScore";
export * from "./classificationData";
