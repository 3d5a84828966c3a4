/**
 * The real hymenoptera set from the pre-filled (read-only) cache: counts as in torchvision, the broken
 * .gif left out, nothing written into the cache, and decoding the whole set at 224x224.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { hymenoptera } from "../../../src/helpers/sets";
import { decodeImage, mapLimit } from "../../../src/helpers/pipeline";
import { tmpDir } from "../fixtures";

process.env.TL_CACHE_DIR ??= path.resolve(__dirname, "../../../../shared/cache");
const cache = process.env.TL_CACHE_DIR;
const hasData = fs.existsSync(path.join(cache, "datasets", "hymenoptera_data", "train"));

function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      out.push(path.join(d, e.name));
      if (e.isDirectory()) walk(path.join(d, e.name));
    }
  };
  walk(root);
  return out.sort();
}

describe("hymenoptera", () => {
  it.skipIf(!hasData)("244 train / 153 val, classes [ants, bees], imageNotFound.gif skipped, cache untouched", async () => {
    const before = listTree(path.join(cache, "datasets"));
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    let ds: Awaited<ReturnType<typeof hymenoptera>>;
    let warnings: unknown[][];
    const t0 = performance.now();
    try {
      ds = await hymenoptera();
      warnings = [...warn.mock.calls];
    } finally {
      warn.mockRestore();
    }
    const loadMs = performance.now() - t0;
    expect(ds.classes).toEqual(["ants", "bees"]);
    expect(ds.train.samples).toHaveLength(244);
    expect(ds.val.samples).toHaveLength(153);
    expect(ds.train.skipped.nonImageFiles).toEqual(["ants/imageNotFound.gif"]);
    expect(ds.train.skipped.undecodable).toEqual([]);
    expect(ds.val.skipped.nonImage).toBe(0);
    // One warning (train's skipped .gif), none for val.
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]![0])).toMatch(/imageNotFound\.gif/);
    const counts = (s: { label: number }[]) => [s.filter((x) => x.label === 0).length, s.filter((x) => x.label === 1).length];
    expect(counts(ds.train.samples)).toEqual([123, 121]);
    expect(counts(ds.val.samples)).toEqual([70, 83]);
    // Read-only cache: no lock, temp or archive files appeared.
    expect(listTree(path.join(cache, "datasets"))).toEqual(before);

    // Decode everything at 224x224 (what a feature-extraction notebook does).
    const t1 = performance.now();
    const all = [...ds.train.samples, ...ds.val.samples];
    const imgs = await mapLimit(all, 4, (s) => decodeImage(s.path, { size: 224 }));
    const decodeMs = performance.now() - t1;
    expect(imgs.every((im) => im.data.length === 224 * 224 * 3)).toBe(true);
    console.log(`hymenoptera: list+validate ${loadMs.toFixed(0)} ms; decode ${all.length} images at 224: ${decodeMs.toFixed(0)} ms`);
  });

  it("offline and not in the cache: the message says where to get it", async () => {
    const empty = tmpDir("tl-empty-cache-");
    const prev = { c: process.env.TL_CACHE_DIR, o: process.env.TL_OFFLINE };
    process.env.TL_CACHE_DIR = empty;
    process.env.TL_OFFLINE = "1";
    try {
      await expect(hymenoptera()).rejects.toThrow(
        `hymenoptera dataset is not in ${path.join(empty, "datasets")}; download it from https://download.pytorch.org/tutorial/hymenoptera_data.zip, or set TL_CACHE_DIR to a folder that has it`,
      );
      expect(fs.readdirSync(empty)).toEqual([]); // nothing created
    } finally {
      process.env.TL_CACHE_DIR = prev.c;
      if (prev.o === undefined) delete process.env.TL_OFFLINE; else process.env.TL_OFFLINE = prev.o;
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
