/**
 * The browser demo gives the same answers as Node: a classifier exported by `exportImageClassifier` (backbone and
 * head joined) is loaded by the demo page in headless Chromium from a loopback server, fed 8 validation photos
 * through its file input, and its top-1 class and probabilities are compared with `classifyImageFile` in Node.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tl from "../../src/helpers";
import { launchChromium, missingForBrowserTests } from "./chromium";
// @ts-expect-error plain ESM build scripts without type declarations
import { buildDemo } from "../../tools/build_demo.mjs";
// @ts-expect-error plain ESM build scripts without type declarations
import { serveDemo } from "../../tools/serve_demo.mjs";

const ROOT = path.resolve(__dirname, "../..");
const SHOTS = path.join(ROOT, "build", "browser");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-demo-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let modelDir = "";
let val: tl.ImageSample[] = [];
let trainAcc = 0;

beforeAll(async () => {
  await tl.useBackendFor("inference");
  const data = await tl.hymenoptera();
  const { model: backbone, spec } = await tl.loadBackbone("mobilenet_v2_0.35");
  const pipeline = tl.imagenetEvalPipeline(224, spec.preprocessing);
  // A head trained for a few seconds on 32 photos: decisive enough that top-1 is no coin toss.
  const train = [...data.train.samples.filter((s) => s.label === 0).slice(0, 16), ...data.train.samples.filter((s) => s.label === 1).slice(0, 16)];
  const pool = tf.layers.globalAveragePooling2d({});
  const feats: tf.Tensor[] = [];
  for (const s of train) {
    const x = tl.applyClassifierPipeline(await tl.decodeImage(s.path), pipeline);
    feats.push(tf.tidy(() => pool.apply(backbone.predict(x) as tf.Tensor) as tf.Tensor));
    x.dispose();
  }
  const xs = tf.concat(feats);
  const ys = tf.oneHot(tf.tensor1d(train.map((s) => s.label), "int32"), 2);
  const head = tl.buildHeadModel([spec.featureDim], { numClasses: 2, dropout: 0, seed: 0 });
  head.compile({ optimizer: tf.train.adam(1e-2), loss: "categoricalCrossentropy", metrics: ["accuracy"] });
  const h = await head.fit(xs, ys, { epochs: 40, batchSize: 32, verbose: 0 });
  trainAcc = (h.history.acc ?? h.history.accuracy).at(-1) as number;
  tf.dispose([xs, ys, ...feats]);
  modelDir = path.join(tmp, "models", "ants-bees");
  await tl.exportImageClassifier(modelDir, { backbone, head }, {
    name: "test: MobileNetV2 0.35 + a head on 32 photos", classes: data.classes, pipeline,
    metrics: { train_acc: trainAcc }, backbone: spec.name, run: { notebook: "demo.test", profile: "test" },
  });
  val = [...data.val.samples.filter((s) => s.label === 0).slice(0, 4), ...data.val.samples.filter((s) => s.label === 1).slice(0, 4)];
}, 120_000);

describe("exported classifier", () => {
  it("is one model from image to class probabilities, with its pipeline in metadata.json", async () => {
    const loaded = await tl.loadImageClassifier(modelDir);
    expect(loaded.model.inputs[0].shape).toEqual([null, 224, 224, 3]);
    expect(loaded.model.outputs[0].shape).toEqual([null, 2]);
    expect(loaded.metadata.pipeline.map((s) => s.op)).toEqual(["resizeShorter", "centerCrop", "scale"]);
    expect(trainAcc).toBeGreaterThan(0.8);
    const r = await tl.classifyImageFile(loaded, val[0].path);
    expect(r.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it("refuses a folder that is not an exported classifier, saying why", async () => {
    const other = path.join(tmp, "plain");
    await tl.saveTrainedModel(tl.buildHeadModel([4], { numClasses: 2, seed: 0 }), other, { classes: ["a", "b"] });
    await expect(tl.loadImageClassifier(other)).rejects.toThrow(/not an exported image classifier/);
  });
});

describe.skipIf(missingForBrowserTests().length > 0)("browser demo in Chromium", () => {
  it("matches Node's predictions on 8 validation photos, offline", async () => {
    const out = path.join(tmp, "site");
    const entries = await buildDemo({ out, modelDirs: [modelDir] });
    expect(entries).toHaveLength(1);
    const server = await serveDemo({ dir: out, port: 0 });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const outside: string[] = [];
      page.on("request", (req) => {
        const u = new URL(req.url());
        if (!["127.0.0.1", "localhost"].includes(u.hostname) && !["data:", "blob:"].includes(u.protocol)) outside.push(req.url());
      });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.setViewport({ width: 1100, height: 800 });
      await page.goto(server.url, { waitUntil: "load" });
      await page.evaluate(() => (globalThis as any).tlDemo.ready);
      const backend = await page.evaluate(() => (globalThis as any).document.getElementById("status").textContent as string);
      const node = await tl.loadImageClassifier(modelDir);
      const input = (await page.$("#file"))!;
      const times: number[] = [];
      for (const [n, s] of val.entries()) {
        await input.uploadFile(s.path);
        await page.waitForFunction((k) => (globalThis as any).tlDemo.last?.seq === k, { timeout: 30_000 }, n + 1);
        const web = await page.evaluate(() => (globalThis as any).tlDemo.last);
        const ref = await tl.classifyImageFile(node, s.path);
        expect(web.top1, path.basename(s.path)).toBe(ref.top1);
        for (let c = 0; c < 2; c++) expect(Math.abs(web.probabilities[c] - ref.probabilities[c]), path.basename(s.path)).toBeLessThan(1e-3);
        if (n > 0) times.push(web.predictMs); // the first call compiles kernels
      }
      fs.mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: path.join(SHOTS, "demo.png"), fullPage: true });
      const median = times.sort((a, b) => a - b)[times.length >> 1];
      console.log(`[demo] ${backend}; in-browser inference ${median.toFixed(1)} ms per image (median of ${times.length})`);
      expect(errors).toEqual([]);
      expect(outside).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  }, 180_000);
});
