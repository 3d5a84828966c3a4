// The .pth reader refuses code, reports state-dict mismatches like load_state_dict(strict=True), gradients flow
// through imported models (and equal PyTorch's), and the torchvision zoo checks the SHA-256 prefix of its downloads.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import * as crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import { readPth, unpickle, UnsafePickleError, PthFormatError } from "../../../src/helpers/models/pth";
import {
  buildTorchvisionModel, buildResNet, loadTorchStateDict, expectedStateDictKeys, StateDictMismatchError, adaptivePoolMatrix,
  sha256PrefixOf, verifySha256Prefix, TORCHVISION_WEIGHTS, loadTorchvisionPretrained, registerTorchvisionWeights,
} from "../../../src/helpers/models/torchvision";
import { backboneSpec, applyPreprocessing, IMAGENET_PREPROCESSING } from "../../../src/helpers/models";

const PY = "/usr/bin/python3";
const SCRIPT = path.join(__dirname, "torchvision", "make_reference.py");
let tmp: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-pth-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const py = (code: string) => execFileSync(PY, ["-c", code], { cwd: tmp, encoding: "utf8" });

describe("safe unpickler", () => {
  const marker = () => path.join(tmp, "pwned");
  const hostile: [string, string, RegExp][] = [
    ["os.system via GLOBAL + REDUCE", `import os\nclass E:\n    def __reduce__(self): return (os.system, ("touch pwned",))\nimport sys; sys.stdout.buffer.write(pickle.dumps(E(), protocol=2))`, /global '(posix|os)\.system'/],
    ["builtins.eval via STACK_GLOBAL (protocol 4)", `class E:\n    def __reduce__(self): return (eval, ("open('pwned','w')",))\nimport sys; sys.stdout.buffer.write(pickle.dumps(E(), protocol=4))`, /global 'builtins\.eval'/],
    ["a class of another module (INST-free GLOBAL)", `import collections\nimport sys; sys.stdout.buffer.write(pickle.dumps(collections.Counter(a=1), protocol=2))`, /global 'collections\.Counter'/],
    ["REDUCE on an allowed global that is not a function (torch.FloatStorage)", `import sys; sys.stdout.buffer.write(b"\\x80\\x02ctorch\\nFloatStorage\\nK\\x01\\x85R.")`, /REDUCE on 'torch\.FloatStorage'/],
    ["INST opcode (protocol 0 object)", `import sys; sys.stdout.buffer.write(b"(ios\\nsystem\\nS'touch pwned'\\ntR.")`, /opcode INST/],
  ];
  for (const [what, code, msg] of hostile) {
    it(`refuses ${what}, naming it, and runs nothing`, () => {
      const bytes = execFileSync(PY, ["-c", `import pickle\n${code}`], { cwd: tmp });
      expect(() => unpickle(new Uint8Array(bytes))).toThrow(UnsafePickleError);
      expect(() => unpickle(new Uint8Array(bytes))).toThrow(msg);
      expect(fs.existsSync(marker())).toBe(false);
    });
  }

  it("refuses a hostile data.pkl inside a .pth zip before reading any tensor", async () => {
    const f = path.join(tmp, "evil.pth");
    py(`import zipfile, pickle, os\nclass E:\n    def __reduce__(self): return (os.system, ("touch pwned",))\nz = zipfile.ZipFile("evil.pth", "w")\nz.writestr("evil/data.pkl", pickle.dumps({"w": E()}, protocol=2))\nz.writestr("evil/data/0", b"\\0" * 16)\nz.close()`);
    await expect(readPth(f)).rejects.toThrow(/evil\.pth: evil\/data\.pkl: refusing global '(posix|os)\.system'.*nothing in it was executed/);
    expect(fs.existsSync(marker())).toBe(false);
  });

  it("reads the values a state dict's pickle holds (ints, big ints, strings, tuples, OrderedDict with _metadata)", () => {
    const bytes = execFileSync(PY, ["-c", `import pickle, sys, collections\nd = collections.OrderedDict([("a", 1), ("b", (2, -3, 2**70)), ("c", "é"), ("d", None), ("e", [True, 1.5])])\nd._metadata = {"": {"version": 1}}\nsys.stdout.buffer.write(pickle.dumps(d, protocol=2))`]);
    const v = unpickle(new Uint8Array(bytes)).value as Map<unknown, unknown>;
    expect([...v.keys()]).toEqual(["a", "b", "c", "d", "e"]);
    expect(v.get("a")).toBe(1);
    expect((v.get("b") as any).items).toEqual([2, -3, 2n ** 70n]);
    expect(v.get("c")).toBe("é");
    expect(v.get("d")).toBe(null);
    expect(v.get("e")).toEqual([true, 1.5]);
  });

  it("says when a file is not a checkpoint or is truncated", async () => {
    const notPth = path.join(tmp, "x.pth");
    fs.writeFileSync(notPth, "hello");
    await expect(readPth(notPth)).rejects.toThrow(PthFormatError);
    py(`import torch\ntorch.save({"w": torch.arange(1000, dtype=torch.float32)}, "legacy.pth", _use_new_zipfile_serialization=False)`);
    const full = fs.readFileSync(path.join(tmp, "legacy.pth"));
    fs.writeFileSync(path.join(tmp, "cut.pth"), full.subarray(0, full.length - 100));
    await expect(readPth(path.join(tmp, "cut.pth"))).rejects.toThrow(/truncated/);
    const sd = await readPth(path.join(tmp, "legacy.pth"));
    expect(Array.from(sd.get("w")!.data.subarray(995))).toEqual([995, 996, 997, 998, 999]);
  });

  it("follows strides and storage offsets, converts dtypes, reads Parameters, strips DataParallel's module. prefix", async () => {
    py(`import torch\nb = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)\ntorch.save({"module.t": b.permute(2, 0, 1)[1:], "module.h": torch.tensor([0.5, -2.0], dtype=torch.float16), "module.n": torch.tensor(7), "module.p": torch.nn.Parameter(torch.ones(2))}, "strided.pth")`);
    const sd = await readPth(path.join(tmp, "strided.pth"));
    expect([...sd.keys()]).toEqual(["t", "h", "n", "p"]);
    expect(Array.from(sd.get("p")!.data)).toEqual([1, 1]); // an nn.Parameter (torch._utils._rebuild_parameter)
    const t = sd.get("t")!;
    expect(t.shape).toEqual([3, 2, 3]);
    // b.permute(2,0,1)[1:][i][j][k] = b[j][k][i+1] = 12j + 4k + i + 1
    expect(Array.from(t.data.subarray(0, 6))).toEqual([1, 5, 9, 13, 17, 21]);
    expect(Array.from(sd.get("h")!.data)).toEqual([0.5, -2]);
    expect(Array.from(sd.get("n")!.data)).toEqual([7]);
  });
});

describe("state dict import", () => {
  it("reports missing, unexpected and mis-shaped keys by name, like load_state_dict(strict=True), and writes nothing", async () => {
    py(`import torch, torchvision\nm = torchvision.models.resnet18(num_classes=10)\nsd = m.state_dict()\ndel sd["layer2.0.bn1.running_var"]\nsd["extra.weight"] = torch.zeros(1)\ntorch.save(sd, "r18.pth")`);
    const sd = await readPth(path.join(tmp, "r18.pth"));
    const model = buildResNet(18, { numClasses: 10, inputShape: [32, 32, 3], init: "zeros" });
    const before = model.getLayer("conv1").getWeights()[0].dataSync().slice();
    let err: StateDictMismatchError | undefined;
    try { loadTorchStateDict(model, sd); } catch (e) { err = e as StateDictMismatchError; }
    expect(err).toBeInstanceOf(StateDictMismatchError);
    expect(err!.missing).toEqual(["layer2.0.bn1.running_var"]);
    expect(err!.unexpected).toEqual(["extra.weight"]);
    expect(err!.message).toMatch(/missing key\(s\) \(1\): layer2\.0\.bn1\.running_var.*unexpected key\(s\) \(1\): extra\.weight/);
    expect(Array.from(model.getLayer("conv1").getWeights()[0].dataSync())).toEqual(Array.from(before));
    // strict: false loads the rest
    const r = loadTorchStateDict(model, sd, { strict: false });
    expect(r.loaded.length).toBe(expectedStateDictKeys(model).length - 1);
    // a 1000-class file on a 10-class model: a size mismatch naming the key and both shapes
    py(`import torch, torchvision\ntorch.save(torchvision.models.resnet18().state_dict(), "r18k.pth")`);
    expect(() => loadTorchStateDict(model, sd.size ? new Map([...sd].filter(([k]) => k !== "extra.weight")) : sd)).toThrow(/missing/);
    const sd1k = await readPth(path.join(tmp, "r18k.pth"));
    expect(() => loadTorchStateDict(model, sd1k)).toThrow(/size mismatch for 2 key\(s\): fc\.weight: file has \[1000, 512\], model needs \[10, 512\]/);
  });

  it("a training step reaches every layer, and the gradients equal PyTorch's", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "grad-"));
    const shape = execFileSync(PY, [SCRIPT, dir, "resnet18", "32", "2", "--grad"], { encoding: "utf8" }).trim().split(" ").map(Number);
    const f32 = (f: string) => { const b = fs.readFileSync(path.join(dir, f)); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice(); };
    const model = buildTorchvisionModel("resnet18", { inputShape: [32, 32, 3], init: "zeros" });
    loadTorchStateDict(model, await readPth(path.join(dir, "model.pth")));
    const x = tf.tensor4d(f32("input.bin"), [2, 32, 32, 3]);
    const wy = tf.tensor(f32("grad_weights.bin"), shape);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.apply(x, { training: false }) as tf.Tensor, wy)) as tf.Scalar);
    const trainable = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    expect(Object.keys(grads).sort()).toEqual([...trainable].sort());
    for (const [name, g] of Object.entries(grads)) expect(tf.abs(g).max().dataSync()[0], name).toBeGreaterThan(0);
    const rel = (a: Float32Array, b: Float32Array) => { let d = 0, m = 0; b.forEach((v, i) => { d = Math.max(d, Math.abs(a[i] - v)); m = Math.max(m, Math.abs(v)); }); return d / m; };
    const conv1 = (model.getLayer("conv1").weights[0].read() as tf.Variable).name;
    const fc = (model.getLayer("fc").weights[0].read() as tf.Variable).name;
    expect(rel(grads[conv1].dataSync() as Float32Array, f32("grad_conv1.bin"))).toBeLessThan(1e-4);
    expect(rel(grads[fc].dataSync() as Float32Array, f32("grad_fc.bin"))).toBeLessThan(1e-4);
    // and an SGD step moves every layer's weights
    const before = model.trainableWeights.map((w) => w.read().dataSync().slice());
    tf.train.sgd(0.1).applyGradients(grads);
    model.trainableWeights.forEach((w, i) => expect(tf.abs(tf.sub(w.read(), tf.tensor(before[i], w.shape as number[]))).max().dataSync()[0], w.name).toBeGreaterThan(0));
    model.dispose();
  });

  it("adaptive average pooling bins as torch's (overlapping when upsampling 2 -> 7)", () => {
    const m = adaptivePoolMatrix(2, 7);
    const rows = Array.from({ length: 7 }, (_, i) => Array.from(m.subarray(i * 2, i * 2 + 2)));
    expect(rows).toEqual([[1, 0], [1, 0], [1, 0], [0.5, 0.5], [0, 1], [0, 1], [0, 1]]);
    const n = adaptivePoolMatrix(13, 6); // 13 -> 6: bins [0,3) [2,5) [4,7) [6,9) [8,11) [10,13)
    expect(Array.from(n.subarray(0, 13)).map((v) => +v.toFixed(4))).toEqual([0.3333, 0.3333, 0.3333, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(n.subarray(13, 26)).map((v) => +v.toFixed(4))).toEqual([0, 0, 0.3333, 0.3333, 0.3333, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe("torchvision zoo", () => {
  it("knows the official files; each name's hex suffix is its SHA-256 prefix; ImageNet normalisation", () => {
    expect(Object.values(TORCHVISION_WEIGHTS).map((w) => w.file)).toEqual([
      "resnet18-f37072fd.pth", "resnet34-b627a593.pth", "resnet50-0676ba61.pth", "alexnet-owt-7be5be79.pth",
      "vgg16-397923af.pth", "vgg19-dcbb9e9d.pth", "vgg16_bn-6c64b313.pth", "vgg19_bn-c79401a0.pth",
    ]);
    expect(sha256PrefixOf("resnet50-0676ba61.pth")).toBe("0676ba61");
    const s = backboneSpec("resnet50");
    expect(s.url).toBe("https://download.pytorch.org/models/resnet50-0676ba61.pth");
    expect(s.featureLayer).toBe("layer4.2.relu");
    expect(s.preprocessing).toEqual(IMAGENET_PREPROCESSING);
    const px = tf.tensor4d([255, 0, 127.5], [1, 1, 1, 3]);
    const want = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.5 - 0.406) / 0.225];
    Array.from(applyPreprocessing(px, s.preprocessing).dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
  });

  it("downloads from a mirror, rejects a file whose SHA-256 does not match its name, converts once and caches the TF.js model", async () => {
    // A random-weight ResNet-18 named as torchvision names files: <arch>-<first 8 hex digits of its SHA-256>.pth.
    py(`import torch, torchvision\ntorch.manual_seed(0)\ntorch.save(torchvision.models.resnet18().state_dict(), "r18.pth")`);
    const good = fs.readFileSync(path.join(tmp, "r18.pth"));
    const hex = crypto.createHash("sha256").update(good).digest("hex");
    const cache = fs.mkdtempSync(path.join(tmp, "cache-"));
    const served = new Map<string, Buffer>();
    const server = http.createServer((req, res) => {
      const body = served.get(req.url ?? "");
      if (!body) { res.statusCode = 404; return res.end(); }
      res.setHeader("content-length", body.length);
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as any).port}/models/`;
    const prevCache = process.env.TL_CACHE_DIR;
    let saved: ReturnType<typeof registerTorchvisionWeights> = undefined;
    try {
      process.env.TL_CACHE_DIR = cache;
      saved = registerTorchvisionWeights("resnet18", { ...TORCHVISION_WEIGHTS.resnet18, file: `resnet18-${hex.slice(0, 8)}.pth` });
      // tampered: same name, different bytes
      const bad = Buffer.from(good);
      bad[bad.length - 10] ^= 0xff;
      served.set(`/models/resnet18-${hex.slice(0, 8)}.pth`, bad);
      await expect(loadTorchvisionPretrained("resnet18", { baseUrl: base, inputShape: [32, 32, 3] })).rejects.toThrow(/does not start with .*deleted/);
      expect(fs.existsSync(path.join(cache, "models", "torchvision", `resnet18-${hex.slice(0, 8)}.pth`))).toBe(false);
      served.set(`/models/resnet18-${hex.slice(0, 8)}.pth`, good);
      const m1 = await loadTorchvisionPretrained("resnet18", { baseUrl: base, inputShape: [32, 32, 3] });
      const converted = path.join(cache, "models", "torchvision", `resnet18-${hex.slice(0, 8)}_tfjs_32x32`, "model.json");
      expect(fs.existsSync(converted)).toBe(true);
      served.clear(); // the second load must not download
      const m2 = await loadTorchvisionPretrained("resnet18", { baseUrl: base, inputShape: [32, 32, 3] });
      const x = tf.randomUniform([1, 32, 32, 3], -1, 1, "float32", 5);
      expect(Array.from((m2.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from((m1.predict(x) as tf.Tensor).dataSync()));
      await expect(verifySha256Prefix(path.join(tmp, "r18.pth"), "x")).rejects.toThrow(/carries no SHA-256 prefix/);
    } finally {
      if (saved) registerTorchvisionWeights("resnet18", saved);
      process.env.TL_CACHE_DIR = prevCache;
      server.close();
    }
  });

  it("through TL_DOWNLOAD_MIRROR, a manifest's stand-in file replaces the official one (the rehearsal's path)", async () => {
    py(`import torch, torchvision\ntorch.manual_seed(1)\ntorch.save(torchvision.models.resnet18().state_dict(), "r18b.pth")`);
    const body = fs.readFileSync(path.join(tmp, "r18b.pth"));
    const sha256 = crypto.createHash("sha256").update(body).digest("hex");
    const file = `resnet18-${sha256.slice(0, 8)}.pth`;
    const hits: string[] = [];
    const server = http.createServer((req, res) => {
      hits.push(req.url ?? "");
      if (req.url !== `/m/download.pytorch.org/models/${file}`) { res.statusCode = 404; return res.end(); }
      res.setHeader("content-length", body.length);
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const manifest = path.join(tmp, "manifest.json");
    fs.writeFileSync(manifest, JSON.stringify({
      downloads: { [`https://download.pytorch.org/models/${file}`]: { size: body.length, sha256 } }, torchvisionWeights: { resnet18: file },
    }));
    const prev = { cache: process.env.TL_CACHE_DIR, mirror: process.env.TL_DOWNLOAD_MIRROR, manifest: process.env.TL_DOWNLOAD_MANIFEST };
    try {
      process.env.TL_CACHE_DIR = fs.mkdtempSync(path.join(tmp, "cache-"));
      process.env.TL_DOWNLOAD_MIRROR = `http://127.0.0.1:${(server.address() as any).port}/m/`;
      process.env.TL_DOWNLOAD_MANIFEST = manifest;
      const m = await loadTorchvisionPretrained("resnet18", { inputShape: [32, 32, 3] });
      expect(m.outputs[0].shape).toEqual([null, 1000]);
      expect(hits).toEqual([`/m/download.pytorch.org/models/${file}`]);
      expect(fs.existsSync(path.join(process.env.TL_CACHE_DIR, "models", "torchvision", file))).toBe(true);
      expect(TORCHVISION_WEIGHTS.resnet18.file).toBe("resnet18-f37072fd.pth"); // the registry itself is untouched
    } finally {
      for (const [k, v] of [["TL_CACHE_DIR", prev.cache], ["TL_DOWNLOAD_MIRROR", prev.mirror], ["TL_DOWNLOAD_MANIFEST", prev.manifest]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      server.close();
    }
  });
});
