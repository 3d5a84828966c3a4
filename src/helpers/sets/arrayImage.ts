/** One image of an in-memory image array (CIFAR-10, MNIST...), as a view that image grids and transforms accept. */
import type { ArrayDataset } from "./arrays";

/** A view (no copy) of image `i` of `d`: HWC uint8 pixels with its width, height and channels. */
export function arrayImage(d: Pick<ArrayDataset, "images" | "imageShape" | "count">, i: number): { data: Uint8Array; width: number; height: number; channels: number } {
  if (!Number.isInteger(i) || i < 0 || i >= d.count) {
    throw new Error(`arrayImage: index ${i} is out of range; the dataset has ${d.count} images (0 to ${d.count - 1}).`);
  }
  const [height, width, channels] = d.imageShape;
  const size = height * width * channels;
  return { data: d.images.subarray(i * size, (i + 1) * size), width, height, channels };
}
