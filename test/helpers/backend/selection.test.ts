import { describe, it, expect, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { tryRegisterNativeBackend } from "../../../src/helpers/backend/native";
import { tryRegisterResidentBackends } from "../../../src/helpers/backend/resident";
import { missingCudaLibraries, setupBackend, backendBanner, backendFor, useBackendFor, moveModelToActiveBackend, probeConvGradient, BACKEND_NAMES } from "../../../src/helpers/backend";

// tfjs-node is not installed here and the native "torch" addon may or may not be built, so the assertions
// branch on what actually loaded rather than assuming.
const nodeBackendInstalled = (() => {
  for (const p of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    try {
      require.resolve(p);
      return true;
    } catch {
      /* not installed */
    }
  }
  return false;
})();

afterAll(async () => {
  await tf.setBackend("cpu");
});

describe("setupBackend", () => {
  it("picks torch for inference when the native addon loads, else wasm", async () => {
    const info = await setupBackend({ purpose: "inference", env: {} });
    expect(tf.getBackend()).toBe(info.name);
    if (!nodeBackendInstalled) {
      if (tryRegisterNativeBackend().ok) {
        expect(info.name).toBe("torch");
      } else {
        expect(info.name).toBe("wasm");
        expect(typeof info.simd).toBe("boolean");
      }
      expect(info.threads).toBeGreaterThanOrEqual(1);
    }
  });

  it("picks a backend that can back-propagate through convolutions for training", async () => {
    const info = await setupBackend({ purpose: "training", env: {} });
    expect(info.canTrainConvolutions).toBe(true);
    // and the claim is true: a conv gradient runs on the chosen backend
    expect(probeConvGradient()).toBe(true);
    // wasm trains convolutions through the composed kernels setupBackend registers, so cpu is never needed here
    if (!nodeBackendInstalled) expect(["torch", "wasm"]).toContain(info.name);
  });

  it("trains a dense head on torch-resident when it loads, else torch, else wasm (no convolution gradients needed)", async () => {
    const info = await setupBackend({ purpose: "training", trainsConvolutions: false, env: {} });
    const expected = tryRegisterResidentBackends().ok ? "torch-resident" : tryRegisterNativeBackend().ok ? "torch" : "wasm";
    if (!nodeBackendInstalled) expect(info.name).toBe(expected);
    // a dense layer's gradient runs there
    const g = tf.grad((w: tf.Tensor) => tf.matMul(tf.ones([2, 3]), w).sum())(tf.ones([3, 2]));
    expect(Array.from(g.dataSync())).toEqual([2, 2, 2, 2, 2, 2]);
  });

  it("probes wasm instead of assuming", async () => {
    await setupBackend({ purpose: "inference", env: { TL_BACKEND: "wasm" } });
    expect(tf.getBackend()).toBe("wasm");
    const registered = ["Conv2DBackpropFilter", "DepthwiseConv2dNativeBackpropFilter"].every((k) => tf.getKernel(k, "wasm") !== undefined);
    expect(probeConvGradient()).toBe(registered);
  });

  it("honours TL_BACKEND", async () => {
    const info = await setupBackend({ purpose: "inference", env: { TL_BACKEND: "cpu" } });
    expect(info.name).toBe("cpu");
    expect(info.forced).toBe(true);
    expect(backendBanner(info)).toMatch(/backend: cpu .*forced by TL_BACKEND/);
  });

  it("rejects unknown and unloadable TL_BACKEND values clearly", async () => {
    await expect(setupBackend({ env: { TL_BACKEND: "cuda" } })).rejects.toThrow(/Unknown backend 'cuda'.*Use one of: tensorflow, tensorflow-gpu, torch, torch-cuda, torch-resident/);
    // No GPU here (nor in CI): forcing the CUDA backend says why it cannot load and what to install.
    await expect(setupBackend({ env: { TL_BACKEND: "torch-cuda" } })).rejects.toThrow(/TL_BACKEND=torch-cuda cannot be used: .*unavailable.*Fix: install a CUDA build of PyTorch/);
    if (!nodeBackendInstalled) {
      await expect(setupBackend({ env: { TL_BACKEND: "tensorflow" } })).rejects.toThrow(/TL_BACKEND=tensorflow cannot be used: .*tfjs-node.*install/);
    }
    expect(BACKEND_NAMES).toContain("torch");
  });

  it("names the resident backend's libtorch in the banner when forced on the CPU", async () => {
    const info = await setupBackend({ env: { TL_BACKEND: "torch-resident" } }).catch((e: Error) => e);
    if (info instanceof Error) {
      expect(info.message).toMatch(/TL_BACKEND=torch-resident cannot be used: resident libtorch backend unavailable/);
      return;
    }
    expect(backendBanner(info)).toMatch(/^backend: torch-resident \(resident addon, libtorch \d+\.\d+/);
    await setupBackend({ env: { TL_BACKEND: "cpu" } });
  });

  it("banner is one line with backend, threads and SIMD", async () => {
    const info = await setupBackend({ purpose: "inference", env: { TL_BACKEND: "wasm" } });
    const b = backendBanner(info);
    expect(b.split("\n")).toHaveLength(1);
    expect(b).toMatch(/backend: wasm/);
    expect(b).toMatch(/\d+ threads?/);
    expect(b).toMatch(/SIMD (on|off)/);
  });
});

describe("CUDA library check (silent CPU fallback of tfjs-node-gpu)", () => {
  it("lists the libraries the loader cannot find", () => {
    const missing = missingCudaLibraries();
    const ldconfig = (() => {
      try {
        return require("node:child_process").execFileSync("ldconfig", ["-p"], { encoding: "utf8" }) as string;
      } catch {
        return "";
      }
    })();
    for (const lib of ["libcudnn.so.8", "libcudart.so.11.0"]) {
      if (ldconfig.includes(lib)) expect(missing).not.toContain(lib);
      else if (!(process.env.LD_LIBRARY_PATH ?? "")) expect(missing).toContain(lib);
    }
  });
});

describe("switching backends mid-notebook", () => {
  it("a model built on one backend keeps working, and its weights can be moved", async () => {
    await useBackendFor("inference", { env: { TL_BACKEND: "wasm" } });
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) })] });
    const x = tf.tensor2d([[1, 2, 3]]);
    const before = (m.predict(x) as tf.Tensor).arraySync() as number[][];
    const info = await useBackendFor("training", { env: {} });
    const moved = moveModelToActiveBackend(m);
    expect(moved).toBe(2);
    const after = (m.predict(tf.tensor2d([[1, 2, 3]])) as tf.Tensor).arraySync() as number[][];
    expect(tf.getBackend()).toBe(info.name);
    expect(after[0][0]).toBeCloseTo(before[0][0], 5);
    expect(after[0][1]).toBeCloseTo(before[0][1], 5);
  });
});

describe("backendFor (what trainModel and extractFeatures call)", () => {
  it("switches an automatically chosen backend to the purpose's choice, and leaves forced or hand-set ones alone", async () => {
    const training = await setupBackend({ purpose: "training", env: {} });
    const inference = await setupBackend({ purpose: "inference", env: {} });
    await backendFor("training");
    expect(tf.getBackend()).toBe(training.name);
    await backendFor("inference");
    expect(tf.getBackend()).toBe(inference.name);
    await setupBackend({ purpose: "inference", env: { TL_BACKEND: "cpu" } });
    await backendFor("training");
    expect(tf.getBackend()).toBe("cpu");
    await setupBackend({ purpose: "inference", env: {} });
    await tf.setBackend("cpu");
    await backendFor("training");
    expect(tf.getBackend()).toBe("cpu");
  });
});
