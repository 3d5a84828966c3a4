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

/** `p` (a manifest path) resolved inside `dir`, or a ModelFormatError: weight files never come from outside the model folder. */
function weightPathInside(dir: string, p: unknown, modelJsonPath: string): string {
  if (typeof p !== "string" || p === "") {
    throw new ModelFormatError(`${modelJsonPath} names a weight file ${JSON.stringify(p)} that is not a file name; the file is damaged. Delete ${dir} and load again.`);
  }
  const f = path.resolve(dir, p);
  const rel = path.relative(path.resolve(dir), f);
  const outside = (r: string) => r === "" || r === ".." || r.startsWith(`..${path.sep}`) || path.isAbsolute(r);
  if (path.isAbsolute(p) || outside(rel)) {
    throw new ModelFormatError(`${modelJsonPath} names weight file '${p}', which is outside its folder ${dir}; refusing to read it. Use a model.json whose weight paths are plain names in its own folder.`);
  }
  // A symlink inside the folder that points elsewhere leaves the folder too.
  if (fs.existsSync(f)) {
    const realRel = path.relative(fs.realpathSync(dir), fs.realpathSync(f));
    if (outside(realRel)) {
      throw new ModelFormatError(`${modelJsonPath} names weight file '${p}', a link that leads outside ${dir}; refusing to read it. Replace the link with the file itself.`);
    }
  }
  return f;
}

/** Read model.json and its weight files from disk, checking that weight byte sizes match the manifest shapes. */
export function readModelArtifacts(modelJsonPath: string): tf.io.ModelArtifacts {
  if (!fs.existsSync(modelJsonPath)) throw new ModelFormatError(`Model file not found: ${modelJsonPath}`);
  if (!fs.statSync(modelJsonPath).isFile()) throw new ModelFormatError(`${modelJsonPath} is a folder, not a model.json file; pass the path of the model.json inside it.`);
  let json: any;
  try {
    json = JSON.parse(fs.readFileSync(modelJsonPath, "utf8"));
  } catch (e) {
    throw new ModelFormatError(`${modelJsonPath} is not valid JSON (${(e as Error).message}); delete it so it is downloaded again.`);
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new ModelFormatError(`${modelJsonPath} holds ${JSON.stringify(json)?.slice(0, 40)}, not a TF.js model description; delete it so it is downloaded again.`);
  }
  if (!json.modelTopology) throw new ModelFormatError(`${modelJsonPath} has no modelTopology: is it a TF.js layers model (not a graph model)?`);
  assertKnownLayerClasses(json.modelTopology, modelJsonPath);
  const dir = path.dirname(modelJsonPath);
  const manifest = json.weightsManifest as tf.io.WeightsManifestConfig;
  const damaged = (what: string) =>
    new ModelFormatError(`${modelJsonPath}: ${what}, so its weights cannot be read; the file is damaged or not a TF.js layers model. Delete ${dir} and load again.`);
  if (!Array.isArray(manifest)) throw damaged(`weightsManifest is ${JSON.stringify(manifest) ?? "missing"} instead of a list of weight groups`);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const [gi, group] of manifest.entries()) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw damaged(`weight group ${gi} lacks its 'paths' or 'weights' list`);
    for (const e of group.weights) {
      if (!e || typeof e.name !== "string" || !Array.isArray(e.shape) || !e.shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0)) {
        throw damaged(`weight entry ${JSON.stringify(e)?.slice(0, 80)} in group ${gi} has no valid name and shape`);
      }
    }
    const expected = group.weights.reduce((s, e) => s + entryBytes(e), 0);
    let actual = 0;
    const parts: Buffer[] = [];
    for (const p of group.paths) {
      const f = weightPathInside(dir, p, modelJsonPath);
      if (!fs.existsSync(f)) throw new ModelFormatError(`Weight file '${p}' named in ${modelJsonPath} is missing from ${dir}.`);
      if (!fs.statSync(f).isFile()) throw new ModelFormatError(`${f} (named in ${modelJsonPath}) is not a regular file; delete it and load again so the weight file is written (or downloaded) anew.`);
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
  const bad = firstNonFinite(specs, weightData);
  if (bad) {
    throw new ModelFormatError(`Weight '${bad}' in the files of ${modelJsonPath} holds NaN or infinite values; the weight files are damaged. Delete ${dir} and load again.`);
  }
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

/** Name of the first unquantized float32 weight holding a NaN or infinity (no trained model ships one), else undefined. */
function firstNonFinite(specs: tf.io.WeightsManifestEntry[], data: ArrayBuffer): string | undefined {
  let offset = 0;
  for (const e of specs) {
    const bytes = entryBytes(e);
    if (e.dtype === "float32" && !e.quantization && offset % 4 === 0) {
      const v = new Float32Array(data, offset, bytes / 4);
      for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return e.name;
    }
    offset += bytes;
  }
  return undefined;
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
  const modelJson = target.endsWith(".json") ? target : path.join(target, "model.json");
  try {
    return await tf.loadLayersModel(fileIOHandler(target));
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    // tfjs's own messages ("Shape mismatch", "... has no target variable") name neither the file nor the fix.
    throw new ModelFormatError(
      `${modelJson} does not match its weight files: ${(e as Error).message.split("\n")[0]}. The model.json and weights come from ` +
        `different models or are damaged; delete ${path.dirname(modelJson)} and load again (or re-save the model).`,
    );
  }
}
