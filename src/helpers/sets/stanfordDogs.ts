/** Stanford Dogs (120 breeds, 0.8 GB, full profile): file lists only, never decoded eagerly; its URLs are registered here. */
import * as fs from "node:fs";
import * as path from "node:path";
import { datasetDir } from "../fetch/cache";
import { registerKnownDownload } from "../fetch";
import { ensureExtracted, type EnsureDatasetOptions } from "../fetch/ensure";
import { compareCodePoints, type ImageSample } from "./imagefolder";
import { matNumbers, matStrings, parseMat } from "./mat";

// Stanford's site serves only http and publishes no checksums.
export const STANFORD_DOGS_IMAGES_URL = registerKnownDownload({
  url: "http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar", name: "Stanford Dogs images", httpOnly: true,
});
export const STANFORD_DOGS_LISTS_URL = registerKnownDownload({
  url: "http://vision.stanford.edu/aditya86/ImageNetDogs/lists.tar", name: "Stanford Dogs lists", httpOnly: true,
});

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
