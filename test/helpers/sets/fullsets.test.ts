/**
 * Full-profile datasets on generated miniatures: Stanford Dogs (MAT v5 and txt lists) and Pascal VOC 2007
 * multi-label classification. The real downloads are ~1 GB each, so only their loaders are exercised here.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  loadStanfordDogs, loadVoc2007, matNumbers, matStrings, parseMat, VOC_CLASSES,
  STANFORD_DOGS_IMAGES_URL, VOC2007_TRAINVAL_URL,
} from "../../../src/helpers/sets";
import { knownDownload } from "../../../src/helpers/fetch";
import { makeStanfordListMat, tmpDir, writeJpeg } from "../fixtures";

let dir: string;
beforeAll(() => {
  dir = tmpDir("tl-full-");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("MAT v5 reader", () => {
  for (const compressed of [false, true]) {
    it(`reads a cell array of strings and numeric labels (${compressed ? "compressed" : "uncompressed"})`, () => {
      const files = ["n02085620-Chihuahua/n02085620_10074.jpg", "n02085782-Japanese_spaniel/n02085782_1039.jpg", "é"];
      const bytes = makeStanfordListMat(files, [1, 2, 2], compressed);
      const vars = parseMat(bytes, "t.mat");
      expect(Object.keys(vars).sort()).toEqual(["file_list", "labels"]);
      expect(matStrings(vars, "file_list")).toEqual(files);
      expect(matNumbers(vars, "labels")).toEqual([1, 2, 2]);
      expect(vars.file_list!.type === "cell" && vars.file_list.dims).toEqual([3, 1]);
      expect(() => matStrings(vars, "nope", "t.mat")).toThrow(/t\.mat has no variable 'nope' \(it has: file_list, labels\)/);
    });
  }
  it("rejects non-MAT data clearly", () => {
    expect(() => parseMat(Buffer.alloc(50), "x.mat")).toThrow(/too short/);
    expect(() => parseMat(Buffer.alloc(200), "x.mat")).toThrow(/not a MAT v5 file/);
  });
});

describe("Stanford Dogs (miniature)", () => {
  let root: string;
  const folders = ["n02085620-Chihuahua", "n02085782-Japanese_spaniel", "n02116738-African_hunting_dog"];
  beforeAll(async () => {
    root = path.join(dir, "dogs");
    for (const f of folders) for (let i = 0; i < 3; i++) await writeJpeg(path.join(root, "Images", f, `${f.slice(0, 9)}_${i}.jpg`), 8, 8);
    fs.mkdirSync(path.join(root, "lists"), { recursive: true });
    const train = folders.flatMap((f) => [0, 1].map((i) => `${f}/${f.slice(0, 9)}_${i}.jpg`));
    const labels = folders.flatMap((_, c) => [c + 1, c + 1]); // 1-based, as in the official lists
    fs.writeFileSync(path.join(root, "lists", "train_list.mat"), makeStanfordListMat(train, labels, true));
    fs.writeFileSync(path.join(root, "lists", "test_list.txt"), folders.map((f) => `${f}/${f.slice(0, 9)}_2.jpg`).join("\n") + "\n");
  });

  it("train split from the .mat list: labels 0-based, breed names from folders", async () => {
    const ds = await loadStanfordDogs({ root, split: "train" });
    expect(ds.classes).toEqual(["Chihuahua", "Japanese_spaniel", "African_hunting_dog"]);
    expect(ds.folders).toEqual(folders);
    expect(ds.samples.map((s) => s.label)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(ds.samples.every((s) => fs.existsSync(s.path))).toBe(true);
  });

  it("test split from the .txt variant", async () => {
    const ds = await loadStanfordDogs({ root, split: "test" });
    expect(ds.samples.map((s) => [path.basename(s.path), s.label])).toEqual([
      ["n02085620_2.jpg", 0], ["n02085782_2.jpg", 1], ["n02116738_2.jpg", 2],
    ]);
  });

  it("lists that disagree with the folders are a clear error", async () => {
    const bad = path.join(dir, "dogs-bad");
    fs.cpSync(root, bad, { recursive: true });
    const train = [`${folders[0]}/${folders[0]!.slice(0, 9)}_0.jpg`];
    fs.writeFileSync(path.join(bad, "lists", "train_list.mat"), makeStanfordListMat(train, [2], false));
    await expect(loadStanfordDogs({ root: bad })).rejects.toThrow(/label 2, but its folder is class 1/);
    fs.writeFileSync(path.join(bad, "lists", "train_list.mat"), makeStanfordListMat(["n099-Nope/x.jpg"], [1], false));
    await expect(loadStanfordDogs({ root: bad })).rejects.toThrow(/names n099-Nope\/x\.jpg, but .*does not exist/);
    fs.rmSync(path.join(bad, "lists"), { recursive: true });
    await expect(loadStanfordDogs({ root: bad })).rejects.toThrow(/list for 'train' not found.*train_list\.mat or .*train_list\.txt/);
  });

  it("download URLs are the official ones and registered", () => {
    expect(STANFORD_DOGS_IMAGES_URL).toBe("http://vision.stanford.edu/aditya86/ImageNetDogs/images.tar");
    expect(knownDownload(STANFORD_DOGS_IMAGES_URL)?.httpOnly).toBe(true);
    expect(knownDownload(VOC2007_TRAINVAL_URL)?.md5).toBe("c52e279531787c972589f7e41ab4ae64");
  });
});

describe("Pascal VOC 2007 classification (miniature)", () => {
  let root: string;
  beforeAll(async () => {
    root = path.join(dir, "VOC2007");
    const ids = ["000005", "000007", "000009"];
    for (const id of ids) await writeJpeg(path.join(root, "JPEGImages", `${id}.jpg`), 8, 8);
    const main = path.join(root, "ImageSets", "Main");
    fs.mkdirSync(main, { recursive: true });
    fs.writeFileSync(path.join(main, "train.txt"), ids.join("\n") + "\n");
    // 000005: chair + (difficult) person; 000007: car; 000009: horse + person.
    const flags: Record<string, Record<string, string>> = {
      chair: { "000005": "1" }, person: { "000005": "0", "000009": "1" }, car: { "000007": "1" }, horse: { "000009": "1" },
    };
    for (const cls of VOC_CLASSES) {
      const lines = ids.map((id) => `${id} ${(flags[cls]?.[id] ?? "-1").padStart(2)}`);
      fs.writeFileSync(path.join(main, `${cls}_train.txt`), lines.join("\n") + "\n");
    }
  });

  const hot = (...names: string[]) => VOC_CLASSES.map((c) => (names.includes(c) ? 1 : 0));

  it("multi-hot labels over 20 classes; difficult kept apart by default", async () => {
    const ds = await loadVoc2007({ root, split: "train" });
    expect(ds.classes).toHaveLength(20);
    expect(ds.samples.map((s) => s.id)).toEqual(["000005", "000007", "000009"]);
    expect(ds.samples[0]!.labels).toEqual(hot("chair"));
    expect(ds.samples[0]!.difficult).toEqual(hot("person"));
    expect(ds.samples[1]!.labels).toEqual(hot("car"));
    expect(ds.samples[2]!.labels).toEqual(hot("horse", "person"));
    expect(ds.samples[2]!.path).toBe(path.join(root, "JPEGImages", "000009.jpg"));
    const pos = await loadVoc2007({ root, split: "train", difficultAsPositive: true });
    expect(pos.samples[0]!.labels).toEqual(hot("chair", "person"));
  });

  it("missing class list or image is a clear error", async () => {
    await expect(loadVoc2007({ root, split: "val" })).rejects.toThrow(/aeroplane_val\.txt is missing/);
    const bad = path.join(dir, "VOC-bad");
    fs.cpSync(root, bad, { recursive: true });
    fs.rmSync(path.join(bad, "JPEGImages", "000007.jpg"));
    await expect(loadVoc2007({ root: bad, split: "train" })).rejects.toThrow(/000007\.jpg is listed .* but missing/);
    fs.appendFileSync(path.join(bad, "ImageSets", "Main", "dog_train.txt"), "000011 yes\n");
    await expect(loadVoc2007({ root: bad, split: "train" })).rejects.toThrow(/dog_train\.txt line 4 reads '000011 yes'/);
  });
});
