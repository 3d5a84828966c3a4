/**
 * torchvision's ResNet-18/34/50, AlexNet and VGG-11/13/16/19 (with and without batch norm), and chapter 3's
 * MobileNet v1, as TF.js layers models that compute exactly what the PyTorch modules compute (NHWC instead of NCHW).
 *
 * - Every layer is named by its PyTorch module path (`conv1`, `layer1.0.conv1`, `layer1.0.downsample.0`,
 *   `features.0`, `classifier.1`, `fc`), so the seeds' groups are layer-name prefixes for freezing and per-group
 *   learning rates, and `loadTorchStateDict` maps `<name>.weight` onto the layer of that name.
 * - Padding is explicit (ZeroPadding2D + "valid" conv) wherever TF's asymmetric "same" would differ from torch's
 *   symmetric padding (every strided conv). Max-pool padding is zero padding: the pooled inputs follow a ReLU, so
 *   zeros pool exactly like torch's -inf. torchvision's AlexNet/VGG/ResNet use floor-mode pooling (ceil_mode=False),
 *   which is TF's "valid".
 * - BatchNorm: epsilon 1e-5 as torch; tfjs momentum = 1 - torch momentum (0.1), i.e. 0.9.
 * - AdaptiveAvgPool2d((1,1)) is global average pooling; AlexNet's (6,6) and VGG's (7,7) use the AdaptiveAvgPool2d
 *   layer, so small inputs work as in PyTorch.
 * - Outputs are logits (no softmax), as torchvision's.
 */
import * as tf from "@tensorflow/tfjs";
import { adaptiveAvgPool2d } from "./adaptivePool";

export type TorchvisionArch =
  | "resnet18" | "resnet34" | "resnet50"
  | "alexnet"
  | "vgg11" | "vgg13" | "vgg16" | "vgg19" | "vgg11_bn" | "vgg13_bn" | "vgg16_bn" | "vgg19_bn"
  | "mobilenet_v1";

export const TORCHVISION_ARCHS: readonly TorchvisionArch[] = [
  "resnet18", "resnet34", "resnet50", "alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn", "mobilenet_v1",
];

export interface TorchvisionModelOptions {
  /** Classifier outputs (default 1000, ImageNet). */
  numClasses?: number;
  /** Default [224, 224, 3]. Spatial sizes may be null (any size) except for chapter 3's MobileNet v1 (AvgPool2d(7)). */
  inputShape?: [number | null, number | null, 3];
  /**
   * false: stop at the last feature map (ResNet `layer4`, AlexNet/VGG `features`, MobileNet `model.13`), no pooling
   * or classifier. Default true.
   */
  includeTop?: boolean;
  /**
   * "random" (default): seeded He/Glorot initialisation (for training from scratch).
   * "zeros": cheap placeholders, for models whose weights are loaded right after (VGG's first FC alone is 400 MB).
   */
  init?: "random" | "zeros";
  /** Seed of the random initialisation (default 42). */
  seed?: number;
}

const BN_EPSILON = 1e-5;
const BN_MOMENTUM = 0.9; // torch momentum 0.1

type T = tf.SymbolicTensor;

class Builder {
  private i = 0;
  constructor(private readonly o: Required<Pick<TorchvisionModelOptions, "init" | "seed">>) {}
  private init(kind: "he" | "glorot"): ReturnType<typeof tf.initializers.zeros> {
    if (this.o.init === "zeros") return tf.initializers.zeros();
    const seed = this.o.seed + this.i++;
    return kind === "he" ? tf.initializers.heNormal({ seed }) : tf.initializers.glorotUniform({ seed });
  }
  /** torch Conv2d(k, stride, padding, bias, groups=in for depthwise). */
  conv(x: T, name: string, filters: number, k: number, stride: number, pad: number, bias: boolean, depthwise = false): T {
    let padding: "same" | "valid" = "valid";
    if (pad > 0) {
      if (stride === 1 && 2 * pad === k - 1) padding = "same"; // symmetric in TF too
      else x = tf.layers.zeroPadding2d({ padding: pad, name: `${name}_pad` }).apply(x) as T;
    }
    const common = { kernelSize: k, strides: stride, padding, useBias: bias, name, biasInitializer: tf.initializers.zeros() };
    if (depthwise) return tf.layers.depthwiseConv2d({ ...common, depthMultiplier: 1, depthwiseInitializer: this.init("he") }).apply(x) as T;
    return tf.layers.conv2d({ ...common, filters, kernelInitializer: this.init("he") }).apply(x) as T;
  }
  bn(x: T, name: string): T {
    return tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, momentum: BN_MOMENTUM, name }).apply(x) as T;
  }
  relu(x: T, name: string): T {
    return tf.layers.reLU({ name }).apply(x) as T;
  }
  maxPool(x: T, name: string, k: number, stride: number, pad = 0): T {
    if (pad > 0) x = tf.layers.zeroPadding2d({ padding: pad, name: `${name}_pad` }).apply(x) as T;
    return tf.layers.maxPooling2d({ poolSize: k, strides: stride, padding: "valid", name }).apply(x) as T;
  }
  dense(x: T, name: string, units: number): T {
    return tf.layers.dense({ units, name, kernelInitializer: this.init("glorot"), biasInitializer: tf.initializers.zeros() }).apply(x) as T;
  }
  dropout(x: T, name: string, rate: number): T {
    return tf.layers.dropout({ rate, name }).apply(x) as T;
  }
}

function options(o: TorchvisionModelOptions) {
  return {
    numClasses: o.numClasses ?? 1000,
    inputShape: o.inputShape ?? ([224, 224, 3] as [number | null, number | null, 3]),
    includeTop: o.includeTop ?? true,
    init: o.init ?? "random",
    seed: o.seed ?? 42,
  };
}

// ------------------------------------------------------------------------------------------------ ResNet

const RESNET_LAYERS: Record<"resnet18" | "resnet34" | "resnet50", { block: "basic" | "bottleneck"; layers: number[] }> = {
  resnet18: { block: "basic", layers: [2, 2, 2, 2] },
  resnet34: { block: "basic", layers: [3, 4, 6, 3] },
  resnet50: { block: "bottleneck", layers: [3, 4, 6, 3] },
};

/** torchvision ResNet (v1.5: a Bottleneck's stride is on its 3x3 conv). Groups: conv1/bn1, layer1..layer4, fc. */
export function buildResNet(depth: 18 | 34 | 50, opts: TorchvisionModelOptions = {}): tf.LayersModel {
  const o = options(opts);
  const arch = `resnet${depth}` as keyof typeof RESNET_LAYERS;
  const { block, layers } = RESNET_LAYERS[arch];
  const b = new Builder(o);
  const input = tf.input({ shape: o.inputShape, name: "input" });
  let x = b.conv(input, "conv1", 64, 7, 2, 3, false);
  x = b.bn(x, "bn1");
  x = b.relu(x, "relu");
  x = b.maxPool(x, "maxpool", 3, 2, 1);
  const expansion = block === "bottleneck" ? 4 : 1;
  let inplanes = 64;
  layers.forEach((n, li) => {
    const planes = 64 * 2 ** li;
    for (let bi = 0; bi < n; bi++) {
      const stride = bi === 0 && li > 0 ? 2 : 1;
      const p = `layer${li + 1}.${bi}`;
      let identity = x;
      let y: T;
      if (block === "basic") {
        y = b.relu(b.bn(b.conv(x, `${p}.conv1`, planes, 3, stride, 1, false), `${p}.bn1`), `${p}.relu1`);
        y = b.bn(b.conv(y, `${p}.conv2`, planes, 3, 1, 1, false), `${p}.bn2`);
      } else {
        y = b.relu(b.bn(b.conv(x, `${p}.conv1`, planes, 1, 1, 0, false), `${p}.bn1`), `${p}.relu1`);
        y = b.relu(b.bn(b.conv(y, `${p}.conv2`, planes, 3, stride, 1, false), `${p}.bn2`), `${p}.relu2`);
        y = b.bn(b.conv(y, `${p}.conv3`, planes * 4, 1, 1, 0, false), `${p}.bn3`);
      }
      if (stride !== 1 || inplanes !== planes * expansion) {
        identity = b.bn(b.conv(x, `${p}.downsample.0`, planes * expansion, 1, stride, 0, false), `${p}.downsample.1`);
      }
      x = tf.layers.add({ name: `${p}.add` }).apply([y, identity]) as T;
      x = b.relu(x, `${p}.relu`);
      inplanes = planes * expansion;
    }
  });
  if (o.includeTop) {
    x = tf.layers.globalAveragePooling2d({ name: "avgpool" }).apply(x) as T;
    x = b.dense(x, "fc", o.numClasses);
  }
  return tf.model({ inputs: input, outputs: x, name: arch });
}

// ------------------------------------------------------------------------------------------------ AlexNet

/** torchvision AlexNet (the "one weird trick" variant torchvision ships: 64-192-384-256-256). */
export function buildAlexNet(opts: TorchvisionModelOptions = {}): tf.LayersModel {
  const o = options(opts);
  const b = new Builder(o);
  const input = tf.input({ shape: o.inputShape, name: "input" });
  let x = b.conv(input, "features.0", 64, 11, 4, 2, true);
  x = b.relu(x, "features.1");
  x = b.maxPool(x, "features.2", 3, 2);
  x = b.relu(b.conv(x, "features.3", 192, 5, 1, 2, true), "features.4");
  x = b.maxPool(x, "features.5", 3, 2);
  x = b.relu(b.conv(x, "features.6", 384, 3, 1, 1, true), "features.7");
  x = b.relu(b.conv(x, "features.8", 256, 3, 1, 1, true), "features.9");
  x = b.relu(b.conv(x, "features.10", 256, 3, 1, 1, true), "features.11");
  x = b.maxPool(x, "features.12", 3, 2);
  if (o.includeTop) {
    x = adaptiveAvgPool2d({ outputSize: [6, 6], name: "avgpool" }).apply(x) as T;
    x = tf.layers.flatten({ name: "flatten" }).apply(x) as T;
    x = b.dropout(x, "classifier.0", 0.5);
    x = b.relu(b.dense(x, "classifier.1", 4096), "classifier.2");
    x = b.dropout(x, "classifier.3", 0.5);
    x = b.relu(b.dense(x, "classifier.4", 4096), "classifier.5");
    x = b.dense(x, "classifier.6", o.numClasses);
  }
  return tf.model({ inputs: input, outputs: x, name: "alexnet" });
}

// ------------------------------------------------------------------------------------------------ VGG

const VGG_CFG: Record<11 | 13 | 16 | 19, (number | "M")[]> = {
  11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
  16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
  19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
};

/** torchvision VGG-11/13/16/19, with batch norm after every conv when `batchNorm`. */
export function buildVgg(depth: 11 | 13 | 16 | 19, batchNorm = false, opts: TorchvisionModelOptions = {}): tf.LayersModel {
  const o = options(opts);
  const b = new Builder(o);
  const input = tf.input({ shape: o.inputShape, name: "input" });
  let x: T = input;
  let i = 0;
  for (const v of VGG_CFG[depth]) {
    if (v === "M") {
      x = b.maxPool(x, `features.${i++}`, 2, 2);
      continue;
    }
    x = b.conv(x, `features.${i++}`, v, 3, 1, 1, true);
    if (batchNorm) x = b.bn(x, `features.${i++}`);
    x = b.relu(x, `features.${i++}`);
  }
  if (o.includeTop) {
    x = adaptiveAvgPool2d({ outputSize: [7, 7], name: "avgpool" }).apply(x) as T;
    x = tf.layers.flatten({ name: "flatten" }).apply(x) as T;
    x = b.relu(b.dense(x, "classifier.0", 4096), "classifier.1");
    x = b.dropout(x, "classifier.2", 0.5);
    x = b.relu(b.dense(x, "classifier.3", 4096), "classifier.4");
    x = b.dropout(x, "classifier.5", 0.5);
    x = b.dense(x, "classifier.6", o.numClasses);
  }
  return tf.model({ inputs: input, outputs: x, name: `vgg${depth}${batchNorm ? "_bn" : ""}` });
}

// ------------------------------------------------------------------------------------------------ MobileNet v1

const MOBILENET_V1_BLOCKS: [number, number][] = [
  [64, 1], [128, 2], [128, 1], [256, 2], [256, 1], [512, 2], [512, 1], [512, 1], [512, 1], [512, 1], [512, 1], [1024, 2], [1024, 1],
];

/**
 * MobileNet v1 exactly as chapter 3's source defines it in PyTorch (torchvision has none): `model.0` is
 * conv3x3/2-BN-ReLU, `model.1`..`model.13` are depthwise 3x3 (BN, ReLU) + pointwise 1x1 (BN, ReLU), `model.14` is
 * AvgPool2d(7), then `fc`. Plain ReLU and symmetric padding 1, unlike Keras's MobileNet (ReLU6, pad bottom/right):
 * this one loads that chapter's `.pth` checkpoints. Layer `model.N.K` is the K-th module of block N.
 */
export function buildMobileNetV1Torch(opts: TorchvisionModelOptions = {}): tf.LayersModel {
  const o = options(opts);
  const b = new Builder(o);
  const input = tf.input({ shape: o.inputShape, name: "input" });
  let x = b.relu(b.bn(b.conv(input, "model.0.0", 32, 3, 2, 1, false), "model.0.1"), "model.0.2");
  MOBILENET_V1_BLOCKS.forEach(([out, stride], i) => {
    const p = `model.${i + 1}`;
    x = b.relu(b.bn(b.conv(x, `${p}.0`, 0, 3, stride, 1, false, true), `${p}.1`), `${p}.2`);
    x = b.relu(b.bn(b.conv(x, `${p}.3`, out, 1, 1, 0, false), `${p}.4`), `${p}.5`);
  });
  if (o.includeTop) {
    x = tf.layers.averagePooling2d({ poolSize: 7, strides: 7, padding: "valid", name: "model.14" }).apply(x) as T;
    x = tf.layers.flatten({ name: "flatten" }).apply(x) as T; // x.view(-1, 1024) on a 1x1 map: order is moot
    x = b.dense(x, "fc", o.numClasses);
  }
  return tf.model({ inputs: input, outputs: x, name: "mobilenet_v1_torch" });
}

/** Build any of TORCHVISION_ARCHS by name. */
export function buildTorchvisionModel(arch: TorchvisionArch, opts: TorchvisionModelOptions = {}): tf.LayersModel {
  if (arch === "resnet18") return buildResNet(18, opts);
  if (arch === "resnet34") return buildResNet(34, opts);
  if (arch === "resnet50") return buildResNet(50, opts);
  if (arch === "alexnet") return buildAlexNet(opts);
  if (arch === "mobilenet_v1") return buildMobileNetV1Torch(opts);
  const m = /^vgg(11|13|16|19)(_bn)?$/.exec(arch);
  if (m) return buildVgg(Number(m[1]) as 11 | 13 | 16 | 19, !!m[2], opts);
  throw new Error(`Unknown torchvision architecture '${arch}'. Known: ${TORCHVISION_ARCHS.join(", ")}.`);
}

/** The layer whose output is the last feature map (what a frozen-backbone chapter puts its new classifier on). */
export function torchvisionFeatureLayer(arch: TorchvisionArch): string {
  if (arch.startsWith("resnet")) return `layer4.${RESNET_LAYERS[arch as keyof typeof RESNET_LAYERS].layers[3] - 1}.relu`;
  if (arch === "alexnet") return "features.12";
  if (arch === "mobilenet_v1") return "model.13.5";
  const m = /^vgg(11|13|16|19)(_bn)?$/.exec(arch)!;
  const n = VGG_CFG[Number(m[1]) as 11].reduce<number>((s, v) => s + (v === "M" ? 1 : m[2] ? 3 : 2), 0);
  return `features.${n - 1}`;
}
