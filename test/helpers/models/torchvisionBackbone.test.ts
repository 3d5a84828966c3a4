// torchvision models as the chapters use them: loadBackbone("resnet…") from the converted cache, the source's layer
// groups (conv1, layer1..layer4, fc) for freezing and per-group learning rates, and layer names as torch module paths.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { adaptiveAvgPool2d, buildTorchvisionModel, expectedStateDictKeys, fileIOHandler, loadBackbone, loadLayersModelFromDir } from "../../../src/helpers/models";
import { addClassifierHead, backboneStages, freezeLayers, countParams, RESNET_STAGES } from "../../../src/helpers/transfer";
import { createGroupedOptimizer } from "../../../src/helpers/train";

let tmp: string;
const prevCache = process.env.TL_CACHE_DIR;
beforeAll(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-tvbb-"));
});
afterAll(() => {
  process.env.TL_CACHE_DIR = prevCache;
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("torchvision backbones", () => {
  it("loadBackbone('resnet18') reads the converted model beside the download and cuts it at layer4", async () => {
    process.env.TL_CACHE_DIR = tmp;
    const full = buildTorchvisionModel("resnet18", { seed: 3 });
    await full.save(fileIOHandler(path.join(tmp, "models", "torchvision", "resnet18-f37072fd_tfjs")));
    const { model, spec } = await loadBackbone("resnet18");
    expect(spec.family).toBe("torchvision");
    expect(spec.featureLayer).toBe("layer4.1.relu");
    expect(model.outputs[0].shape).toEqual([null, 7, 7, 512]);
    expect(spec.preprocessing).toEqual({ kind: "normalize", mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    // every layer up to layer4 carries the saved weights
    expect(model.layers.at(-1)!.name).toBe("layer4.1.relu");
    for (const l of model.layers) {
      const want = full.getLayer(l.name).getWeights();
      l.getWeights().forEach((w, i) => expect(tf.equal(w, want[i]).all().dataSync()[0], l.name).toBe(1));
    }
  });

  it("a model with the AdaptiveAvgPool2d layer saves and loads back through the helpers", async () => {
    const input = tf.input({ shape: [5, 3, 2] });
    const pooled = adaptiveAvgPool2d({ outputSize: [2, 4], name: "avgpool" }).apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 3, name: "fc" }).apply(tf.layers.flatten().apply(pooled)) as tf.SymbolicTensor;
    const m = tf.model({ inputs: input, outputs: out });
    await m.save(fileIOHandler(path.join(tmp, "adaptive")));
    const back = await loadLayersModelFromDir(path.join(tmp, "adaptive"));
    const x = tf.randomUniform([2, 5, 3, 2], 0, 1, "float32", 1);
    expect(Array.from((back.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((m.predict(x) as tf.Tensor).dataSync()));
    // rows 5 -> 2: bins [0,3) and [2,5); columns 3 -> 4: [0,1) [0,2) [1,3) [2,3)
    const p = (tf.model({ inputs: input, outputs: pooled }).predict(x) as tf.Tensor).arraySync() as number[][][][];
    const xs = x.arraySync() as number[][][][];
    const mean = (vals: number[]) => vals.reduce((a, b) => a + b, 0) / vals.length;
    expect(p[1][1][1][0]).toBeCloseTo(mean([2, 3, 4].flatMap((r) => [0, 1].map((c) => xs[1][r][c][0]))), 6);
  });

  it("names layers by torch module path and exposes the source's groups: conv1, layer1..layer4, fc", () => {
    const backbone = buildTorchvisionModel("resnet50", { includeTop: false, init: "zeros" });
    const keys = expectedStateDictKeys(backbone);
    expect(keys.slice(0, 6)).toEqual(["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "layer1.0.conv1.weight"]);
    expect(keys).toContain("layer4.2.conv3.weight");
    expect(keys).toContain("layer2.0.downsample.0.weight");
    // torchvision's resnet50 has 23,508,032 parameters without fc (25,557,032 - 2048*1000 - 1000)
    expect(countParams(backbone).total).toBe(23_508_032 + 2 * 26_560); // + BN running stats, which torch counts as buffers
    const model = addClassifierHead(backbone, { numClasses: 2, dropout: 0, name: "fc" });
    const stages = backboneStages({ family: "torchvision", name: "resnet50" });
    expect(stages.names).toEqual(RESNET_STAGES);
    const groups = stages.names.map((name, i) => ({ name, layers: { where: (l: tf.layers.Layer) => stages.of(l.name) === name }, lr: [1e-4, 1e-4, 5e-4, 1e-3, 1e-3, 1e-2][i] }));
    const opt = createGroupedOptimizer(model, groups, (lr) => tf.train.sgd(lr));
    const counts = Object.fromEntries(opt.groups.map((g) => [g.name, g.names.size]));
    // conv1: its kernel; layer1: 3 blocks x (3 conv + 3 BN x 2) + downsample conv + BN x 2 = 30; fc: kernel + bias
    expect(counts).toEqual({ conv1: 1, layer1: 30, layer2: 39, layer3: 57, layer4: 30, fc: 2 });
    // as in the source, bn1 is in no group
    const grouped = opt.groups.reduce((s, g) => s + g.names.size, 0);
    expect(model.trainableWeights.length - grouped).toBe(2);
    expect(opt.lrFor((model.getLayer("layer3.0.conv1").weights[0].read() as tf.Variable).name)).toBe(1e-3);
    opt.dispose();
    // freezing a group by prefix
    freezeLayers(model, { prefix: ["conv1", "bn1", "layer1", "layer2", "layer3", "layer4"] });
    expect(model.trainableWeights.map((w) => w.name)).toEqual(["fc_dense/kernel", "fc_dense/bias"]);
    model.dispose();
  });
});
