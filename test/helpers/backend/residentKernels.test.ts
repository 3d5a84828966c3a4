// The device-resident backend ("torch-resident", the CPU flavour of "torch-cuda") against tfjs' cpu backend: the
// random-shape kernel cases shared with the torch backend (1e-4 relative), every one on the native path; data round
// trips; the counted fallback; handle leaks. Skipped only where the addon cannot be built, and then failed in CI.
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { residentAddonCandidates } from "../../../src/helpers/backend/resident/addon";
import {
  RESIDENT_CPU_BACKEND, residentFallbacks, residentKernelNames, residentStats, tryRegisterResidentBackends,
} from "../../../src/helpers/backend/resident";
import { expectClose, kernelCases, randomHelpers, residentKernelCases, runOn } from "./kernelCases";

const B = RESIDENT_CPU_BACKEND;
const status = tryRegisterResidentBackends();
const libtorchInstalled = fs.existsSync("/usr/include/ATen/ATen.h");
const skipReason = status.ok ? "" : `resident addon not available: ${status.reason}`;
if (!status.ok) {
  console.warn(`[resident-kernels] skipping: ${skipReason}`);
  // CI installs libtorch-dev (make setup), so the addon must be there; a silent skip would hide a broken build.
  if (process.env.CI && libtorchInstalled) throw new Error(`resident backend tests cannot run in CI: ${skipReason}`);
}

describe("resident backend registration", () => {
  it("registers torch-resident whenever the addon is built, and says why not otherwise", () => {
    if (residentAddonCandidates().some((p) => fs.existsSync(p))) {
      expect(status.ok).toBe(true);
      expect(status.names).toContain(B);
      expect(status.detail).toMatch(/^libtorch \d/);
    } else {
      expect(status.ok).toBe(false);
      expect(status.reason).toBeTruthy();
    }
    expect(tryRegisterResidentBackends()).toBe(status); // idempotent
  });
});

describe.skipIf(!status.ok)(`resident kernels vs cpu${skipReason ? ` (${skipReason})` : ""}`, () => {
  const { randArr } = randomHelpers(11);
  const compare = async (what: string, f: () => tf.Tensor | tf.Tensor[]) => expectClose(await runOn(B, f), await runOn("cpu", f), what);
  beforeAll(() => tf.setBackend(B));
  // Every numerical case must run natively, not through the counted copy to the cpu backend.
  beforeEach(() => void residentFallbacks(true));
  afterEach((ctx) => {
    if (!ctx.task.name.includes("fallback")) expect(residentFallbacks(true)).toEqual({});
  });
  afterAll(() => tf.setBackend("cpu"));

  it("runs the chapters' kernels natively", () => {
    expect(residentKernelNames()).toEqual(expect.arrayContaining([
      "Conv2D", "FusedConv2D", "DepthwiseConv2dNative", "Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropInput",
      "FusedBatchNorm", "TorchBatchNormTrain", "MaxPoolGrad", "_FusedMatMul", "Softmax", "OneHot", "ArgMax", "PadV2", "Concat",
    ]));
  });

  const ctx = { backend: B, expectFallback: () => void residentFallbacks(true) };
  for (const c of [...kernelCases(ctx), ...residentKernelCases(ctx)]) it(c.name, () => c.run());

  it("counts a kernel it has no native version of as a fallback (calls, bytes), with cpu's result", async () => {
    const xv = randArr(1 * 4 * 6 * 3);
    await compare("resizeBilinear (fallback)", () => tf.image.resizeBilinear(tf.tensor4d(xv, [1, 4, 6, 3]), [8, 9]));
    const counted = residentFallbacks(true);
    expect(Object.keys(counted)).toEqual(["ResizeBilinear"]);
    expect(counted.ResizeBilinear.calls).toBe(1);
    expect(counted.ResizeBilinear.bytes).toBe(4 * (4 * 6 * 3 + 8 * 9 * 3)); // the input out, the result back in
  });

  it("frees every native tensor it created (tidy, dispose, gradients): no handle leaks", async () => {
    await tf.setBackend(B);
    const before = { live: residentStats()!.liveTensors, ids: tf.engine().backend.numDataIds() };
    const x = tf.tensor4d(randArr(2 * 8 * 8 * 3), [2, 8, 8, 3]);
    const f0 = tf.tensor4d(randArr(3 * 3 * 3 * 4), [3, 3, 3, 4]);
    const f = tf.variable(f0);
    f0.dispose();
    for (let i = 0; i < 2; i++) {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.relu(tf.conv2d(x, f as tf.Tensor4D, 1, "same")))) as tf.Scalar);
        f.assign(tf.sub(f, tf.mul(grads[f.name], 0.1)));
      });
    }
    tf.tidy(() => tf.split(tf.concat([x, x], 3), 2, 3).map((t) => t.dataSync()));
    tf.dispose([x, f]);
    expect(tf.engine().backend.numDataIds()).toBe(before.ids);
    expect(residentStats()!.liveTensors).toBe(before.live);
  });
});
