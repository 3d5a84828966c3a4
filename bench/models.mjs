// Benchmark workloads for tfjs (same architectures as bench/pytorch_worker.py).
import * as tf from "@tensorflow/tfjs";

const makeDivisible = (v, d = 8) => {
  let n = Math.max(d, Math.floor((v + d / 2) / d) * d);
  if (n < 0.9 * v) n += d;
  return n;
};

/** Keras MobileNetV2 (include_top=false) + global average pool + dense(classes); random weights. */
export function mobileNetV2(alpha, size, classes = 10) {
  let seed = 1;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const bn = (x) => tf.layers.batchNormalization({ epsilon: 1e-3, momentum: 0.999 }).apply(x);
  const relu6 = (x) => tf.layers.reLU({ maxValue: 6 }).apply(x);
  const conv = (x, filters, k, strides = 1) =>
    tf.layers.conv2d({ filters, kernelSize: k, strides, padding: "same", useBias: false, kernelInitializer: init() }).apply(x);
  const dw = (x, strides) =>
    tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding: "same", useBias: false, depthwiseInitializer: init() }).apply(x);
  const input = tf.input({ shape: [size, size, 3] });
  let x = relu6(bn(conv(input, makeDivisible(32 * alpha), 3, 2)));
  let inC = makeDivisible(32 * alpha);
  const cfg = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
  for (const [t, c, n, s] of cfg) {
    const outC = makeDivisible(c * alpha);
    for (let i = 0; i < n; i++) {
      const stride = i === 0 ? s : 1;
      let y = x;
      if (t !== 1) y = relu6(bn(conv(y, inC * t, 1)));
      y = relu6(bn(dw(y, stride)));
      y = bn(conv(y, outC, 1));
      x = stride === 1 && inC === outC ? tf.layers.add().apply([x, y]) : y;
      inC = outC;
    }
  }
  const last = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  x = relu6(bn(conv(x, last, 1)));
  const features = tf.layers.globalAveragePooling2d({}).apply(x);
  const logits = tf.layers.dense({ units: classes, kernelInitializer: init() }).apply(features);
  return { features: tf.model({ inputs: input, outputs: features }), full: tf.model({ inputs: input, outputs: logits }) };
}

/** 3 conv blocks (conv3x3+relu, maxpool) on 32x32x3 → dense(10). */
export function cifarCnn() {
  let seed = 100;
  const input = tf.input({ shape: [32, 32, 3] });
  let x = input;
  for (const f of [32, 64, 128]) {
    x = tf.layers.conv2d({ filters: f, kernelSize: 3, padding: "same", activation: "relu", kernelInitializer: tf.initializers.heNormal({ seed: seed++ }) }).apply(x);
    x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x);
  }
  x = tf.layers.flatten().apply(x);
  const out = tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: seed++ }) }).apply(x);
  return tf.model({ inputs: input, outputs: out });
}

/** The course's transfer head: dense(classes) on 1280-d pooled features. */
export function denseHead() {
  const input = tf.input({ shape: [1280] });
  const out = tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) }).apply(input);
  return tf.model({ inputs: input, outputs: out });
}

/** Rows: id → { kind, batch, build() → { run(): void } } ; run() does one timed iteration, synchronously. */
export const ROWS = {
  "infer mnv2 a0.35@224": { kind: "infer", batch: 16, size: 224, alpha: 0.35, unit: "img/s" },
  "infer mnv2 a1.0@224": { kind: "infer", batch: 16, size: 224, alpha: 1.0, unit: "img/s" },
  "infer mnv2 a0.35@96": { kind: "infer", batch: 16, size: 96, alpha: 0.35, unit: "img/s" },
  "train mnv2 a0.35@96": { kind: "train", batch: 16, size: 96, alpha: 0.35, unit: "img/s" },
  "train mnv2 a1.0@96": { kind: "train", batch: 16, size: 96, alpha: 1.0, unit: "img/s" },
  // The size chapters 3 and 5 fine-tune at.
  "train mnv2 a0.35@224": { kind: "train", batch: 16, size: 224, alpha: 0.35, unit: "img/s" },
  "train cifar cnn b64": { kind: "train-cnn", batch: 64, unit: "img/s" },
  "train dense head 1280→10 b256": { kind: "train-head", batch: 256, unit: "samples/s" },
};

export function setupRow(id) {
  const r = ROWS[id];
  const labels = (n) => tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => (i * 7) % 10), "int32"), 10);
  const trainStep = (model, x, y) => {
    const opt = tf.train.sgd(0.01);
    const vars = model.trainableWeights.map((w) => w.read());
    return () => {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true })), true, vars);
      loss.dataSync();
      loss.dispose();
    };
  };
  if (r.kind === "infer") {
    const { features } = mobileNetV2(r.alpha, r.size);
    const x = tf.randomUniform([r.batch, r.size, r.size, 3], -1, 1, "float32", 1);
    return () => tf.tidy(() => void features.predict(x).dataSync());
  }
  if (r.kind === "train") {
    const { full } = mobileNetV2(r.alpha, r.size);
    return trainStep(full, tf.randomUniform([r.batch, r.size, r.size, 3], -1, 1, "float32", 1), labels(r.batch));
  }
  if (r.kind === "train-cnn") return trainStep(cifarCnn(), tf.randomUniform([r.batch, 32, 32, 3], 0, 1, "float32", 1), labels(r.batch));
  return trainStep(denseHead(), tf.randomUniform([r.batch, 1280], 0, 1, "float32", 1), labels(r.batch));
}
