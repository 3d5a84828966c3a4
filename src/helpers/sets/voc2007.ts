/** Pascal VOC 2007 as multi-label classification (20 classes, 0.9 GB, full profile); its URLs and checksums are registered here. */
import * as fs from "node:fs";
import * as path from "node:path";
import { datasetDir } from "../fetch/cache";
import { registerKnownDownload } from "../fetch";
import { ensureExtracted, type EnsureDatasetOptions } from "../fetch/ensure";

// md5s as in torchvision's VOC dataset definitions; Oxford's host serves only http.
export const VOC2007_TRAINVAL_URL = registerKnownDownload({
  url: "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtrainval_06-Nov-2007.tar", name: "Pascal VOC 2007 trainval",
  md5: "c52e279531787c972589f7e41ab4ae64", httpOnly: true,
});
export const VOC2007_TEST_URL = registerKnownDownload({
  url: "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/VOCtest_06-Nov-2007.tar", name: "Pascal VOC 2007 test",
  md5: "b6e924de25625d8de591ea690078ad9f", httpOnly: true,
});
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
