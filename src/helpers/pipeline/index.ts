/** Pipelines: seeded batch streams, splits, image transforms and the chapters' preset recipes. */
export * from "./streams";
export * from "./transforms";
export * from "./presets";
export * from "./batchResize";
