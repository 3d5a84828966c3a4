// Random-weight stand-ins of the full profile's MobileNets, in the layout their official URLs serve:
//   node tools/rehearsal/mobilenet.mjs v2 <mobilenet_v2_0.35 no-top model.json> <out dir>   (model.json + weights.bin)
//   node tools/rehearsal/mobilenet.mjs v1 <mobilenet_v1_0.75 model.json> <out dir>           (model.json + one shard per
//                                                                                             layer + metadata.json)
// Each topology from the pre-filled cache is widened to Keras's alpha-1.0 channel counts; layer names, the graph, the
// weight names and (for v1) the shard files and the class names stay the same.
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const tf = require("@tensorflow/tfjs");
const [family, topologyFile, outDir] = process.argv.slice(2);
if (!["v1", "v2"].includes(family) || !topologyFile || !outDir) {
  throw new Error("usage: node tools/rehearsal/mobilenet.mjs v1|v2 <model.json from the pre-filled cache> <out dir>");
}
const json = JSON.parse(fs.readFileSync(topologyFile, "utf8"));
tf.util.seedrandom?.("rehearsal");
fs.mkdirSync(outDir, { recursive: true });

/** Set each Conv2D's filters from `filters` (every Conv2D must be listed, so a changed topology fails loudly). */
function widen(layers, filters) {
  for (const l of layers) {
    if (l.class_name !== "Conv2D") continue;
    if (!(l.config.name in filters)) throw new Error(`unexpected Conv2D ${l.config.name} in ${topologyFile}`);
    l.config.filters = filters[l.config.name];
  }
}

if (family === "v2") {
  // Keras applications.MobileNetV2(alpha=1.0): stem 32, first block 16, then these projections; expansion 6.
  const projections = [24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320];
  const filters = { Conv1: 32, expanded_conv_project: 16, Conv_1: 1280 };
  let previous = 16;
  projections.forEach((f, i) => {
    filters[`block_${i + 1}_expand`] = 6 * previous;
    filters[`block_${i + 1}_project`] = f;
    previous = f;
  });
  widen(json.modelTopology.config.layers, filters);
  json.modelTopology.config.name = "mobilenetv2_1.00_224";
  const model = await tf.models.modelFromJSON({ modelTopology: json.modelTopology });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    fs.writeFileSync(path.join(outDir, "weights.bin"), Buffer.from(artifacts.weightData));
    const modelJson = {
      format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy ?? null,
      modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }],
    };
    fs.writeFileSync(path.join(outDir, "model.json"), JSON.stringify(modelJson));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  }));
  console.log(`[rehearsal] MobileNetV2 1.00 no-top, random weights: ${model.countParams().toLocaleString("en")} parameters -> ${outDir}`);
} else {
  // Keras applications.MobileNet(alpha=1.0): stem 32, then these pointwise widths; the classifier sees 1024 channels.
  const pointwise = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024];
  const filters = { conv1: 32, conv_preds: 1000 };
  pointwise.forEach((f, i) => (filters[`conv_pw_${i + 1}`] = f));
  const config = json.modelTopology.model_config.config;
  widen(config.layers, filters);
  const reshape = config.layers.find((l) => l.config.name === "reshape_1");
  if (!reshape) throw new Error(`no reshape_1 layer in ${topologyFile}`);
  reshape.config.target_shape = [1, 1, 1024];
  config.name = "mobilenet_1.00_224";
  const model = await tf.models.modelFromJSON({ modelTopology: json.modelTopology });
  // The official files hold one weight group (shard) per layer: keep their paths and weight names, with the new shapes.
  const byName = new Map(model.weights.map((w) => [w.originalName, w]));
  for (const group of json.weightsManifest) {
    const parts = group.weights.map((spec) => {
      const w = byName.get(spec.name);
      if (!w) throw new Error(`${topologyFile} lists weight ${spec.name}, which the widened model does not have`);
      spec.shape = w.shape;
      return Buffer.from(w.read().dataSync().buffer);
    });
    if (group.paths.length !== 1) throw new Error(`expected one shard per weight group in ${topologyFile}`);
    fs.writeFileSync(path.join(outDir, group.paths[0]), Buffer.concat(parts));
  }
  fs.writeFileSync(path.join(outDir, "model.json"), JSON.stringify(json));
  // The class names are the real ones (the topology's own metadata.json), so the top-5 tables have names to show.
  fs.copyFileSync(path.join(path.dirname(topologyFile), "metadata.json"), path.join(outDir, "metadata.json"));
  console.log(`[rehearsal] MobileNet v1 1.0 with its classifier, random weights: ${model.countParams().toLocaleString("en")} parameters, `
    + `${json.weightsManifest.length} shards -> ${outDir}`);
}
