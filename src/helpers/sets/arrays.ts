/** The shape every in-memory image dataset (CIFAR-10, MNIST, Fashion-MNIST) is loaded into. */

/** In-memory image arrays: `images` is N x H x W x C uint8 (HWC per image), `labels` int32 class indices. */
export interface ArrayDataset {
  images: Uint8Array;
  labels: Int32Array;
  classes: string[];
  /** [height, width, channels] of one image. */
  imageShape: [number, number, number];
  count: number;
}
