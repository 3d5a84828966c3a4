/** From-scratch networks, all seeded so two builds with the same seed start from identical weights. */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";
import { backboneDir, backboneSpec } from "./zoo";
import { ensureDownloaded } from "../fetch";

/** A seeded Glorot-uniform initializer; `seed` distinct per layer so layers do not share weights patterns. */
export function seededInitializer(seed: number, kind: "glorotUniform" | "heNormal" = "glorotUniform"): ReturnType<typeof tf.initializers.glorotUniform> {
  return kind === "heNormal" ? tf.initializers.heNormal({ seed }) : tf.initializers.glorotUniform({ seed });
}

export interface AlexNetOptions {
  numClasses: number;
  seed?: number;
  /** Default [32, 32, 3] (CIFAR-10). */
  inputShape?: [number, number, number];
  /** Multiplies all widths (default 1: 64-192-384-256-256 convs, 1024-1024 dense). Chapter 1's quick profile uses 0.375. */
  width?: number;
  dropout?: number;
}

/**
 * AlexNet-style CNN for 32x32 inputs. Adaptations from the 224x224 original and why:
 * - first conv is 5x5 stride 1 (not 11x11 stride 4): a 32-px image would shrink to 7 px at once;
 * - "same" padding and three 3x3/2 max-pools leave a 4x4 map before the classifier;
 * - no local response normalisation (it adds little and is not a TF.js layer); batch norm after each conv and
 *   each hidden dense layer instead, which makes it train quickly from scratch at a high learning rate (without it
 *   in the classifier, SGD at 0.05 stalled: 59.9% vs 65.5% on CIFAR-10 at width 0.25 after 15 epochs);
 * - classifier 1024-1024 instead of 4096-4096 (the flattened map is 4096 values, not 9216; fewer units overfit less
 *   on 50k images); dropout kept.
 */
export function buildAlexNetCifar(opts: AlexNetOptions): tf.Sequential {
  const seed = opts.seed ?? 42;
  const w = opts.width ?? 1;
  const c = (n: number) => Math.max(4, Math.round(n * w));
  const m = tf.sequential({ name: "alexnet_cifar" });
  let i = 0;
  const conv = (filters: number, k: number, input?: number[]) => {
    m.add(
      tf.layers.conv2d({
        ...(input ? { inputShape: input } : {}),
        filters: c(filters),
        kernelSize: k,
        padding: "same",
        useBias: false,
        kernelInitializer: seededInitializer(seed + i++, "heNormal"),
        name: `conv${i}`,
      }),
    );
    m.add(tf.layers.batchNormalization({ name: `conv${i}_bn` }));
    m.add(tf.layers.reLU({ name: `conv${i}_relu` }));
  };
  const pool = (n: number) => m.add(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same", name: `pool${n}` }));
  conv(64, 5, opts.inputShape ?? [32, 32, 3]);
  pool(1);
  conv(192, 5);
  pool(2);
  conv(384, 3);
  conv(256, 3);
  conv(256, 3);
  pool(3);
  m.add(tf.layers.flatten({ name: "flatten" }));
  const drop = opts.dropout ?? 0.5;
  for (const n of [1, 2]) {
    m.add(tf.layers.dropout({ rate: drop, name: `fc${n}_dropout` }));
    m.add(tf.layers.dense({ units: c(1024), useBias: false, kernelInitializer: seededInitializer(seed + i++, "heNormal"), name: `fc${n}` }));
    m.add(tf.layers.batchNormalization({ name: `fc${n}_bn` }));
    m.add(tf.layers.reLU({ name: `fc${n}_relu` }));
  }
  m.add(tf.layers.dense({ units: opts.numClasses, activation: "softmax", kernelInitializer: seededInitializer(seed + i++), name: "predictions" }));
  return m;
}

export interface SmallCnnOptions {
  numClasses: number;
  seed?: number;
  /** Default [28, 28, 1]. */
  inputShape?: [number, number, number];
  /** Units of the layer named `bottleneck` (default 64): the features a later chapter transfers. */
  bottleneckUnits?: number;
  /** Filters of the two conv layers (default [16, 32]). */
  filters?: [number, number];
}

/** Small CNN for 28x28 digits/clothes: conv-pool-conv-pool-flatten-dense("bottleneck")-dense(softmax). */
export function buildSmallCnn(opts: SmallCnnOptions): tf.LayersModel {
  const seed = opts.seed ?? 42;
  const [f1, f2] = opts.filters ?? [16, 32];
  const input = tf.input({ shape: opts.inputShape ?? [28, 28, 1], name: "image" });
  let x = tf.layers.conv2d({ filters: f1, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: seededInitializer(seed, "heNormal"), name: "conv1" }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: "pool1" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: f2, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: seededInitializer(seed + 1, "heNormal"), name: "conv2" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: "pool2" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: "flatten" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: opts.bottleneckUnits ?? 64, activation: "relu", kernelInitializer: seededInitializer(seed + 2, "heNormal"), name: "bottleneck" }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: opts.numClasses, activation: "softmax", kernelInitializer: seededInitializer(seed + 3), name: "predictions" }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: "small_cnn" });
}

/** Give every initializer in a Keras topology JSON its own seed (seed, seed+1, ...), in layer order. */
export function seedTopologyInitializers(topology: any, seed: number): any {
  const t = JSON.parse(JSON.stringify(topology));
  let i = 0;
  const walk = (node: any) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== "object") return;
    for (const [k, v] of Object.entries(node)) {
      if (k.endsWith("_initializer") && v && typeof v === "object" && (v as any).config && typeof (v as any).config === "object") {
        const cn = (v as any).class_name;
        // Constant initialisers (Zeros/Ones) take no seed.
        if (!["Zeros", "Ones", "Constant", "Identity"].includes(cn)) (v as any).config.seed = seed + i++;
      } else walk(v);
    }
  };
  walk(t);
  return t;
}

/**
 * The MobileNetV2 topology of a zoo entry with fresh, seeded random weights (for "from scratch vs transfer"
 * comparisons). Only model.json is needed: the topology is rebuilt and every initializer gets its own seed.
 */
export async function buildMobileNetV2Random(alpha: number | string = 0.35, seed = 42): Promise<tf.LayersModel> {
  const spec = backboneSpec(`mobilenet_v2_${typeof alpha === "number" ? alpha.toFixed(2) : alpha}`);
  const dir = backboneDir(spec);
  const modelJson = path.join(dir, "model.json");
  if (!fs.existsSync(modelJson)) {
    // Topology only: the weights are not needed for a random initialisation.
    await ensureDownloaded(spec.url, modelJson, { name: `${spec.name} model.json` });
  }
  const json = JSON.parse(fs.readFileSync(modelJson, "utf8"));
  const topology = seedTopologyInitializers(json.modelTopology, seed);
  const model = (await tf.models.modelFromJSON({ modelTopology: topology } as any)) as tf.LayersModel;
  const outName = (model.outputs[0] as any).sourceLayer?.name;
  if (outName !== spec.featureLayer) return tf.model({ inputs: model.inputs, outputs: model.getLayer(spec.featureLayer).output as tf.SymbolicTensor, name: `${spec.name}_random` });
  return model;
}
