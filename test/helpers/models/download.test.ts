import { describe, it, expect, vi, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const shared = path.resolve(__dirname, "../../../../shared/cache");
const calls: { url: string; dest: string }[] = [];
// Stand-in for the network: serves the files of the cached MobileNetV2 0.35 by name, like a web server would.
vi.mock("../../../src/helpers/fetch/download", () => ({
  registerKnownDownload: (entry: { url: string }) => entry.url,
  ensureDownloaded: async (url: string, dest: string) => {
    calls.push({ url, dest });
    const src = path.join(shared, "models/mobilenet_v2_0.35_224_no_top", path.basename(new URL(url).pathname));
    if (!/example\.test|_0\.35_/.test(url) || !fs.existsSync(src)) throw new Error(`404 ${url}`);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(src, dest);
    return dest;
  },
}));

import { loadBackbone, buildMobileNetV2Random } from "../../../src/helpers/models";

let tmp: string;
const savedCache = process.env.TL_CACHE_DIR;
beforeAll(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-dl-"));
  process.env.TL_CACHE_DIR = tmp; // an empty, writable cache
});
afterAll(() => {
  process.env.TL_CACHE_DIR = savedCache;
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("loading through the download cache", () => {
  it("downloads model.json, then each weight file it names relative to its URL, then reuses the cache", async () => {
    const url = "https://models.example.test/some/path/model.json";
    const { model } = await loadBackbone({ url, featureLayer: "out_relu" });
    expect(calls.map((c) => c.url)).toEqual([url, "https://models.example.test/some/path/weights.bin"]);
    expect(calls[0].dest.startsWith(path.join(tmp, "models", "user"))).toBe(true);
    expect(model.outputs[0].shape).toEqual([null, 7, 7, 1280]);
    await loadBackbone({ url });
    expect(calls).toHaveLength(2);
  });

  it("fetches a zoo model into cacheDir()/models/<name>/ and the random-init builder needs only model.json", async () => {
    calls.length = 0;
    await buildMobileNetV2Random(0.35, 1);
    expect(calls.map((c) => path.basename(c.dest))).toEqual(["model.json"]);
    expect(calls[0].url).toBe("https://storage.googleapis.com/teachable-machine-models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top/model.json");
    const { model } = await loadBackbone("mobilenet_v2_0.35");
    expect(calls.map((c) => path.basename(c.dest))).toEqual(["model.json", "weights.bin"]);
    expect(fs.existsSync(path.join(tmp, "models/mobilenet_v2_0.35_224_no_top/weights.bin"))).toBe(true);
    expect(model.outputs[0].shape).toEqual([null, 7, 7, 1280]);
    await expect(loadBackbone("mobilenet_v2_1.00")).rejects.toThrow(/404/);
  });
});
