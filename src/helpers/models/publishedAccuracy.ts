/**
 * ImageNet (ILSVRC-2012 validation) top-1 accuracy at 224x224 as published for the zoo's backbones, with where
 * each figure is published, so chapters can set a backbone's ImageNet quality beside what it does on their task.
 */
export interface PublishedAccuracy {
  top1: number;
  source: string;
}

const KERAS_V2 = "Sandler et al. 2018; Keras Applications MobileNetV2 weights table";
const HOWARD = "Howard et al. 2017, Table 6 (Keras Applications MobileNet weights)";
const TORCHVISION = "torchvision model documentation, IMAGENET1K_V1 weights (the files the zoo downloads)";

/** Zoo name -> published ImageNet top-1 of those weights. */
export const PUBLISHED_IMAGENET_TOP1: Readonly<Record<string, PublishedAccuracy>> = {
  "mobilenet_v2_0.35": { top1: 0.603, source: KERAS_V2 },
  "mobilenet_v2_0.50": { top1: 0.654, source: KERAS_V2 },
  "mobilenet_v2_0.75": { top1: 0.698, source: KERAS_V2 },
  "mobilenet_v2_1.00": { top1: 0.718, source: KERAS_V2 },
  "mobilenet_v1_0.25": { top1: 0.506, source: HOWARD },
  "mobilenet_v1_0.50": { top1: 0.637, source: HOWARD },
  "mobilenet_v1_0.75": { top1: 0.684, source: HOWARD },
  "mobilenet_v1_1.0": { top1: 0.706, source: HOWARD },
  alexnet: { top1: 0.5652, source: TORCHVISION },
  resnet18: { top1: 0.6976, source: TORCHVISION },
  resnet34: { top1: 0.7331, source: TORCHVISION },
  resnet50: { top1: 0.7613, source: TORCHVISION },
  vgg16: { top1: 0.7159, source: TORCHVISION },
  vgg19: { top1: 0.7238, source: TORCHVISION },
  vgg16_bn: { top1: 0.7336, source: TORCHVISION },
  vgg19_bn: { top1: 0.7422, source: TORCHVISION },
};

/** The published figure for a zoo name, or undefined for a model the course does not know (e.g. a custom file). */
export function publishedImageNetTop1(name: string): PublishedAccuracy | undefined {
  return PUBLISHED_IMAGENET_TOP1[name];
}
