/**
 * File-system model I/O for the plain `@tensorflow/tfjs` package (tf.io.fileSystem only exists in
 * tfjs-node). Reads and writes the standard TF.js layers format (model.json + weight shards), so saved
 * models load unchanged in a browser with `tf.loadLayersModel(url)`.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";

/** Thrown when model files are inconsistent or unsupported; the message names the file and the fix. */
export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelFormatError";
  }
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2, uint16: 2, complex64: 8, string: 0 };

/** Bytes a weight entry occupies in its shard (quantized entries use the quantized dtype). */
function entryBytes(e: tf.io.WeightsManifestEntry): number {
  const n = e.shape.reduce((a, b) => a * b, 1);
  const dt = e.quantization ? e.quantization.dtype : e.dtype;
  const b = DTYPE_BYTES[dt];
  if (b === undefined || b === 0) throw new ModelFormatError(`Weight '${e.name}' has unsupported dtype '${dt}'.`);
  return n * b;
}

/** Layer class names used anywhere in a topology (nested models included). */
export function layerClassNames(topology: unknown): string[] {
  const out = new Set<string>();
  const walk = (node: any) => {
    if (!node || typeof node !== "object") return;
    const layers = node.config?.layers ?? (Array.isArray(node.config) ? node.config : undefined);
    if (Array.isArray(layers)) {
      for (const l of layers) {
        if (l && typeof l.class_name === "string") out.add(l.class_name);
        walk(l);
      }
    }
  };
  walk(topology);
  return [...out];
}

/** Throw a clear error when the topology uses layer classes tfjs does not know (we never load code from model files). */
export function assertKnownLayerClasses(topology: unknown, source: string): void {
  const known = tf.serialization.SerializationMap.getMap().classNameMap as Record<string, unknown>;
  const unknown = layerClassNames(topology).filter((c) => !(c in known));
  if (unknown.length) {
    throw new ModelFormatError(
      `${source} uses layer class(es) ${unknown.map((c) => `'${c}'`).join(", ")} that TF.js does not provide. ` +
        `Custom layers are never loaded from model files; implement the class and register it with ` +
        `tf.serialization.registerClass(...) before loading, or export the model with built-in layers only.`,
    );
  }
}

/** Read model.json and its weight files from disk, checking that weight byte sizes match the manifest shapes. */
export function readModelArtifacts(modelJsonPath: string): tf.io.ModelArtifacts {
  if (!fs.existsSync(modelJsonPath)) throw new ModelFormatError(`Model file not found: ${modelJsonPath}`);
  let json: any;
  try {
    json = JSON.parse(fs.readFileSync(modelJsonPath, "utf8"));
  } catch (e) {
    throw new ModelFormatError(`${modelJsonPath} is not valid JSON (${(e as Error).message}); delete it so it is downloaded again.`);
  }
  if (!json.modelTopology) throw new ModelFormatError(`${modelJsonPath} has no modelTopology: is it a TF.js layers model (not a graph model)?`);
  assertKnownLayerClasses(json.modelTopology, modelJsonPath);
  const dir = path.dirname(modelJsonPath);
  const manifest: tf.io.WeightsManifestConfig = json.weightsManifest ?? [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of manifest) {
    const expected = group.weights.reduce((s, e) => s + entryBytes(e), 0);
    let actual = 0;
    const parts: Buffer[] = [];
    for (const p of group.paths) {
      const f = path.join(dir, p);
      if (!fs.existsSync(f)) throw new ModelFormatError(`Weight file '${p}' named in ${modelJsonPath} is missing from ${dir}.`);
      const b = fs.readFileSync(f);
      actual += b.length;
      parts.push(b);
    }
    if (actual !== expected) {
      throw new ModelFormatError(
        `Weight files ${group.paths.join(", ")} hold ${actual} bytes but ${modelJsonPath} declares shapes totalling ${expected} bytes ` +
          `(truncated download or files from another model). Delete ${dir} and load again.`,
      );
    }
    specs.push(...group.weights);
    buffers.push(...parts);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    trainingConfig: json.trainingConfig,
    userDefinedMetadata: json.userDefinedMetadata,
    weightSpecs: specs,
    weightData,
  };
}

/** Write artifacts as `model.json` + `weights.bin` into `dir` (atomically per file). */
export function writeModelArtifacts(dir: string, artifacts: tf.io.ModelArtifacts): tf.io.SaveResult {
  fs.mkdirSync(dir, { recursive: true });
  const wd = artifacts.weightData;
  const bytes = wd == null ? Buffer.alloc(0) : Buffer.from(Array.isArray(wd) ? Buffer.concat(wd.map((b) => Buffer.from(b))) : Buffer.from(wd as ArrayBuffer));
  const modelJson = {
    format: artifacts.format ?? "layers-model",
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs ?? [] }],
    ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
    ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
  };
  atomicWrite(path.join(dir, "weights.bin"), bytes);
  atomicWrite(path.join(dir, "model.json"), Buffer.from(JSON.stringify(modelJson)));
  return {
    modelArtifactsInfo: {
      dateSaved: new Date(),
      modelTopologyType: "JSON",
      modelTopologyBytes: JSON.stringify(artifacts.modelTopology ?? {}).length,
      weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
      weightDataBytes: bytes.length,
    },
  };
}

export function atomicWrite(file: string, data: Buffer | string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * A tf.io.IOHandler over a local folder: `tf.loadLayersModel(fileIOHandler("dir/model.json"))` and
 * `model.save(fileIOHandler("dir"))`. For load, pass the model.json path; for save, a directory.
 */
export function fileIOHandler(target: string): tf.io.IOHandler {
  return {
    load: async () => readModelArtifacts(target.endsWith(".json") ? target : path.join(target, "model.json")),
    save: async (artifacts: tf.io.ModelArtifacts) => writeModelArtifacts(target.endsWith(".json") ? path.dirname(target) : target, artifacts),
  };
}

/** Load a TF.js layers model from a local model.json (or its folder). */
export async function loadLayersModelFromDir(target: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileIOHandler(target));
}
