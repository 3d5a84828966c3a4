// The tfjs torchvision architectures against PyTorch itself: each test saves a randomly initialised torchvision
// model's state dict with Debian's python3-torch / python3-torchvision (make_reference.py), imports it with the
// TypeScript .pth reader, and compares outputs on the same input (eval mode) to 1e-4 relative.
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { readPth } from "../../../src/helpers/models/pth";
import { TorchvisionArch, buildTorchvisionModel, loadTorchStateDict } from "../../../src/helpers/models/torchvision";

const PY = "/usr/bin/python3";
const SCRIPT = path.join(__dirname, "torchvision", "make_reference.py");
let tmp: string;

beforeAll(async () => {
  await tf.setBackend("cpu");
  try {
    execFileSync(PY, ["-c", "import torch, torchvision"], { stdio: "pipe" });
  } catch {
    throw new Error("These tests need Debian's python3-torch and python3-torchvision: run kernel-setup/setup.sh (or apt-get install python3-torch python3-torchvision).");
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-torchvision-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Reference { dir: string; input: Float32Array; output: Float32Array; outShape: number[] }

function reference(arch: string, size: number, batch: number, flags: string[] = []): Reference {
  const dir = fs.mkdtempSync(path.join(tmp, `${arch}-`));
  const shape = execFileSync(PY, [SCRIPT, dir, arch, String(size), String(batch), ...flags], { encoding: "utf8" }).trim().split(" ").map(Number);
  const f32 = (f: string) => { const b = fs.readFileSync(path.join(dir, f)); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice(); };
  return { dir, input: f32("input.bin"), output: f32("output.bin"), outShape: shape };
}

/** max |tfjs - torch| relative to the largest |torch| output. */
function relativeError(got: Float32Array, want: Float32Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < want.length; i++) { d = Math.max(d, Math.abs(got[i] - want[i])); m = Math.max(m, Math.abs(want[i])); }
  return d / m;
}

async function compare(arch: TorchvisionArch, size: number, batch: number, flags: string[] = []): Promise<number> {
  const ref = reference(arch, size, batch, flags);
  const sd = await readPth(path.join(ref.dir, "model.pth"));
  const model = buildTorchvisionModel(arch, { inputShape: [size, size, 3], includeTop: !flags.includes("--features"), init: "zeros" });
  const res = loadTorchStateDict(model, sd);
  expect(res.missing).toEqual([]);
  sd.clear();
  const y = tf.tidy(() => model.predict(tf.tensor4d(ref.input, [batch, size, size, 3])) as tf.Tensor);
  expect(y.shape).toEqual(ref.outShape);
  const got = y.dataSync() as Float32Array;
  y.dispose();
  model.dispose();
  fs.rmSync(ref.dir, { recursive: true, force: true });
  const err = relativeError(got, ref.output);
  // the outputs must not be trivially small (all-zero activations would compare equal for any weights)
  expect(Math.max(...Array.from(ref.output, Math.abs))).toBeGreaterThan(1e-3);
  console.log(`${arch} ${size}x${size} x${batch}${flags.length ? ` ${flags.join(" ")}` : ""}: max |tfjs - torch| / max |torch| = ${err.toExponential(2)}`);
  return err;
}

describe("torchvision architectures match PyTorch on imported random weights", () => {
  it("ResNet-18 (64x64, batch 2)", async () => expect(await compare("resnet18", 64, 2)).toBeLessThan(1e-4));
  it("ResNet-34 (32x32)", async () => expect(await compare("resnet34", 32, 1)).toBeLessThan(1e-4));
  it("ResNet-50, Bottleneck v1.5 (64x64, batch 2)", async () => expect(await compare("resnet50", 64, 2)).toBeLessThan(1e-4));
  // torchvision's AlexNet and VGG files predate PyTorch 1.6: this one is saved in that legacy format.
  it("AlexNet with its classifier at 224x224 (6x6 features, CHW flatten order), legacy file format", async () =>
    expect(await compare("alexnet", 224, 1, ["--legacy"])).toBeLessThan(1e-4));
  it("VGG-16 with its classifier (64x64: 2x2 features, adaptive pool to 7x7)", async () => expect(await compare("vgg16", 64, 1)).toBeLessThan(1e-4));
  it("VGG-19 features", async () => expect(await compare("vgg19", 32, 2, ["--features"])).toBeLessThan(1e-4));
  it("VGG-16-BN features", async () => expect(await compare("vgg16_bn", 32, 2, ["--features"])).toBeLessThan(1e-4));
  it("VGG-19-BN features", async () => expect(await compare("vgg19_bn", 32, 2, ["--features"])).toBeLessThan(1e-4));
  it("MobileNet v1 as chapter 3 defines it (224x224)", async () => expect(await compare("mobilenet_v1", 224, 1)).toBeLessThan(1e-4));
});
