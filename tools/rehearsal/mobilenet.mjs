// MobileNetV2 alpha 1.0 without top, random weights, in the layout the official URL serves (model.json + weights.bin):
//   node tools/rehearsal/mobilenet.mjs <mobilenet_v2_0.35 no-top model.json> <out dir>
// The 0.35 topology is widened to Keras's alpha-1.0 channel counts; the layer names and graph stay the same.
import * as fs from "node:fs";
import * as path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const tf = require("@tensorflow/tfjs");
const [topologyFile, outDir] = process.argv.slice(2);
if (!topologyFile || !outDir) throw new Error("usage: node tools/rehearsal/mobilenet.mjs <model.json of mobilenet_v2_0.35 no-top> <out dir>");

const json = JSON.parse(fs.readFileSync(topologyFile, "utf8"));
// Keras applications.MobileNetV2(alpha=1.0): stem 32, first block 16, then these projections; expansion 6.
const projections = [24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320];
const filters = { Conv1: 32, expanded_conv_project: 16, Conv_1: 1280 };
let previous = 16;
projections.forEach((f, i) => {
  filters[`block_${i + 1}_expand`] = 6 * previous;
  filters[`block_${i + 1}_project`] = f;
  previous = f;
});
const layers = json.modelTopology.config.layers;
for (const l of layers) {
  if (l.class_name === "Conv2D") {
    if (!(l.config.name in filters)) throw new Error(`unexpected Conv2D ${l.config.name} in ${topologyFile}`);
    l.config.filters = filters[l.config.name];
  }
}
json.modelTopology.config.name = "mobilenetv2_1.00_224";
tf.util.seedrandom?.("rehearsal");
const model = await tf.models.modelFromJSON({ modelTopology: json.modelTopology });
await model.save(tf.io.withSaveHandler(async (artifacts) => {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "weights.bin"), Buffer.from(artifacts.weightData));
  const modelJson = {
    format: json.format, generatedBy: json.generatedBy, convertedBy: json.convertedBy ?? null,
    modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }],
  };
  fs.writeFileSync(path.join(outDir, "model.json"), JSON.stringify(modelJson));
  return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
}));
console.log(`[rehearsal] MobileNetV2 1.00 no-top, random weights: ${model.countParams().toLocaleString("en")} parameters -> ${outDir}`);
