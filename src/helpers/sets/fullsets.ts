/**
 * The full-profile datasets: Stanford Dogs (120 breeds, single-label) and Pascal VOC 2007
 * classification (20 classes, multi-label). Both are large downloads (0.8 GB / 0.9 GB); loaders read
 * file lists only and never decode images eagerly.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { datasetDir } from "../fetch/cache";
import { ensureExtracted, type EnsureDatasetOptions } from "../fetch/ensure";
import { compareCodePoints, type ImageSample } from "./imagefolder";
import { matNumbers, matStrings, parseMat } from "./mat";

// ---------------------------------------------------------------- Stanford Dogs

export const STANFORD_DOGS_IMAGES_URL = "http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar";
export const STANFORD_DOGS_LISTS_URL = "http://vision.stanford.edu/aditya86/ImageNetDogs/lists.tar";

export interface StanfordDogsOptions extends EnsureDatasetOptions {
  split?: "train" | "test";
  /** Folder holding `Images/<wnid>-<breed>/` and `lists/` (default `<cache>/datasets/stanford-dogs`, downloaded if missing). */
  root?: string;
}

export interface StanfordDogsDataset {
  root: string;
  /** Breed names ("Chihuahua", "Japanese_spaniel", ...), in label order (sorted folder names). */
  classes: string[];
  /** The folder names ("n02085620-Chihuahua", ...), same order. */
  folders: string[];
  samples: ImageSample[];
}

/**
 * Read a Stanford Dogs split list: `lists/<split>_list.mat` (file_list cell array + 1-based labels),
 * or `lists/<split>_list.txt` (one "<folder>/<file>.jpg" per line). Returns relative paths and 0-based labels
 * (labels are undefined for the txt variant; they come from the folder).
 */
export function readStanfordDogsList(listsDir: string, split: "train" | "test"): { files: string[]; labels?: number[] } {
  const mat = path.join(listsDir, `${split}_list.mat`);
  const txt = path.join(listsDir, `${split}_list.txt`);
  if (fs.existsSync(mat)) {
    const vars = parseMat(fs.readFileSync(mat), mat);
    const files = matStrings(vars, "file_list", mat);
    const labels = vars.labels ? matNumbers(vars, "labels", mat).map((l) => l - 1) : undefined;
    if (labels && labels.length !== files.length) throw new Error(`${mat}: ${files.length} files but ${labels.length} labels.`);
    return { files, labels };
  }
  if (fs.existsSync(txt)) {
    const files = fs.readFileSync(txt, "utf8").split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    return { files };
  }
  throw new Error(`Stanford Dogs list for '${split}' not found: expected ${mat} or ${txt} (from ${STANFORD_DOGS_LISTS_URL}).`);
}

/** Stanford Dogs with the official train/test lists (12,000 / 8,580 images, 120 breeds). */
export async function loadStanfordDogs(opts: StanfordDogsOptions = {}): Promise<StanfordDogsDataset> {
  const split = opts.split ?? "train";
  let root = opts.root;
  if (!root) {
    root = datasetDir("stanford-dogs");
    await ensureExtracted("Stanford Dogs images", path.join(root, "Images"),
      { url: STANFORD_DOGS_IMAGES_URL, file: "stanford-dogs-images.tar", subdir: "Images" },
      (d) => fs.existsSync(d) && fs.readdirSync(d).length > 0, opts);
    await ensureExtracted("Stanford Dogs lists", path.join(root, "lists"),
      { url: STANFORD_DOGS_LISTS_URL, file: "stanford-dogs-lists.tar" },
      (d) => fs.existsSync(path.join(d, "train_list.mat")) || fs.existsSync(path.join(d, "train_list.txt")), opts);
  }
  const imagesDir = path.join(root, "Images");
  if (!fs.existsSync(imagesDir)) throw new Error(`Stanford Dogs: ${imagesDir} is missing; extract images.tar (${STANFORD_DOGS_IMAGES_URL}) into ${root}.`);
  const folders = fs.readdirSync(imagesDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith("."))
    .map((d) => d.name)
    .sort(compareCodePoints);
  const index = new Map(folders.map((f, i) => [f, i]));
  const { files, labels } = readStanfordDogsList(path.join(root, "lists"), split);
  const samples: ImageSample[] = files.map((rel, i) => {
    const folder = rel.split(/[\\/]/)[0]!;
    const label = index.get(folder);
    if (label === undefined) throw new Error(`Stanford Dogs ${split} list names ${rel}, but ${imagesDir}/${folder} does not exist; the images and lists do not match.`);
    if (labels && labels[i] !== label) {
      throw new Error(`Stanford Dogs ${split} list gives ${rel} label ${labels[i]! + 1}, but its folder is class ${label + 1} of the sorted folders; the lists and images are from different versions.`);
    }
    return { path: path.join(imagesDir, rel), label };
  });
  const missing = samples.filter((s) => !fs.existsSync(s.path));
  if (missing.length) {
    throw new Error(`Stanford Dogs: ${missing.length} listed image(s) missing, e.g. ${missing[0]!.path}; re-extract images.tar.`);
  }
  const classes = folders.map((f) => f.replace(/^n\d+-/, ""));
  return { root, classes, folders, samples };
}

// ---------------------------------------------------------------- Pascal VOC 2007

export const VOC2007_TRAINVAL_URL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar";
export const VOC2007_TEST_URL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar";
export const VOC_CLASSES: readonly string[] = [
  "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
  "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
];

export interface VocSample {
  path: string;
  /** Image id, e.g. "000005". */
  id: string;
  /** Multi-hot, length 20: 1 where the class is present (flag 1 in ImageSets/Main; also 0 when difficultAsPositive). */
  labels: number[];
  /** Multi-hot, length 20: 1 where the class appears only as "difficult" objects (flag 0). */
  difficult: number[];
}

export interface VocDataset {
  root: string;
  classes: string[];
  samples: VocSample[];
}

export interface Voc2007Options extends EnsureDatasetOptions {
  split?: "train" | "val" | "trainval" | "test";
  /**
   * A VOC2007 folder (holding JPEGImages/ and ImageSets/Main/). Default: `<cache>/datasets/voc2007/trainval`
   * for train/val/trainval and `<cache>/datasets/voc2007/test` for test (each tar extracted separately,
   * since both unpack to VOCdevkit/VOC2007).
   */
  root?: string;
  /** Count "difficult"-only classes (flag 0) as present (default false: they are absent in `labels`, flagged in `difficult`). */
  difficultAsPositive?: boolean;
}

/**
 * Pascal VOC 2007 as multi-label classification: for each class, ImageSets/Main/<class>_<split>.txt lists
 * "<id> <flag>" with flag 1 (present), -1 (absent) or 0 (only difficult objects).
 */
export async function loadVoc2007(opts: Voc2007Options = {}): Promise<VocDataset> {
  const split = opts.split ?? "trainval";
  let root = opts.root;
  if (!root) {
    const isTest = split === "test";
    root = path.join(datasetDir("voc2007"), isTest ? "test" : "trainval");
    await ensureExtracted(isTest ? "Pascal VOC 2007 test" : "Pascal VOC 2007 trainval", root,
      isTest ? { url: VOC2007_TEST_URL, file: "VOCtest_06-Nov-2007.tar", subdir: "VOCdevkit/VOC2007" }
        : { url: VOC2007_TRAINVAL_URL, file: "VOCtrainval_06-Nov-2007.tar", subdir: "VOCdevkit/VOC2007" },
      (d) => fs.existsSync(path.join(d, "ImageSets", "Main")), opts);
  }
  const main = path.join(root, "ImageSets", "Main");
  const byId = new Map<string, VocSample>();
  const order: string[] = [];
  // Image order: the split's own list (ImageSets/Main/<split>.txt) when present, else first appearance.
  const splitList = path.join(main, `${split}.txt`);
  if (fs.existsSync(splitList)) {
    for (const line of fs.readFileSync(splitList, "utf8").split(/\r?\n/)) {
      const id = line.trim();
      if (id && !byId.has(id)) {
        byId.set(id, { path: path.join(root, "JPEGImages", `${id}.jpg`), id, labels: new Array(20).fill(0), difficult: new Array(20).fill(0) });
        order.push(id);
      }
    }
  }
  VOC_CLASSES.forEach((cls, c) => {
    const file = path.join(main, `${cls}_${split}.txt`);
    if (!fs.existsSync(file)) throw new Error(`Pascal VOC: ${file} is missing; ${root} is not a complete VOC2007 folder for split '${split}'.`);
    fs.readFileSync(file, "utf8").split(/\r?\n/).forEach((line, n) => {
      const t = line.trim();
      if (!t) return;
      const m = /^(\S+)\s+(-?1|0)$/.exec(t);
      if (!m) throw new Error(`Pascal VOC: ${file} line ${n + 1} reads '${t}', expected '<image id> <1|0|-1>'.`);
      const id = m[1]!;
      let s = byId.get(id);
      if (!s) {
        s = { path: path.join(root!, "JPEGImages", `${id}.jpg`), id, labels: new Array(20).fill(0), difficult: new Array(20).fill(0) };
        byId.set(id, s);
        order.push(id);
      }
      if (m[2] === "1") s.labels[c] = 1;
      else if (m[2] === "0") {
        s.difficult[c] = 1;
        if (opts.difficultAsPositive) s.labels[c] = 1;
      }
    });
  });
  const samples = order.map((id) => byId.get(id)!);
  if (samples.length === 0) throw new Error(`Pascal VOC: no images listed for split '${split}' in ${main}.`);
  const missing = samples.find((s) => !fs.existsSync(s.path));
  if (missing) throw new Error(`Pascal VOC: ${missing.path} is listed in ${main} but missing; re-extract the VOC2007 archive.`);
  return { root, classes: [...VOC_CLASSES], samples };
}
