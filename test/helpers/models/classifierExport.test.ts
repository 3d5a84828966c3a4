/** The exported-classifier pipeline reproduces the notebooks' evaluation transform, and bad input gets clear errors. */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as tl from "../../../src/helpers";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-export-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A deterministic 40x30 RGB test picture. */
function picture(w = 40, h = 30): tl.PixelImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + ((i / 3) | 0) * 11) % 256;
  return tl.makePixelImage(data, w, h, 3);
}

describe("applyClassifierPipeline", () => {
  it("equals evalPreprocessing + normalisation (the JS twin of the image streams' libvips eval crop, within a few levels)", () => {
    const img = picture();
    const x = tl.applyClassifierPipeline(img, tl.imagenetEvalPipeline(16, "imagenet"));
    const ref = tl.normalizeTransform("imagenet")(tl.evalPreprocessing(16)(img, new tl.Rng(0)), new tl.Rng(0));
    expect(x.shape).toEqual([1, 16, 16, 3]);
    expect(Array.from(x.dataSync())).toEqual(Array.from(ref.data));
    x.dispose();
  });

  it("upsamples like upsampleBatch and scales like a backbone's PreprocessingSpec", () => {
    const img = picture(8, 8);
    const steps: tl.ClassifierPipelineStep[] = [{ op: "centerCrop", size: 8 }, { op: "upsample", size: 20 }, tl.normalizationStep(tl.MOBILENET_PREPROCESSING)];
    const x = tl.applyClassifierPipeline(img, steps);
    const batch = tl.upsampleBatch(20)({ x: tf.tensor4d(Float32Array.from(img.data), [1, 8, 8, 3]), y: tf.zeros([1]) });
    const ref = tl.applyPreprocessing(batch.x, tl.MOBILENET_PREPROCESSING);
    const d = tf.max(tf.abs(tf.sub(x, ref))).dataSync()[0];
    expect(d).toBeLessThan(1e-6);
    tf.dispose([x, batch.x, batch.y, ref]);
  });

  it("refuses malformed pipelines with the step named", () => {
    expect(() => tl.checkClassifierPipeline([])).toThrow(/non-empty list/);
    expect(() => tl.checkClassifierPipeline([{ op: "blur", size: 3 }])).toThrow(/step 1 .*unknown op/);
    expect(() => tl.checkClassifierPipeline([{ op: "centerCrop", size: 0 }, { op: "normalize", spec: "unit" }])).toThrow(/step 1 .*positive integer/);
    expect(() => tl.checkClassifierPipeline([{ op: "centerCrop", size: 4 }])).toThrow(/end with a normalize or scale/);
    expect(() => tl.checkClassifierPipeline([{ op: "normalize", spec: "nope" }])).toThrow(/Unknown normalization/);
  });
});

describe("exportImageClassifier", () => {
  const backbone = () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input);
    return tf.model({ inputs: input, outputs: conv as tf.SymbolicTensor, name: "tiny" });
  };

  it("joins a backbone and a pooled-feature head into one model that computes head(pool(backbone(x)))", async () => {
    const b = backbone();
    const head = tl.buildHeadModel([4], { numClasses: 3, seed: 2 });
    const joined = tl.composeClassifier(b, head);
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 3);
    const ref = head.predict(tf.mean(b.predict(x) as tf.Tensor, [1, 2])) as tf.Tensor;
    const got = joined.predict(x) as tf.Tensor;
    expect(tf.max(tf.abs(tf.sub(got, ref))).dataSync()[0]).toBeLessThan(1e-6);
    const dir = path.join(tmp, "joined");
    await tl.exportImageClassifier(dir, { backbone: b, head }, {
      name: "tiny", classes: ["a", "b", "c"], pipeline: [{ op: "resizeShorter", size: 8 }, { op: "centerCrop", size: 8 }, { op: "normalize", spec: "unit" }],
    });
    const back = await tl.loadImageClassifier(dir);
    const again = back.model.predict(x) as tf.Tensor;
    expect(tf.max(tf.abs(tf.sub(again, ref))).dataSync()[0]).toBeLessThan(1e-6);
    expect(back.metadata).toMatchObject({ format: "tl-image-classifier/1", name: "tiny", inputSize: 8, classes: ["a", "b", "c"] });
  });

  it("refuses a head trained on other features, and a pipeline that ends at the wrong size", async () => {
    expect(() => tl.composeClassifier(backbone(), tl.buildHeadModel([5], { numClasses: 2, seed: 0 }))).toThrow(/head takes \[5\] but the backbone gives \[4\]/);
    const model = tl.composeClassifier(backbone(), tl.buildHeadModel([4], { numClasses: 2, seed: 0 }));
    await expect(tl.exportImageClassifier(path.join(tmp, "bad"), model, {
      name: "x", classes: ["a", "b"], pipeline: tl.imagenetEvalPipeline(16, "unit"),
    })).rejects.toThrow(/takes \[,8,8,3\] but the pipeline produces 16x16x3/);
    expect(fs.existsSync(path.join(tmp, "bad"))).toBe(false);
  });
});
