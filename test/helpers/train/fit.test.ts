import { describe, it, expect, beforeAll, afterAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  trainModel, createOptimizer, stepLR, cosineLR, linearWarmup, constantLR, withSeededMathRandom,
  evaluateLoss, checkpointEpoch, type TrainOptions, type EpochLogs,
} from "../../../src/helpers/train";
import { buildHeadModel, featureBatchStream, freezeLayers } from "../../../src/helpers/transfer";
import { GroupedOptimizer } from "../../../src/helpers/train";
import { buildSmallCnn, loadLayersModelFromDir } from "../../../src/helpers/models";
import { Rng } from "../../../src/helpers/pipeline";

let tmp: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tl-train-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Two Gaussian blobs in `d` dims (class 0 around -1, class 1 around +1), seeded. */
function blobs(n: number, d: number, seed: number, noise = 1) {
  const rng = new Rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  const features = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let j = 0; j < d; j++) features[i * d + j] = (labels[i] ? 1 : -1) + noise * gauss();
  }
  return { features, labels, featureShape: [d], labelShape: [] as number[], numSamples: n };
}

const strip = (h: EpochLogs[]) => h.map(({ seconds, ...rest }) => rest);

describe("schedules and rng", () => {
  const ctx = (epoch: number, step: number) => ({ epoch, step, stepsPerEpoch: 10, epochs: 4 });
  it("StepLR, cosine and warm-up give the documented factors", () => {
    expect([0, 1, 2, 3].map((e) => stepLR(2, 0.5)(ctx(e, e * 10)))).toEqual([1, 1, 0.5, 0.5]);
    expect(cosineLR()(ctx(0, 0))).toBeCloseTo(1);
    expect(cosineLR()(ctx(2, 20))).toBeCloseTo(0.5);
    expect(cosineLR(0.1)(ctx(4, 40))).toBeCloseTo(0.1);
    const w = linearWarmup(4, stepLR(1, 0.1));
    expect([0, 1, 2, 3].map((s) => w(ctx(0, s)))).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(w(ctx(1, 10))).toBeCloseTo(0.1);
    expect(constantLR()(ctx(3, 30))).toBe(1);
    expect(() => stepLR(0)).toThrow(/stepSize must be > 0/);
  });
  it("seeds Math.random only inside the call", () => {
    const r1 = withSeededMathRandom(new Rng(9), () => tf.randomUniform([4]).dataSync());
    const r2 = withSeededMathRandom(new Rng(9), () => tf.randomUniform([4]).dataSync());
    expect(Array.from(r1)).toEqual(Array.from(r2));
    expect(Math.random).not.toBe(undefined);
  });
});

describe("trainModel", () => {
  it("trains a head on cached features, with validation, schedule and callbacks", async () => {
    const train = featureBatchStream(blobs(128, 16, 1), { batchSize: 32, shuffle: true, seed: 1 });
    const val = featureBatchStream(blobs(64, 16, 2), { batchSize: 32 });
    const model = buildHeadModel([16], { numClasses: 2, seed: 3 });
    const batches: number[] = [];
    const t0 = Date.now();
    const h = await trainModel(model, train, {
      epochs: 4, validation: val, optimizer: { type: "adam", lr: 0.05 }, schedule: stepLR(2, 0.1),
      callbacks: { onBatchEnd: (b) => void batches.push(b.batch) },
    });
    const steps = 4 * train.numBatches;
    console.log(`head training (16-d, batch 32): ${((steps * 1000) / (Date.now() - t0)).toFixed(0)} steps/s incl. validation`);
    expect(h.epochs).toHaveLength(4);
    expect(batches).toHaveLength(steps);
    expect(h.epochs.map((e) => e.lr)).toEqual([0.05, 0.05, 0.005, 0.005].map((x) => expect.closeTo(x, 8)) as unknown as number[]);
    expect(h.epochs[3].loss).toBeLessThan(h.epochs[0].loss);
    expect(h.epochs[3].val_acc!).toBeGreaterThan(0.9);
    expect(h.epochs.every((e) => e.seconds >= 0)).toBe(true);
    const ev = await evaluateLoss(model, val);
    expect(ev.acc).toBeCloseTo(h.epochs[3].val_acc!, 6);
  });

  it("does not leak tensors across epochs", async () => {
    const train = featureBatchStream(blobs(64, 8, 3), { batchSize: 16, shuffle: true, seed: 2 });
    const val = featureBatchStream(blobs(32, 8, 4), { batchSize: 16 });
    const model = buildHeadModel([8], { numClasses: 2, seed: 4, hiddenUnits: 8 });
    const counts: number[] = [];
    await trainModel(model, train, {
      epochs: 4, validation: val, optimizer: { type: "adam", lr: 0.01 }, weightDecay: 0.01, labelSmoothing: 0.1, schedule: cosineLR(),
      checkpointDir: path.join(tmp, "leak"), restoreBestWeights: true, monitor: "val_acc",
      callbacks: { onEpochEnd: () => void counts.push(tf.memory().numTensors) },
    });
    // epoch 1 creates the optimizer's slots; after that the count must stay flat
    expect(counts.slice(1).every((c) => c === counts[1])).toBe(true);
  });

  it("stops early and restores the best weights", async () => {
    const train = featureBatchStream(blobs(32, 4, 5), { batchSize: 16 });
    const m1 = buildHeadModel([4], { numClasses: 2, seed: 5, dropout: 0 });
    const h1 = await trainModel(m1, train, { epochs: 10, optimizer: { type: "sgd", lr: 0 }, earlyStopping: { patience: 2 } });
    expect(h1.stoppedEarly).toBe(true);
    expect(h1.epochs).toHaveLength(3);

    // a learning rate far too high makes the loss bounce; the returned weights must be those of the best epoch
    const m2 = buildHeadModel([4], { numClasses: 2, seed: 6, dropout: 0 });
    const snaps: Float32Array[][] = [];
    const h2 = await trainModel(m2, featureBatchStream(blobs(32, 4, 6, 3), { batchSize: 8, shuffle: true, seed: 3 }), {
      epochs: 5, optimizer: { type: "sgd", lr: 5 }, restoreBestWeights: true,
      callbacks: { onEpochEnd: () => void snaps.push(m2.getWeights().map((w) => w.dataSync() as Float32Array)) },
    });
    const best = h2.best!;
    expect(best.value).toBe(Math.min(...h2.epochs.map((e) => e.loss)));
    expect(m2.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(snaps[best.epoch].map((a) => Array.from(a)));
  });

  it("applies decoupled weight decay to kernels only", async () => {
    const model = buildHeadModel([3], { numClasses: 2, seed: 7, dropout: 0 });
    const [k0, b0] = model.getWeights().map((w) => w.dataSync().slice());
    const zeroLoss = (_y: tf.Tensor, p: tf.Tensor) => tf.mul(tf.sum(p), 0) as tf.Scalar;
    const data = featureBatchStream(blobs(8, 3, 7), { batchSize: 4 });
    await trainModel(model, data, { epochs: 1, optimizer: { type: "sgd", lr: 0.1 }, weightDecay: 0.5, loss: zeroLoss });
    const [k1, b1] = model.getWeights().map((w) => w.dataSync());
    k1.forEach((v, i) => expect(v).toBeCloseTo(k0[i] * (1 - 0.05) ** 2, 6)); // 2 steps
    expect(Array.from(b1)).toEqual(Array.from(b0));
  });

  it("label smoothing changes the loss of a confident model", async () => {
    const data = featureBatchStream(blobs(16, 4, 8, 0.1), { batchSize: 16 });
    const run = async (ls: number) => {
      const m = buildHeadModel([4], { numClasses: 2, seed: 8, dropout: 0 });
      return (await trainModel(m, data, { epochs: 1, optimizer: { type: "sgd", lr: 0 }, labelSmoothing: ls })).epochs[0].loss;
    };
    const plain = await run(0);
    const smooth = await run(0.2);
    expect(smooth).not.toBeCloseTo(plain, 4);
  });

  it("trains a forward function + variables with SGD momentum", async () => {
    const w = tf.variable(tf.zeros([4, 2]), true, "fn_w");
    const b = tf.variable(tf.zeros([2]), true, "fn_b");
    const h = await trainModel(
      { forward: (x) => tf.softmax(tf.add(tf.matMul(x, w), b)), variables: [w, b] },
      featureBatchStream(blobs(64, 4, 9), { batchSize: 16, shuffle: true, seed: 4 }),
      { epochs: 3, optimizer: { type: "sgd", lr: 0.1, momentum: 0.9 } },
    );
    expect(h.epochs[2].acc).toBeGreaterThan(0.9);
    expect(() => createOptimizer({ type: "rmsprop" } as never)).toThrow(/Unknown optimizer type 'rmsprop'/);
  });

  it("fine-tunes a conv net with per-group learning rates, leaving frozen layers untouched", async () => {
    const model = buildSmallCnn({ numClasses: 2, seed: 10, filters: [4, 8], bottleneckUnits: 8 });
    freezeLayers(model, { names: ["conv1"] });
    const conv1Before = model.getLayer("conv1").getWeights()[0].dataSync().slice();
    const conv2Before = model.getLayer("conv2").getWeights()[0].dataSync().slice();
    const x = tf.randomUniform([16, 28, 28, 1], 0, 1, "float32", 1);
    const y = tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1], "int32");
    const stream = {
      numSamples: 16, batchSize: 8, numBatches: 2,
      async *iterate() {
        for (let i = 0; i < 16; i += 8) yield { x: x.slice([i, 0, 0, 0], [8, 28, 28, 1]), y: y.slice([i], [8]) };
      },
    };
    const opt = new GroupedOptimizer(model, [{ layers: { names: ["predictions"] }, lr: 1e-2 }], (lr) => tf.train.adam(lr), 1e-3);
    const h = await trainModel(model, stream, { epochs: 1, optimizer: opt });
    expect(Number.isFinite(h.epochs[0].loss)).toBe(true);
    expect(Array.from(model.getLayer("conv1").getWeights()[0].dataSync())).toEqual(Array.from(conv1Before));
    expect(Array.from(model.getLayer("conv2").getWeights()[0].dataSync())).not.toEqual(Array.from(conv2Before));
    opt.dispose();
  });
});

describe("checkpoint and resume", () => {
  const setup = () => ({
    train: featureBatchStream(blobs(96, 12, 11), { batchSize: 16, shuffle: true, seed: 5 }),
    val: featureBatchStream(blobs(48, 12, 12), { batchSize: 16 }),
    // dropout makes the steps depend on the RNG, so the resume must restore it too
    model: () => buildHeadModel([12], { numClasses: 2, seed: 11, hiddenUnits: 16, dropout: 0.5 }),
  });
  const opts = (extra: Partial<TrainOptions>): TrainOptions => ({
    epochs: 5, optimizer: { type: "adam", lr: 0.01 }, schedule: linearWarmup(4, cosineLR(0.1)), weightDecay: 0.01, labelSmoothing: 0.05,
    monitor: "val_loss", restoreBestWeights: true, seed: 3, ...extra,
  });

  it("resumes after a crash mid-epoch with the same history as an uninterrupted run", async () => {
    const { train, val, model } = setup();
    const ref = model();
    const full = await trainModel(ref, train, opts({ validation: val, checkpointDir: path.join(tmp, "full") }));

    const dir = path.join(tmp, "crash");
    const crashing = model();
    await expect(
      trainModel(crashing, train, opts({
        validation: val, checkpointDir: dir,
        callbacks: { onBatchEnd: (b) => { if (b.epoch === 3 && b.batch === 2) throw new Error("simulated crash"); } },
      })),
    ).rejects.toThrow("simulated crash");
    expect(checkpointEpoch(dir)).toBe(2);

    const fresh = model();
    const seenEpochs = new Set<number>();
    const resumed = await trainModel(fresh, train, opts({ validation: val, checkpointDir: dir, callbacks: { onBatchEnd: (b) => void seenEpochs.add(b.epoch) } }));
    expect(resumed.startEpoch).toBe(3);
    expect([...seenEpochs]).toEqual([3, 4]);
    const a = strip(full.epochs);
    const b = strip(resumed.epochs);
    expect(b).toHaveLength(a.length);
    a.forEach((e, i) => {
      for (const k of Object.keys(e) as (keyof typeof e)[]) expect(b[i][k] as number).toBeCloseTo(e[k] as number, 5);
    });
    const wa = ref.getWeights().map((w) => w.dataSync());
    fresh.getWeights().forEach((w, i) => w.dataSync().forEach((v, j) => expect(v).toBeCloseTo(wa[i][j], 5)));
    // best/ holds a loadable TF.js model of the best epoch
    const bestEpoch = JSON.parse(fs.readFileSync(path.join(dir, "best", "best.json"), "utf8")).epoch;
    expect(bestEpoch).toBe(full.best!.epoch);
    const bestModel = await loadLayersModelFromDir(path.join(dir, "best"));
    expect(bestModel.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(fresh.getWeights().map((w) => Array.from(w.dataSync())));
    // a finished run resumes to a no-op
    const again = await trainModel(model(), train, opts({ validation: val, checkpointDir: dir }));
    expect(again.epochs).toHaveLength(5);
  });

  it("refuses a checkpoint written for another model", async () => {
    const { train } = setup();
    const dir = path.join(tmp, "other");
    await trainModel(buildHeadModel([12], { numClasses: 2, seed: 1 }), train, { epochs: 1, checkpointDir: dir });
    await expect(trainModel(buildHeadModel([12], { numClasses: 2, hiddenUnits: 4 }), train, { epochs: 2, checkpointDir: dir })).rejects.toThrow(/another model/);
  });
});

describe("resume after SIGKILL", () => {
  // A real crash: a child process is killed with SIGKILL mid-training, then restarted; its final history must
  // match an uninterrupted child run. The children run the helpers' TypeScript sources transpiled to CommonJS
  // (ts.transpileModule: no type check, well under a second; vite-node would spend ~12 s starting up per child).
  const { spawn } = require("node:child_process") as typeof import("node:child_process");
  const ts = require("typescript") as typeof import("typescript");
  const root = path.resolve(__dirname, "../../..");
  function transpileHelpers(dest: string): void {
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (e.name !== "dist" && e.name !== "node_modules") walk(p);
        } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") && !e.name.endsWith(".test.ts")) {
          const out = ts.transpileModule(fs.readFileSync(p, "utf8"), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
          const target = path.join(dest, path.relative(path.join(root, "src/helpers"), p)).replace(/\.ts$/, ".js");
          fs.mkdirSync(path.dirname(target), { recursive: true });
          fs.writeFileSync(target, out.outputText);
        }
      }
    };
    walk(path.join(root, "src/helpers"));
  }
  const script = (lib: string, ckpt: string, out: string) => `
    const tf = require("@tensorflow/tfjs");
    const fs = require("node:fs");
    const { trainModel, cosineLR } = require(${JSON.stringify(path.join(lib, "train"))});
    const { Rng } = require(${JSON.stringify(path.join(lib, "pipeline"))});
    const { buildHeadModel, featureBatchStream } = require(${JSON.stringify(path.join(lib, "transfer"))});
    async function main() {
      await tf.setBackend("cpu");
      const rng = new Rng(21);
      const n = 96, d = 10;
      const features = new Float32Array(n * d), labels = new Int32Array(n);
      for (let i = 0; i < n; i++) { labels[i] = i % 3; for (let j = 0; j < d; j++) features[i * d + j] = (j % 3 === labels[i] ? 1 : 0) + rng.next(); }
      const train = featureBatchStream({ features, labels, featureShape: [d], labelShape: [], numSamples: n }, { batchSize: 8, shuffle: true, seed: 2 });
      const model = buildHeadModel([d], { numClasses: 3, seed: 4, hiddenUnits: 12, dropout: 0.3 });
      const h = await trainModel(model, train, {
        epochs: 6, optimizer: { type: "sgd", lr: 0.05, momentum: 0.9 }, schedule: cosineLR(), checkpointDir: ${JSON.stringify(ckpt)}, seed: 9,
        callbacks: {
          // slow the steps down so the parent's SIGKILL lands mid-epoch
          onBatchEnd: () => new Promise((r) => setTimeout(r, 20)),
          onEpochEnd: (l) => { console.log("EPOCH_END " + l.epoch); },
        },
      });
      fs.writeFileSync(${JSON.stringify(out)}, JSON.stringify(h));
    }
    main().catch((e) => { console.error(e); process.exit(1); });
  `;
  const runChild = (file: string, killAfterEpoch?: number) =>
    new Promise<{ code: number | null; signal: string | null; log: string }>((resolve) => {
      const child = spawn(process.execPath, [file], { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NODE_PATH: path.join(root, "node_modules") } });
      let log = "";
      let killTimer: NodeJS.Timeout | undefined;
      child.stdout.on("data", (d: Buffer) => {
        log += d.toString();
        // kill a little after an epoch ends, i.e. inside the next epoch
        if (killAfterEpoch !== undefined && !killTimer && log.includes(`EPOCH_END ${killAfterEpoch}`)) killTimer = setTimeout(() => child.kill("SIGKILL"), 60);
      });
      child.stderr.on("data", (d: Buffer) => (log += d.toString()));
      child.on("exit", (code, signal) => resolve({ code, signal, log }));
    });

  it("a SIGKILLed run restarted from its checkpoint ends with the uninterrupted history", async () => {
    const lib = path.join(tmp, "lib");
    transpileHelpers(lib);
    const ref = path.join(tmp, "child-ref.js");
    const refOut = path.join(tmp, "ref.json");
    fs.writeFileSync(ref, script(lib, path.join(tmp, "ck-ref"), refOut));
    const crash = path.join(tmp, "child-crash.js");
    const crashOut = path.join(tmp, "crash.json");
    fs.writeFileSync(crash, script(lib, path.join(tmp, "ck-crash"), crashOut));

    const r0 = await runChild(ref);
    expect(r0.code, r0.log).toBe(0);
    const killed = await runChild(crash, 1);
    expect(killed.signal).toBe("SIGKILL");
    expect(fs.existsSync(crashOut)).toBe(false);
    const done = checkpointEpoch(path.join(tmp, "ck-crash"))!;
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThan(5);
    const r2 = await runChild(crash);
    expect(r2.code, r2.log).toBe(0);
    expect(r2.log).not.toContain(`EPOCH_END ${done}\n`);
    const a = JSON.parse(fs.readFileSync(refOut, "utf8"));
    const b = JSON.parse(fs.readFileSync(crashOut, "utf8"));
    expect(b.startEpoch).toBe(done + 1);
    expect(b.epochs).toHaveLength(6);
    a.epochs.forEach((e: EpochLogs, i: number) => {
      expect(b.epochs[i].loss).toBeCloseTo(e.loss, 5);
      expect(b.epochs[i].acc).toBeCloseTo(e.acc, 6);
      expect(b.epochs[i].lr).toBeCloseTo(e.lr, 8);
    });
  }, 120_000);
});
