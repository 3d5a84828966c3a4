/** Pipelines: image decoding, seeded batch streams, splits, image transforms and the chapters' preset recipes. */
export { Rng, deriveSeed, type RngState } from "./rng";
export { seededShuffle, trainValSplit, fewShotIndices, takeIndices, type TrainValSplitOptions } from "./splits";
export * from "./streams";
export * from "./transforms";
export * from "./presets";
export * from "./batchResize";
export {
  decodeImage, validateImages, hasImageExtension, mapLimit, IMG_EXTENSIONS, MAX_INPUT_PIXELS, ImageDecodeError,
  type DecodeOptions, type DecodedRgbImage, type UndecodableImage,
} from "./decode";
export { decodeResizeCenterCrop, decodeRandomResizedCrop, shorterSideSize } from "./nativeCrops";
