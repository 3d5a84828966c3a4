/**
 * torchvision's official ImageNet weights: download the `.pth` into the cache (<cache>/models/torchvision/),
 * check the SHA-256 prefix torchvision puts in every file name, convert it once onto the TF.js architecture and keep
 * the result beside the download as a TF.js layers model (`<file stem>_tfjs/model.json`), which later loads directly.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";
import { modelDir } from "../../fetch/cache";
import { DownloadError, downloadManifest, ensureDownloaded, hashFile, registerKnownDownload } from "../../fetch";
import { fileIOHandler, loadLayersModelFromDir } from "../io";
import { readPth } from "../pth/read";
import { TorchvisionArch, buildTorchvisionModel, torchvisionFeatureLayer } from "./architectures";
import { loadTorchStateDict } from "./stateDict";

export const TORCHVISION_BASE_URL = "https://download.pytorch.org/models/";
registerKnownDownload({ url: TORCHVISION_BASE_URL, name: "torchvision pretrained weights" });

/** ImageNet channel statistics on [0, 1] RGB, torchvision's `Normalize(mean, std)` for every model below. */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

export interface TorchvisionWeights {
  arch: TorchvisionArch;
  /** File name on download.pytorch.org/models/; the part after the last "-" is the first hex digits of its SHA-256. */
  file: string;
  /** Top-1 ImageNet accuracy torchvision reports for these weights (for the learner's orientation). */
  imagenetTop1: number;
}

/** The official weight files (torchvision's IMAGENET1K_V1 entries, as in its models/*.py). */
export const TORCHVISION_WEIGHTS: Readonly<Record<string, TorchvisionWeights>> = {
  resnet18: { arch: "resnet18", file: "resnet18-f37072fd.pth", imagenetTop1: 69.758 },
  resnet34: { arch: "resnet34", file: "resnet34-b627a593.pth", imagenetTop1: 73.314 },
  resnet50: { arch: "resnet50", file: "resnet50-0676ba61.pth", imagenetTop1: 76.13 },
  alexnet: { arch: "alexnet", file: "alexnet-owt-7be5be79.pth", imagenetTop1: 56.522 },
  vgg16: { arch: "vgg16", file: "vgg16-397923af.pth", imagenetTop1: 71.592 },
  vgg19: { arch: "vgg19", file: "vgg19-dcbb9e9d.pth", imagenetTop1: 72.376 },
  vgg16_bn: { arch: "vgg16_bn", file: "vgg16_bn-6c64b313.pth", imagenetTop1: 73.36 },
  vgg19_bn: { arch: "vgg19_bn", file: "vgg19_bn-c79401a0.pth", imagenetTop1: 74.218 },
};

/**
 * Add or replace a weights entry, e.g. a rehearsal's random-weight file named `<arch>-<its own SHA-256 prefix>.pth`
 * on a mirror (pass the mirror as `baseUrl` when loading). Returns the previous entry, if any, to restore it.
 */
export function registerTorchvisionWeights(name: string, weights: TorchvisionWeights): TorchvisionWeights | undefined {
  sha256PrefixOf(weights.file);
  const table = TORCHVISION_WEIGHTS as Record<string, TorchvisionWeights>;
  const prev = table[name];
  table[name] = weights;
  return prev;
}

/** The SHA-256 prefix encoded in a torchvision file name (`resnet50-0676ba61.pth` -> "0676ba61"). */
export function sha256PrefixOf(file: string): string {
  const m = /-([0-9a-f]{6,64})\.pth$/.exec(file);
  if (!m) throw new Error(`'${file}' carries no SHA-256 prefix (expected <name>-<hex>.pth as torchvision names its files).`);
  return m[1];
}

/** Throw (and delete the file) unless its SHA-256 starts with the prefix in its name, as torch.hub's check_hash does. */
export async function verifySha256Prefix(file: string, url: string): Promise<void> {
  const want = sha256PrefixOf(path.basename(file));
  const got = await hashFile(file, "sha256");
  if (!got.startsWith(want)) {
    fs.rmSync(file, { force: true });
    throw new DownloadError(
      "checksum",
      url,
      `${path.basename(file)}: SHA-256 ${got} does not start with ${want} as its name says (corrupted or substituted download); the file was deleted, load again.`,
    );
  }
}

export interface LoadTorchvisionOptions {
  /** Download from here instead of download.pytorch.org (a mirror; tests use a loopback server). */
  baseUrl?: string;
  /** Input shape of the built model (default [224, 224, 3]). */
  inputShape?: [number, number, 3];
}

/** Download (if needed), verify, convert (once) and load an official torchvision model, with its ImageNet classifier. */
export async function loadTorchvisionPretrained(name: string, opts: LoadTorchvisionOptions = {}): Promise<tf.LayersModel> {
  const registered = TORCHVISION_WEIGHTS[name];
  if (!registered) throw new Error(`No torchvision weights named '${name}'. Known: ${Object.keys(TORCHVISION_WEIGHTS).join(", ")}.`);
  // A manifest (TL_DOWNLOAD_MANIFEST) may name a stand-in file, under its own SHA-256 prefix, for these weights.
  const standIn = downloadManifest()?.torchvisionWeights[name];
  const w = standIn ? { ...registered, file: standIn } : registered;
  const dir = modelDir("torchvision");
  const size = opts.inputShape ?? [224, 224, 3];
  const converted = path.join(dir, `${w.file.replace(/\.pth$/, "")}_tfjs${size[0] === 224 && size[1] === 224 ? "" : `_${size[0]}x${size[1]}`}`);
  if (fs.existsSync(path.join(converted, "model.json"))) return loadLayersModelFromDir(converted);
  const url = new URL(w.file, opts.baseUrl ?? TORCHVISION_BASE_URL).toString();
  const file = path.join(dir, w.file);
  await ensureDownloaded(url, file, { name: `${name} weights (torchvision)`, explicitUrl: opts.baseUrl !== undefined, allowInsecure: opts.baseUrl?.startsWith("http://127.0.0.1") });
  await verifySha256Prefix(file, url);
  const model = buildTorchvisionModel(w.arch, { inputShape: size, init: "zeros" });
  const sd = await readPth(file);
  loadTorchStateDict(model, sd);
  sd.clear();
  await model.save(fileIOHandler(converted));
  return model;
}

/** The feature layer of a zoo name (what loadBackbone cuts at). */
export function torchvisionFeatureLayerOf(name: string): string {
  const w = TORCHVISION_WEIGHTS[name];
  if (!w) throw new Error(`No torchvision weights named '${name}'. Known: ${Object.keys(TORCHVISION_WEIGHTS).join(", ")}.`);
  return torchvisionFeatureLayer(w.arch);
}
