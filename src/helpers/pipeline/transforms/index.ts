/** Per-sample image transforms on plain typed arrays (HWC): the image type, geometry, colour and normalisation. */
export { type PixelArray, type PixelImage, type SampleTransform, type ResizeInterpolation, type WarpFillMode, makePixelImage, composeTransforms, toRgbImage } from "./image";
export * from "./resample";
export * from "./warp";
export * from "./geometry";
export * from "./colour";
export * from "./normalise";
