/** Datasets: image folders and one loader per course dataset. */
export {
  imageFolder, checkSameClasses, findClasses, compareCodePoints, describeSkipped,
  type ImageSample, type SkippedFiles, type ImageFolderDataset, type ImageFolderOptions,
} from "./imagefolder";
export { type ArrayDataset } from "./arrays";
export { hymenoptera, HYMENOPTERA_URL, type HymenopteraDataset } from "./hymenoptera";
export { loadCifar10, CIFAR10_URL, CIFAR10_CLASSES, CIFAR10_TRAIN_BATCHES, type Cifar10Options } from "./cifar10";
export { parseIdx, type IdxArray } from "./idx";
export {
  loadFashionMnist, FASHION_MNIST_CLASSES, FASHION_MNIST_BASE_URL, FASHION_MNIST_SYSTEM_DIR, type FashionMnistOptions,
} from "./fashionMnist";
export { loadMnist, MNIST_CLASSES, type MnistOptions } from "./mnist";
export { parseMat, matStrings, matNumbers, type MatValue } from "./mat";
export {
  loadStanfordDogs, readStanfordDogsList, STANFORD_DOGS_IMAGES_URL, STANFORD_DOGS_LISTS_URL,
  type StanfordDogsOptions, type StanfordDogsDataset,
} from "./stanfordDogs";
export { loadVoc2007, VOC2007_TRAINVAL_URL, VOC2007_TEST_URL, VOC_CLASSES, type VocSample, type VocDataset, type Voc2007Options } from "./voc2007";
export * from "./mnistm";
export { takeSamples, selectClasses, firstPerClass, type SubsetDataset } from "./subsets";
export * from "./arrayImage";
