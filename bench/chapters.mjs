// The chapters' own heaviest loops, timed through the course's helpers on the fastest training backend
// (the native "torch" backend when it is built), next to a PyTorch twin of the same loop on the same data
// (bench/pytorch_chapters.py). Run by `npm run bench` after the kernel table, or alone:
//
//   node bench/chapters.mjs [--rows substring] [--rounds N]
//
// Each (row, side) runs in a fresh process; the reported time is the median over rounds of one timed
// epoch (or one pass over the set), after a short warm-up in the same process. Data comes from the
// download cache (TL_CACHE_DIR), so this needs the cached MobileNetV2, hymenoptera and CIFAR-10 files.
// Writes build/bench/chapters.json and chapters.md.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { median, runWorker } from "./common.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const outDir = path.join(root, "build", "bench");
const require = createRequire(import.meta.url);

export const CHAPTER_ROWS = [
  { id: "extract hymenoptera 397 img @224", unit: "img/s", what: "chapters 3-5: frozen MobileNetV2 α0.35 features of the whole train+val set (decode, resize 256, crop 224)" },
  { id: "epoch ch1 AlexNet-style scratch", unit: "img/s", what: "chapter 1: one epoch on CIFAR-10 data_batch_1 (10,000 images), batch 128, crop+flip, SGD momentum" },
  { id: "epoch ch2 DANN", unit: "steps/s", what: "chapter 2: one DANN epoch, 62 steps of 64 source + 64 target 28x28x3 digits, [16,32] conv extractor, SGD momentum" },
  { id: "epoch ch3/ch5 fine-tune @224", unit: "img/s", what: "chapters 3 and 5: one fine-tuning epoch of MobileNetV2 α0.35 at 224 on the 244 hymenoptera training images, batch 16, random resized crop + flip, Adam, BatchNorm frozen" },
];

/** One timed run of `row` through the helpers, in this process. */
async function runTorchRow(id) {
  const tl = require("@course/helpers");
  const time = async (f) => {
    const t0 = performance.now();
    await f();
    return (performance.now() - t0) / 1000;
  };
  if (id.startsWith("extract")) {
    const info = await tl.useBackendFor("inference");
    const data = await tl.hymenoptera();
    const { model, spec } = await tl.loadBackbone("mobilenet_v2_0.35");
    const samples = [...data.train.samples, ...data.val.samples];
    const cacheRoot = fs.mkdtempSync(path.join(os.tmpdir(), "bench-features-"));
    const extract = (s) =>
      tl.extractFeatures({ backbone: model, backboneName: spec.name, preprocessing: "none", refresh: true, cacheRoot, data: tl.imageSamplesStream(s, { batchSize: 32, mode: "eval", size: 224 }) });
    await extract(samples.slice(0, 32)); // warm-up
    const seconds = await time(() => extract(samples));
    fs.rmSync(cacheRoot, { recursive: true, force: true });
    return { seconds, items: samples.length, detail: info.name };
  }
  const info = await tl.useBackendFor("training");
  if (id.startsWith("epoch ch1")) {
    const train = await tl.loadCifar10({ batches: ["data_batch_1"] });
    const augment = tl.composeTransforms([tl.randomCrop(32, { padding: 4 }), tl.randomHorizontalFlip()]);
    const net = tl.buildAlexNetCifar({ numClasses: 10, width: 0.375, dropout: 0.2, seed: 42 });
    const stream = (indices) => tl.arrayStream({ images: train.images, imageShape: [32, 32, 3], labels: train.labels, indices, batchSize: 128, shuffle: true, seed: 1, transform: augment, normalize: "mobilenet" });
    const fit = (s) => tl.trainModel(net, s, { epochs: 1, optimizer: { type: "sgd", lr: 0.05, momentum: 0.9 } });
    await fit(stream(Int32Array.from({ length: 256 }, (_, i) => i)));
    return { seconds: await time(() => fit(stream())), items: train.count, detail: info.name };
  }
  if (id.startsWith("epoch ch2")) {
    const n = 62 * 64;
    const pixels = (c, seed) => Uint8Array.from({ length: n * 28 * 28 * c }, (_, i) => ((i * 2654435761 + seed) >>> 0) % 256);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
    const source = tl.arrayStream({ images: pixels(3, 1), imageShape: [28, 28, 3], labels, batchSize: 64, shuffle: true, dropLast: true, seed: 1 });
    const target = tl.arrayStream({ images: pixels(3, 2), imageShape: [28, 28, 3], labels, batchSize: 64, shuffle: true, dropLast: true, seed: 2 });
    const nets = tl.buildDannNetworks({ numClasses: 10, inputShape: [28, 28, 3], filters: [16, 32], kernelSize: 3, labelHidden: [100], domainHidden: [100], seed: 1 });
    const fit = () => tl.trainDann(nets, { epochs: 1, optimizer: { type: "sgd", lr: 0.01, momentum: 0.9 }, lrSchedule: "dann", source, target });
    await fit();
    return { seconds: await time(fit), items: 62, detail: info.name };
  }
  if (id.startsWith("epoch ch3")) {
    const data = await tl.hymenoptera();
    const { model: backbone } = await tl.loadBackbone("mobilenet_v2_0.35");
    const model = tl.addClassifierHead(backbone, { numClasses: 2, dropout: 0.2, seed: 0 });
    tl.freezeLayers(model, { where: (layer) => layer.getClassName() === "BatchNormalization" });
    const stream = (s) => tl.imageSamplesStream(s, { batchSize: 16, mode: "train", size: 224, seed: 0 });
    const fit = (s) => tl.trainModel(model, stream(s), { epochs: 1, optimizer: { type: "adam", lr: 2e-5 } });
    await fit(data.train.samples.slice(0, 32));
    return { seconds: await time(() => fit(data.train.samples)), items: data.train.samples.length, detail: info.name };
  }
  throw new Error(`unknown chapter row '${id}'; rows: ${CHAPTER_ROWS.map((r) => r.id).join(", ")}`);
}

function measure(side, id) {
  const cmd = side === "pytorch"
    ? ["/usr/bin/python3", [path.join(here, "pytorch_chapters.py"), id]]
    : [process.execPath, [fileURLToPath(import.meta.url), "--worker", id]];
  return runWorker(cmd[0], cmd[1], { cwd: root, timeoutMs: 600_000, torch: side === "torch" });
}

/** Why the chapter table has no PyTorch column, and how to get one (the twins need torch, PIL and NumPy). */
export const NO_PYTORCH_TWINS =
  "PyTorch twins skipped: /usr/bin/python3 cannot import torch, PIL and numpy, so there is no × PyTorch column. " +
  "Add them with `sudo apt-get install python3-torch python3-pil python3-numpy` (Debian/Ubuntu) and rerun.";

export function runChapterBench({ rows = "", rounds = 1, pytorch = true, wantedPytorch = true } = {}) {
  const noTwins = wantedPytorch && !pytorch;
  if (noTwins) console.log(`\n${NO_PYTORCH_TWINS}\n`);
  const selected = CHAPTER_ROWS.filter((r) => r.id.includes(rows));
  const sides = ["torch", ...(pytorch ? ["pytorch"] : [])];
  const cells = {};
  for (let k = 0; k < rounds; k++) {
    for (const row of selected) {
      for (const side of k % 2 ? [...sides].reverse() : sides) {
        const m = measure(side, row.id);
        const c = ((cells[row.id] ??= {})[side] ??= { seconds: [], rss: [], errors: [] });
        if (m.error) c.errors.push(m.error);
        else {
          c.seconds.push(m.seconds);
          c.rss.push(m.maxRssMB);
          c.items = m.items;
          c.detail = m.detail;
        }
        console.log(`[chapters ${k + 1}/${rounds}] ${row.id} · ${side}: ${m.error ? `error: ${m.error}` : `${m.seconds.toFixed(1)} s, rss ${m.maxRssMB.toFixed(0)} MB`}`);
      }
    }
  }
  const table = [];
  for (const row of selected) {
    const py = cells[row.id]?.pytorch;
    for (const side of sides) {
      const c = cells[row.id]?.[side];
      const s = c?.seconds.length ? median(c.seconds) : undefined;
      const pyS = py?.seconds.length ? median(py.seconds) : undefined;
      const rss = c?.rss.length ? Math.max(...c.rss) : undefined;
      const pyRss = py?.rss.length ? Math.max(...py.rss) : undefined;
      table.push({
        row: row.id, side, seconds: s, rate: s ? c.items / s : undefined, unit: row.unit, ratio: s && pyS ? pyS / s : undefined,
        peakRssMB: rss, rssRatio: rss && pyRss ? rss / pyRss : undefined, detail: c?.detail, error: c?.errors[0],
      });
    }
  }
  fs.mkdirSync(outDir, { recursive: true });
  const meta = { date: new Date().toISOString(), cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, rounds, rows: Object.fromEntries(selected.map((r) => [r.id, r.what])) };
  fs.writeFileSync(path.join(outDir, "chapters.json"), JSON.stringify({ meta, rows: table }, null, 2));
  const fmt = (v, d = 1) => (v === undefined ? "–" : v.toFixed(d));
  const md = [
    `# Chapter loops: the course's helpers vs a PyTorch twin (${meta.date})`,
    "",
    `${meta.cpus} cores (${meta.cpuModel}); median of ${rounds} round(s), one timed epoch (or pass) per process after a warm-up.`,
    "",
    ...(noTwins ? [`**${NO_PYTORCH_TWINS}**`, ""] : []),
    "| loop | side | seconds | throughput | × PyTorch | peak RSS MB | RSS × PyTorch | note |",
    "|---|---|---:|---:|---:|---:|---:|---|",
    ...table.map((t) => `| ${t.row} | ${t.side === "torch" ? `helpers (${t.detail ?? "torch"})` : t.detail ?? "pytorch"} | ${fmt(t.seconds)} | ${t.rate ? `${fmt(t.rate)} ${t.unit}` : "–"} | ${fmt(t.ratio, 2)} | ${fmt(t.peakRssMB, 0)} | ${fmt(t.rssRatio, 2)} | ${t.error ?? ""} |`),
    "",
    ...selected.map((r) => `- **${r.id}**: ${r.what}.`),
    "",
    "The PyTorch twins (bench/pytorch_chapters.py) run the same architectures, batch sizes, optimisers and augmentations with",
    "PIL and NumPy for the data (no torchvision in Debian's python3-torch); their MobileNetV2 has random weights, which costs the same.",
    "",
  ].join("\n");
  fs.writeFileSync(path.join(outDir, "chapters.md"), md);
  console.log("\n" + md);
  return table;
}

const args = process.argv.slice(2);
if (args[0] === "--worker") {
  try {
    const r = await runTorchRow(args[1]);
    process.stdout.write(JSON.stringify({ ...r, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: String(e?.message ?? e).split("\n")[0].slice(0, 200) }) + "\n");
  }
} else if (path.resolve(process.argv[1] ?? "") === fileURLToPath(import.meta.url)) {
  const opt = (name, dflt) => (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : dflt);
  const hasPy = spawnSync("/usr/bin/python3", ["-c", "import torch, PIL, numpy"], { stdio: "ignore" }).status === 0;
  runChapterBench({ rows: opt("rows", ""), rounds: Number(opt("rounds", 1)), pytorch: hasPy });
}
