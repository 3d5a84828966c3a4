// The Node side of the GPU check (bundled by prepare.sh into .gpucheck/check.cjs, run by run.sh): the resident kernel
// cases on the device against tfjs' cpu backend, then timed MobileNetV2 training steps and one chapter 3 fine-tuning
// epoch through the helpers. Writes <out>/node.json. Options (environment): GPU_CHECK_DEVICE cuda|cpu (default cuda),
// GPU_CHECK_STEPS timed steps per row, GPU_CHECK_WARMUP untimed steps first, GPU_CHECK_BATCH (default 32).
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import {
  RESIDENT_CPU_BACKEND, RESIDENT_CUDA_BACKEND, residentFallbacks, residentKernelNames, residentStats, setResidentCudaPrecision,
  tryRegisterResidentBackends,
} from "../../src/helpers/backend/resident";
import { kernelCases, residentKernelCases } from "../../test/helpers/backend/kernelCases";
import { mobileNetV2 } from "../../bench/models.mjs";
import { hymenoptera } from "../../src/helpers/sets/hymenoptera";
import { loadBackbone } from "../../src/helpers/models/zoo";
import { imageSamplesStream } from "../../src/helpers/pipeline/presets";
import { trainModel } from "../../src/helpers/train/fit";
import { addClassifierHead, freezeLayers } from "../../src/helpers/transfer/ops";

const device = process.env.GPU_CHECK_DEVICE ?? "cuda";
const onGpu = device === "cuda";
const steps = Number(process.env.GPU_CHECK_STEPS ?? (onGpu ? 10 : 2));
const warmup = Number(process.env.GPU_CHECK_WARMUP ?? (onGpu ? 3 : 1));
const batch = Number(process.env.GPU_CHECK_BATCH ?? 32);
const out = process.argv[2] ?? process.env.OUT ?? ".";
const backend = onGpu ? RESIDENT_CUDA_BACKEND : RESIDENT_CPU_BACKEND;
const report = { device, backend, steps, warmup, batch, started: new Date().toISOString() };
const save = () => fs.writeFileSync(path.join(out, "node.json"), JSON.stringify(report, null, 2));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

async function kernelTests() {
  // TF32 and cuDNN's benchmark off: CUDA float32 convolutions and matmuls then round like the CPU's (1e-4 relative, the
  // CPU tests' tolerance).
  setResidentCudaPrecision({ tf32Convolutions: false, tf32Matmuls: false, benchmark: false });
  const results = [];
  const ctx = { backend, expectFallback: () => void residentFallbacks(true) };
  const cases = [...kernelCases(ctx), ...residentKernelCases(ctx)];
  for (const c of cases) {
    residentFallbacks(true);
    const t0 = performance.now();
    let error;
    try {
      await c.run();
      const fb = Object.keys(residentFallbacks(true));
      if (fb.length) error = `took the cpu fallback: ${fb.join(", ")}`;
    } catch (e) {
      error = String(e?.message ?? e).split("\n")[0].slice(0, 400);
    }
    results.push({ name: c.name, ok: !error, error, seconds: (performance.now() - t0) / 1000 });
    console.log(`[kernels] ${error ? "FAIL" : "ok  "} ${c.name}${error ? `: ${error}` : ""}`);
  }
  // PyTorch's defaults for the timings (TF32 convolutions, float32 matmuls), with cudnn.benchmark as the twin sets it.
  setResidentCudaPrecision({ tf32Convolutions: true, tf32Matmuls: false, benchmark: true });
  await tf.setBackend(backend);
  return { passed: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length, cases: results };
}

/** One MobileNetV2 training step (SGD, softmax cross-entropy, as bench/models.mjs) at 224 px, timed. */
async function trainStepRow(alpha) {
  await tf.setBackend(backend);
  const { full } = mobileNetV2(alpha, 224);
  const x = tf.randomUniform([batch, 224, 224, 3], -1, 1, "float32", 1);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => (i * 7) % 10), "int32"), 10);
  const opt = tf.train.sgd(0.01);
  const vars = full.trainableWeights.map((w) => w.read());
  const step = () => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, full.apply(x, { training: true })), true, vars);
    loss.dataSync(); // waits for the device
    loss.dispose();
  };
  for (let i = 0; i < warmup; i++) step();
  residentFallbacks(true);
  const times = [];
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    step();
    times.push(performance.now() - t);
  }
  const fallbacks = residentFallbacks(true);
  tf.dispose([x, y]);
  full.dispose();
  const ms = median(times);
  return { row: `train step MobileNetV2 α${alpha.toFixed(alpha === 1 ? 1 : 2)} @224, batch ${batch}`, msPerStep: ms, imagesPerSecond: batch / (ms / 1000), times, fallbacks };
}

/** Chapter 3's fine-tuning epoch (quick profile): α0.35 at 224, batch 16, Adam 2e-5, batch norm frozen, augmentation. */
async function chapter3Epoch() {
  await tf.setBackend(backend);
  const data = await hymenoptera();
  const { model: backboneModel } = await loadBackbone("mobilenet_v2_0.35");
  const model = addClassifierHead(backboneModel, { numClasses: 2, dropout: 0.2, seed: 0 });
  freezeLayers(model, { where: (layer) => layer.getClassName() === "BatchNormalization" });
  const stream = (s) => imageSamplesStream(s, { batchSize: 16, mode: "train", size: 224, seed: 0 });
  const fit = (s) => trainModel(model, stream(s), { epochs: 1, optimizer: { type: "adam", lr: 2e-5 }, progress: false });
  await fit(data.train.samples.slice(0, 32)); // warm-up
  residentFallbacks(true);
  const t0 = performance.now();
  await fit(data.train.samples);
  const seconds = (performance.now() - t0) / 1000;
  return { row: "chapter 3 fine-tuning epoch (MobileNetV2 α0.35 @224, batch 16, Adam)", seconds, images: data.train.samples.length,
    imagesPerSecond: data.train.samples.length / seconds, fallbacks: residentFallbacks(true) };
}

async function main() {
  fs.mkdirSync(out, { recursive: true });
  const st = tryRegisterResidentBackends();
  report.registration = { ok: st.ok, names: st.names, detail: st.detail, gpu: st.gpu, reason: st.reason };
  if (!st.ok || !st.names.includes(backend)) {
    report.error = `${backend} unavailable: ${st.reason}`;
    save();
    console.error(report.error);
    process.exit(1);
  }
  report.nativeKernels = residentKernelNames().length;
  console.log(`[gpu-check] ${backend}: ${st.gpu ?? "CPU"}, ${st.detail}`);
  report.kernels = await kernelTests();
  save();
  report.rows = [];
  for (const run of [() => trainStepRow(0.35), () => trainStepRow(1.0), chapter3Epoch]) {
    try {
      const r = await run();
      report.rows.push(r);
      console.log(`[gpu-check] ${r.row}: ${r.imagesPerSecond.toFixed(1)} img/s`);
    } catch (e) {
      report.rows.push({ error: String(e?.message ?? e).split("\n")[0].slice(0, 400) });
      console.log(`[gpu-check] row failed: ${report.rows.at(-1).error}`);
    }
    save();
  }
  report.liveTensors = residentStats()?.liveTensors;
  report.finished = new Date().toISOString();
  save();
  process.exit(report.kernels.failed ? 2 : 0);
}

main().catch((e) => {
  report.error = String(e?.stack ?? e);
  save();
  console.error(e);
  process.exit(1);
});
