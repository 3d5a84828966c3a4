/** PyTorch checkpoint (.pth) reading: a safe unpickler and the zip / legacy containers. */
export * from "./pickle";
export { readPth, PthFormatError } from "./read";
export type { StateDict, TorchTensor } from "./read";
