/**
 * Files that are not what they seem: special files in image folders, model.json files that point outside their
 * folder or do not match their weights, and zoo files that differ from the official ones.
 */
import * as tf from "@tensorflow/tfjs";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageFolder } from "../../src/helpers/sets";
import { ModelFormatError, fileIOHandler, loadBackbone, loadLayersModelFromDir, recordedZooFile } from "../../src/helpers/models";
import { tmpDir, writeJpeg } from "../helpers/fixtures";

let dir: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  dir = tmpDir("tl-hostile-");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("image folders with special files", () => {
  it("skips FIFOs, sockets and links to them without opening them, and reports them", async () => {
    const root = path.join(dir, "special");
    fs.mkdirSync(path.join(root, "a"), { recursive: true });
    fs.mkdirSync(path.join(root, "b"), { recursive: true });
    await writeJpeg(path.join(root, "a", "ok.jpg"));
    await writeJpeg(path.join(root, "b", "ok.jpg"));
    // Opening a FIFO for reading blocks until a writer comes: any open() would hang this test.
    execFileSync("mkfifo", [path.join(dir, "pipe")]);
    fs.symlinkSync(path.join(dir, "pipe"), path.join(root, "a", "link-to-fifo.jpg"));
    // Beyond the list: a link to an endless device (reading it would never end).
    fs.symlinkSync("/dev/zero", path.join(root, "a", "zero.png"));
    execFileSync("mkfifo", [path.join(root, "b", "fifo.jpg")]);
    const sock = net.createServer().listen(path.join(root, "b", "socket.png"));
    await new Promise((r) => sock.once("listening", r));
    try {
      const ds = await imageFolder(root, { warn: false });
      expect(ds.samples.map((s) => path.relative(root, s.path))).toEqual(["a/ok.jpg", "b/ok.jpg"]);
      expect([...ds.skipped.specialFiles].sort()).toEqual(["a/link-to-fifo.jpg", "a/zero.png", "b/fifo.jpg", "b/socket.png"]);
      expect(ds.skipped.undecodable).toEqual([]);
    } finally {
      sock.close();
    }
  }, 10_000);
});

/** A small saved layers model in its own folder; returns the model.json path. */
async function savedModel(name: string): Promise<string> {
  const d = path.join(dir, name);
  const m = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4], name: "d" })] });
  await m.save(fileIOHandler(d));
  m.dispose();
  return path.join(d, "model.json");
}
const editJson = (file: string, edit: (j: any) => void) => {
  const j = JSON.parse(fs.readFileSync(file, "utf8"));
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
};
async function loadError(modelJson: string): Promise<Error> {
  const e = await loadLayersModelFromDir(modelJson).then((m) => { m.dispose(); return undefined; }, (x: unknown) => x);
  expect(e, "loading should have failed").toBeInstanceOf(ModelFormatError);
  return e as Error;
}

describe("model files", () => {
  it("refuses a weight path outside the model folder, even one of exactly the right size", async () => {
    const mj = await savedModel("escape");
    const outside = path.join(dir, "outside");
    fs.mkdirSync(outside, { recursive: true });
    fs.copyFileSync(path.join(path.dirname(mj), "weights.bin"), path.join(outside, "secret.bin"));
    editJson(mj, (j) => { j.weightsManifest[0].paths = ["../outside/secret.bin"]; });
    expect((await loadError(mj)).message).toMatch(/names weight file '\.\.\/outside\/secret\.bin', which is outside its folder/);
    editJson(mj, (j) => { j.weightsManifest[0].paths = [path.join(outside, "secret.bin")]; });
    expect((await loadError(mj)).message).toMatch(/outside its folder/);
  });

  it("refuses a weight file that is a symlink leading outside the folder", async () => {
    const mj = await savedModel("linked");
    const w = path.join(path.dirname(mj), "weights.bin");
    fs.renameSync(w, path.join(dir, "elsewhere.bin"));
    fs.symlinkSync(path.join(dir, "elsewhere.bin"), w);
    expect((await loadError(mj)).message).toMatch(/a link that leads outside/);
  });

  it("a null manifest names the file and the fix", async () => {
    const mj = await savedModel("nullmanifest");
    editJson(mj, (j) => { j.weightsManifest = null; });
    const msg = (await loadError(mj)).message;
    expect(msg).toContain(mj);
    expect(msg).toMatch(/weightsManifest is null .*Delete .* and load again/);
  });

  it("wrong shapes (same byte count) and wrong weight names become ModelFormatErrors naming the file", async () => {
    const shapes = await savedModel("shapes");
    editJson(shapes, (j) => { j.weightsManifest[0].weights[0].shape = [3, 4]; });
    const m1 = (await loadError(shapes)).message;
    expect(m1).toContain(shapes);
    expect(m1).toMatch(/does not match its weight files/);
    const names = await savedModel("names");
    editJson(names, (j) => { j.weightsManifest[0].weights[0].name = "other/kernel"; });
    expect((await loadError(names)).message).toMatch(/does not match its weight files.*delete/);
  });

  it("a folder where weights.bin should be, and a folder given as model.json", async () => {
    const mj = await savedModel("folderweights");
    const w = path.join(path.dirname(mj), "weights.bin");
    fs.rmSync(w);
    fs.mkdirSync(w);
    expect((await loadError(mj)).message).toMatch(/weights\.bin \(named in .*model\.json\) is not a regular file/);
    const asJson = path.join(dir, "folder.json");
    fs.mkdirSync(asJson);
    expect((await loadError(asJson)).message).toMatch(/is a folder, not a model\.json file/);
  });

  it("NaN weights of the right size are refused", async () => {
    const mj = await savedModel("nan");
    const w = path.join(path.dirname(mj), "weights.bin");
    fs.writeFileSync(w, Buffer.from(new Float32Array(fs.statSync(w).size / 4).fill(NaN).buffer));
    expect((await loadError(mj)).message).toMatch(/holds NaN or infinite values/);
  });
});

describe("zoo files against their recorded size and sha256", () => {
  const cache = process.env.TL_CACHE_DIR;
  const src = cache ? path.join(cache, "models/mobilenet_v2_0.35_224_no_top") : "";
  it.skipIf(!cache || !fs.existsSync(src))("a weights.bin of the right size with other (finite) values is refused, naming the file", async () => {
    const fake = path.join(dir, "fakecache");
    const folder = path.join(fake, "models/mobilenet_v2_0.35_224_no_top");
    fs.mkdirSync(folder, { recursive: true });
    fs.copyFileSync(path.join(src, "model.json"), path.join(folder, "model.json"));
    const size = fs.statSync(path.join(src, "weights.bin")).size;
    expect(recordedZooFile("mobilenet_v2_0.35", "weights.bin")?.size).toBe(size);
    fs.writeFileSync(path.join(folder, "weights.bin"), Buffer.alloc(size)); // all zeros: finite, right size
    process.env.TL_CACHE_DIR = fake;
    try {
      const e = await loadBackbone("mobilenet_v2_0.35").then((b) => { b.model.dispose(); return undefined; }, (x: unknown) => x);
      expect(e).toBeInstanceOf(ModelFormatError);
      expect((e as Error).message).toMatch(/weights\.bin \(mobilenet_v2_0\.35\) has SHA-256 [0-9a-f]{64}, but the official file's is e159deb3.*Delete .* downloaded again/);
    } finally {
      process.env.TL_CACHE_DIR = cache;
    }
  });
});
