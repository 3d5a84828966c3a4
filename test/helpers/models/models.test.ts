process.env.TL_CACHE_DIR ??= require("node:path").resolve(__dirname, "../../../../shared/cache");
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  fileIOHandler, readModelArtifacts, loadLayersModelFromDir, loadBackbone, backboneSpec, BACKBONES, buildAlexNetCifar, buildSmallCnn,
  buildMobileNetV2Random, saveTrainedModel, loadTrainedModel, ModelFormatError, seedTopologyInitializers,
} from "../../../src/helpers/models";
import { cacheDir } from "../../../src/helpers/config";

let tmp: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-models-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const weightsEqual = (a: tf.LayersModel, b: tf.LayersModel) =>
  a.getWeights().every((w, i) => tf.equal(w, b.getWeights()[i]).all().dataSync()[0] === 1);

describe("fs IOHandler", () => {
  it("round-trips a model in TF.js layers format", async () => {
    const m = buildSmallCnn({ numClasses: 3, seed: 1 });
    await m.save(fileIOHandler(path.join(tmp, "rt")));
    const json = JSON.parse(fs.readFileSync(path.join(tmp, "rt", "model.json"), "utf8"));
    expect(json.format).toBe("layers-model");
    expect(json.weightsManifest[0].paths).toEqual(["weights.bin"]);
    const back = await loadLayersModelFromDir(path.join(tmp, "rt"));
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 3);
    expect(Array.from((back.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((m.predict(x) as tf.Tensor).dataSync()));
  });

  it("detects weight files that do not match the manifest shapes", () => {
    const src = path.join(cacheDir(), "models", "mobilenet_v2_0.35_224_no_top");
    const dir = path.join(tmp, "truncated");
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(src, "model.json"), path.join(dir, "model.json"));
    fs.writeFileSync(path.join(dir, "weights.bin"), fs.readFileSync(path.join(src, "weights.bin")).subarray(0, 1000));
    expect(() => readModelArtifacts(path.join(dir, "model.json"))).toThrow(/hold 1000 bytes but .* 1640832 bytes/);
    fs.rmSync(path.join(dir, "weights.bin"));
    expect(() => readModelArtifacts(path.join(dir, "model.json"))).toThrow(/'weights.bin' .* is missing/);
  });

  it("refuses unknown layer classes without loading code", () => {
    const dir = path.join(tmp, "custom");
    fs.mkdirSync(dir);
    const topo = { class_name: "Sequential", config: { name: "s", layers: [{ class_name: "EvilLambda", config: { name: "x" } }] } };
    fs.writeFileSync(path.join(dir, "model.json"), JSON.stringify({ format: "layers-model", modelTopology: topo, weightsManifest: [] }));
    expect(() => readModelArtifacts(path.join(dir, "model.json"))).toThrow(ModelFormatError);
    expect(() => readModelArtifacts(path.join(dir, "model.json"))).toThrow(/'EvilLambda'.*registerClass/);
  });
});

describe("zoo", () => {
  it("lists the MobileNet families with their URLs and cut layers", () => {
    expect(Object.keys(BACKBONES)).toHaveLength(8);
    expect(backboneSpec("mobilenet_v2_0.5").url).toContain("_0.50_224_no_top/model.json");
    expect(backboneSpec("mobilenet_v1_1.0").url).toBe("https://storage.googleapis.com/tfjs-models/tfjs/mobilenet_v1_1.0_224/model.json");
    expect(backboneSpec("mobilenet_v1_0.25").featureLayer).toBe("conv_pw_13_relu");
    expect(() => backboneSpec("resnet152")).toThrow(/Unknown backbone 'resnet152'.*Known: mobilenet_v2_0.35.*resnet50/);
  });

  it("loads MobileNetV2 0.35 from the cache, ending at out_relu", async () => {
    const { model, spec } = await loadBackbone("mobilenet_v2_0.35");
    expect(model.outputs[0].shape).toEqual([null, 7, 7, 1280]);
    expect(spec.featureDim).toBe(1280);
    expect(spec.preprocessing).toEqual({ kind: "scale", scale: 1 / 127.5, offset: -1 });
    const custom = await loadBackbone({ path: path.join(cacheDir(), "models", "mobilenet_v2_0.35_224_no_top"), featureLayer: "block_16_project_BN" });
    expect(custom.model.outputs[0].shape).toEqual([null, 7, 7, 112]);
  });

  it("fails clearly when a zoo model is neither cached nor downloadable", async () => {
    const saved = { c: process.env.TL_CACHE_DIR, o: process.env.TL_OFFLINE };
    process.env.TL_CACHE_DIR = path.join(tmp, "empty-cache");
    process.env.TL_OFFLINE = "1";
    try {
      await expect(loadBackbone("mobilenet_v1_0.25")).rejects.toThrow(/mobilenet_v1_0\.25|model\.json/);
    } finally {
      process.env.TL_CACHE_DIR = saved.c;
      if (saved.o === undefined) delete process.env.TL_OFFLINE;
      else process.env.TL_OFFLINE = saved.o;
    }
  });
});

describe("builders", () => {
  it("AlexNet-style CNN for 32x32 is seeded", () => {
    const a = buildAlexNetCifar({ numClasses: 10, seed: 7, width: 0.125 });
    const b = buildAlexNetCifar({ numClasses: 10, seed: 7, width: 0.125 });
    const c = buildAlexNetCifar({ numClasses: 10, seed: 8, width: 0.125 });
    expect(a.outputs[0].shape).toEqual([null, 10]);
    expect(weightsEqual(a, b)).toBe(true);
    expect(weightsEqual(a, c)).toBe(false);
  });

  it("small CNN has a named bottleneck", () => {
    const m = buildSmallCnn({ numClasses: 10, bottleneckUnits: 32 });
    expect(m.getLayer("bottleneck").outputShape).toEqual([null, 32]);
    expect(m.outputs[0].shape).toEqual([null, 10]);
  });

  it("MobileNetV2 topology with seeded random weights", async () => {
    const r1 = await buildMobileNetV2Random(0.35, 3);
    const r2 = await buildMobileNetV2Random(0.35, 3);
    const { model: pre } = await loadBackbone("mobilenet_v2_0.35");
    expect(r1.layers.map((l) => l.name)).toEqual(pre.layers.map((l) => l.name));
    expect(r1.outputs[0].shape).toEqual([null, 7, 7, 1280]);
    expect(weightsEqual(r1, r2)).toBe(true);
    const k1 = r1.getLayer("Conv1").getWeights()[0];
    const kp = pre.getLayer("Conv1").getWeights()[0];
    expect(tf.equal(k1, kp).all().dataSync()[0]).toBe(0);
    // distinct seeds per layer: two same-shaped kernels must differ
    const t = seedTopologyInitializers({ a: { kernel_initializer: { class_name: "GlorotUniform", config: {} } }, b: { bias_initializer: { class_name: "Zeros", config: {} } } }, 5);
    expect(t.a.kernel_initializer.config.seed).toBe(5);
    expect(t.b.bias_initializer.config.seed).toBeUndefined();
  });
});

describe("trained model save/load", () => {
  it("writes browser-loadable TF.js files plus metadata", async () => {
    const m = buildSmallCnn({ numClasses: 2, seed: 2 });
    const dir = path.join(tmp, "trained");
    await saveTrainedModel(m, dir, { classes: ["ants", "bees"], preprocessing: "none", metrics: { val_acc: 0.9 } });
    expect(fs.readdirSync(dir).sort()).toEqual(["metadata.json", "model.json", "weights.bin"]);
    const { model, metadata } = await loadTrainedModel(dir);
    expect(metadata.classes).toEqual(["ants", "bees"]);
    expect(metadata.metrics).toEqual({ val_acc: 0.9 });
    expect(weightsEqual(m, model)).toBe(true);
    await expect(saveTrainedModel(m, dir, { classes: ["a", "b", "c"] })).rejects.toThrow(/2 outputs but metadata.classes lists 3/);
  });
});
