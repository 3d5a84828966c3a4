/** Helpers the chapters 1, 3, 4 and 5 share: image views, class counts, the ImageNet classifier, the data adapter, the learning-curve chart. */
process.env.TL_CACHE_DIR ??= require("node:path").resolve(__dirname, "../../../../shared/cache");
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { arrayImage, hymenoptera, type ArrayDataset } from "../../../src/helpers/sets";
import { imageSamplesStream } from "../../../src/helpers/pipeline";
import { classCountRows, predictScores } from "../../../src/helpers/eval";
import {
  backboneSpec, loadImageNetClassifier, publishedImageNetTop1, PUBLISHED_IMAGENET_TOP1, readClassLabels, shortImageNetName, topKClasses,
} from "../../../src/helpers/models";
import { arrayClassificationData, timeBackbonePass } from "../../../src/helpers/transfer";
import { TORCHVISION_WEIGHTS } from "../../../src/helpers/models";
import { arrayStream } from "../../../src/helpers/pipeline/streams";
import { plotLearningCurve } from "../../../src/helpers/plot";
import { MOBILENET_PREPROCESSING } from "../../../src/helpers/models/zoo";

let tmp: string;
const savedBuild = process.env.TL_BUILD_DIR;
beforeAll(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-chapter-helpers-"));
  process.env.TL_BUILD_DIR = tmp; // the adapter's feature cache goes under buildDir()
});
afterAll(() => {
  if (savedBuild === undefined) delete process.env.TL_BUILD_DIR;
  else process.env.TL_BUILD_DIR = savedBuild;
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** n images of 4x4x3 whose every byte is the image index, labels i % classes. */
function tinyDataset(n: number, classes = ["a", "b"]): ArrayDataset {
  const images = new Uint8Array(n * 48);
  for (let i = 0; i < n; i++) images.fill(i, i * 48, (i + 1) * 48);
  return { images, labels: Int32Array.from({ length: n }, (_, i) => i % classes.length), classes, imageShape: [4, 4, 3], count: n };
}

describe("arrayImage", () => {
  it("is a view of exactly image i with its shape", () => {
    const d = tinyDataset(5);
    const img = arrayImage(d, 3);
    expect([img.width, img.height, img.channels]).toEqual([4, 4, 3]);
    expect(img.data.length).toBe(48);
    expect(new Set(img.data)).toEqual(new Set([3]));
    expect(img.data.buffer).toBe(d.images.buffer);
  });
  it("refuses an index outside the dataset and names the valid range", () => {
    expect(() => arrayImage(tinyDataset(5), 5)).toThrow(/index 5 is out of range; the dataset has 5 images \(0 to 4\)/);
    expect(() => arrayImage(tinyDataset(5), 1.5)).toThrow(/out of range/);
  });
});

describe("classCountRows", () => {
  it("counts labels per class for index arrays and labelled samples, one row per split", () => {
    const rows = classCountRows(["ants", "bees"], { train: [0, 1, 1, 0, 1], val: [{ label: 1 }, { label: 1 }] });
    expect(rows).toEqual([{ split: "train", ants: 2, bees: 3, total: 5 }, { split: "val", ants: 0, bees: 2, total: 2 }]);
  });
  it("rejects a label the class names do not cover, saying which split and item", () => {
    expect(() => classCountRows(["a", "b"], { test: Int32Array.from([0, 2]) })).toThrow(/split 'test' item 1 has label 2, but there are 2 classes/);
    expect(() => classCountRows([], { x: [] })).toThrow(/no class names/);
  });
});

describe("topKClasses and ImageNet names", () => {
  it("returns the k best classes in order, ties by index", () => {
    const top = topKClasses([0.1, 0.5, 0.1, 0.3], ["w", "x", "y", "z"], 3);
    expect(top.map((t) => t.label)).toEqual(["x", "z", "w"]);
    expect(top[0].probability).toBe(0.5);
    expect(() => topKClasses([1, 2], ["a"], 1)).toThrow(/2 scores but 1 labels/);
    expect(() => topKClasses([1], ["a"], 0)).toThrow(/positive integer/);
  });
  it("shortens a synonym list to its first name", () => {
    expect(shortImageNetName("ant, emmet, pismire")).toBe("ant");
    expect(shortImageNetName("bee")).toBe("bee");
  });
  it("refuses a metadata file whose labels do not match the model's outputs", () => {
    const f = path.join(tmp, "metadata.json");
    fs.writeFileSync(f, JSON.stringify({ labels: ["a", "b"] }));
    expect(() => readClassLabels(f, 3)).toThrow(/must hold "labels": 3 strings .* found 2 entries/);
    fs.writeFileSync(f, "{not json");
    expect(() => readClassLabels(f, 3)).toThrow(/not readable JSON/);
  });
  it("publishes an ImageNet top-1 for zoo names only, v1 0.75 above v2 0.35", () => {
    for (const name of Object.keys(PUBLISHED_IMAGENET_TOP1)) expect(backboneSpec(name).name).toBe(name);
    expect(publishedImageNetTop1("mobilenet_v1_0.75")!.top1).toBeGreaterThan(publishedImageNetTop1("mobilenet_v2_0.35")!.top1);
    expect(publishedImageNetTop1("my_resnet")).toBeUndefined();
    // every torchvision file the zoo knows has its published figure (chapter 4's full-profile table shows them)
    for (const name of Object.keys(TORCHVISION_WEIGHTS)) expect(publishedImageNetTop1(name)?.top1, name).toBeGreaterThan(0.5);
  });
});

describe("loadImageNetClassifier", () => {
  it("loads MobileNet v1 with its 1000 ImageNet classes and recognises a bee from the cache's hymenoptera photos", async () => {
    const c = await loadImageNetClassifier("mobilenet_v1_0.75");
    expect(c.model.outputs[0].shape).toEqual([null, 1000]);
    expect(c.labels).toHaveLength(1000);
    expect(shortImageNetName(c.labels[309])).toBe("bee");
    expect(shortImageNetName(c.labels[310])).toBe("ant");
    const data = await hymenoptera();
    const bees = data.val.samples.filter((s) => data.classes[s.label] === "bees").slice(0, 2);
    const { scores } = await predictScores(c.model, imageSamplesStream(bees, { batchSize: 2, mode: "eval", size: 224 }));
    expect(scores.map((s) => topKClasses(s, c.labels, 5).some((t) => shortImageNetName(t.label) === "bee"))).toContain(true);
    c.model.dispose();
  }, 120_000);
  it("refuses a zoo model stored without its classifier", async () => {
    const cache = path.join(tmp, "cache");
    const src = path.join(process.env.TL_CACHE_DIR!, "models", "mobilenet_v2_0.35_224_no_top");
    const dst = path.join(cache, "models", "mobilenet_v2_0.35_224_no_top");
    fs.mkdirSync(dst, { recursive: true });
    for (const f of ["model.json", "weights.bin"]) fs.copyFileSync(path.join(src, f), path.join(dst, f));
    fs.writeFileSync(path.join(dst, "metadata.json"), JSON.stringify({ labels: [] }));
    const saved = process.env.TL_CACHE_DIR;
    process.env.TL_CACHE_DIR = cache;
    try {
      await expect(loadImageNetClassifier("mobilenet_v2_0.35")).rejects.toThrow(/not a 1000-class ImageNet classifier/);
    } finally {
      process.env.TL_CACHE_DIR = saved;
    }
  }, 60_000);
});

describe("arrayClassificationData", () => {
  // A tiny frozen "backbone": 8x8 input, one conv, so features are cheap and deterministic.
  const backbone = () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const out = tf.layers.conv2d({ filters: 2, kernelSize: 3, kernelInitializer: tf.initializers.constant({ value: 0.01 }) }).apply(input) as tf.SymbolicTensor;
    return { model: tf.model({ inputs: input, outputs: out }), name: "tiny", preprocessing: MOBILENET_PREPROCESSING };
  };

  it("gives labels, images, cached features per split and a measured speed", async () => {
    const data = arrayClassificationData("tiny set", tinyDataset(10), tinyDataset(6));
    expect(Array.from(data.testLabels)).toEqual([0, 1, 0, 1, 0, 1]);
    expect(new Set((await data.image("test", 4)).data)).toEqual(new Set([4]));
    const bb = backbone();
    const first = await data.features("train", bb);
    expect(first.numSamples).toBe(10);
    expect(first.featureShape).toEqual([2]);
    expect(first.fromCache).toBe(false);
    const again = await data.features("train", bb);
    expect(again.fromCache).toBe(true);
    expect(Array.from(again.features)).toEqual(Array.from(first.features));
    expect((await data.features("test", bb)).numSamples).toBe(6);
    const speed = await data.extractionSpeed(bb, 10);
    expect(Number.isFinite(speed) && speed > 0).toBe(true);
    await expect(data.extractionSpeed(bb, 11)).rejects.toThrow(/n must be an integer from 2 to 10/);
  });

  it("refuses train and test splits with different classes", () => {
    expect(() => arrayClassificationData("x", tinyDataset(4, ["a", "b"]), tinyDataset(4, ["a", "c"]))).toThrow(/different classes/);
  });

  it("times at least two batches (the first is a warm-up)", async () => {
    const d = tinyDataset(4);
    const one = arrayStream({ images: d.images, imageShape: d.imageShape, labels: d.labels, batchSize: 8, normalize: "none" });
    const input = tf.input({ shape: [4, 4, 3] });
    const m = tf.model({ inputs: input, outputs: tf.layers.flatten().apply(input) as tf.SymbolicTensor });
    await expect(timeBackbonePass(m, one, "none")).rejects.toThrow(/has 1 batch\(es\); give it at least two/);
  });
});

describe("plotLearningCurve", () => {
  it("draws one line per method over a log x axis, with the accuracies printed", async () => {
    const c = await plotLearningCurve(
      [10, 100, 1000].flatMap((n, i) => [{ samples: n, method: "scratch", accuracy: 0.2 + 0.2 * i }, { samples: n, method: "features", accuracy: 0.5 + 0.1 * i }]),
      { format: "svg", title: "Curve" },
    );
    expect((c.spec as any).layer[0].encoding.x.scale.type).toBe("log");
    const texts = [...c.svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    for (const s of ["Curve", "scratch", "features", "20%", "60%", "70%"]) expect(texts).toContain(s);
  });
  it("rejects points a log axis or a percentage cannot show", () => {
    expect(() => plotLearningCurve([])).toThrow(/no points/);
    expect(() => plotLearningCurve([{ samples: 0, method: "m", accuracy: 0.5 }])).toThrow(/samples > 0/);
    expect(() => plotLearningCurve([{ samples: 10, method: "m", accuracy: 1.5 }])).toThrow(/accuracy in \[0, 1\]/);
  });
});
