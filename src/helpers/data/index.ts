/**
 * Data: cache paths, downloads, safe archive extraction, image decoding, the course datasets,
 * and (from the pipeline engineer) batch pipelines and transforms.
 */
export { datasetDir, modelDir, datasetsRoot } from "./cache";
export {
  ensureDownloaded, registerKnownDownload, knownDownload, hashFile, notInCacheMessage, DownloadError,
  type DownloadOptions, type KnownDownload, type DownloadErrorCode,
} from "./download";
export { extractArchive, listArchive, ArchiveError, type ArchiveFormat, type ExtractOptions } from "./archive";
export { ensureExtracted, type ArchiveSource, type EnsureDatasetOptions } from "./ensure";
export {
  decodeImage, validateImages, hasImageExtension, mapLimit, IMG_EXTENSIONS, MAX_INPUT_PIXELS, ImageDecodeError,
  type DecodeOptions, type DecodedRgbImage, type UndecodableImage,
} from "./images";
export {
  imageFolder, checkSameClasses, findClasses, compareCodePoints, describeSkipped,
  type ImageSample, type SkippedFiles, type ImageFolderDataset, type ImageFolderOptions,
} from "./imagefolder";
export {
  hymenoptera, loadCifar10, loadFashionMnist, loadMnist, parseIdx,
  HYMENOPTERA_URL, CIFAR10_URL, CIFAR10_CLASSES, CIFAR10_TRAIN_BATCHES, FASHION_MNIST_CLASSES, FASHION_MNIST_BASE_URL,
  FASHION_MNIST_SYSTEM_DIR, MNIST_CLASSES,
  type ArrayDataset, type HymenopteraDataset, type Cifar10Options, type IdxArray, type FashionMnistOptions, type MnistOptions,
} from "./datasets";
export { parseMat, matStrings, matNumbers, type MatValue } from "./mat";
export {
  loadStanfordDogs, readStanfordDogsList, loadVoc2007,
  STANFORD_DOGS_IMAGES_URL, STANFORD_DOGS_LISTS_URL, VOC2007_TRAINVAL_URL, VOC2007_TEST_URL, VOC_CLASSES,
  type StanfordDogsOptions, type StanfordDogsDataset, type VocSample, type VocDataset, type Voc2007Options,
} from "./fullsets";
export * from "./pipeline";
export * from "./transforms";
export * from "./mnistm";
export * from "./presets";
export * from "./batchResize";
export * from "./arrayImage";
