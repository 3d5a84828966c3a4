/**
 * Training and checkpoints, round 2: nothing to train on is refused, damaged checkpoints fall back to the intact
 * previous one (or name the file and the fix), an unusable checkpointDir is caught before the first epoch,
 * a NaN stop leaves the model with its last good weights, and stale temps of killed runs are removed.
 */
import * as tf from "@tensorflow/tfjs";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { featureStream } from "../../src/helpers/pipeline";
import { CheckpointError, checkpointEpoch, trainModel, type TrainOptions } from "../../src/helpers/train";
import { tmpDir } from "../helpers/fixtures";

let dir: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  dir = tmpDir("tl-ckpt-");
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const N = 16;
const data = (opts: { n?: number; batchSize?: number; dropLast?: boolean; nanFrom?: number } = {}) => {
  const n = opts.n ?? N;
  const features = new Float32Array(n * 4).map((_, i) => Math.sin(i * 1.7));
  if (opts.nanFrom !== undefined) features.fill(NaN, opts.nanFrom * 4);
  return featureStream({ features, dim: 4, labels: Array.from({ length: n }, (_, i) => i % 3), batchSize: opts.batchSize ?? 4, dropLast: opts.dropLast });
};
const model = () =>
  tf.sequential({ layers: [
    tf.layers.dense({ units: 5, inputShape: [4], kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
    tf.layers.batchNormalization(),
    tf.layers.dense({ units: 3, activation: "softmax", kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  ] });
const weightsOf = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
const base: TrainOptions = { epochs: 2, optimizer: { type: "sgd", lr: 0.1 }, seed: 3 };

describe("nothing to train on", () => {
  it("refuses an empty dataset instead of 'training' with loss 0 and writing a best checkpoint", async () => {
    const ck = path.join(dir, "empty");
    const empty = { numSamples: 0, batchSize: 4, numBatches: 0, async *iterate() {} };
    await expect(trainModel(model(), empty, { ...base, checkpointDir: ck })).rejects.toThrow(/has 0 sample\(s\) and yields no batches.*nothing to train on/);
    expect(fs.existsSync(path.join(ck, "best"))).toBe(false);
  });

  it("refuses dropLast leaving zero batches, saying why", async () => {
    await expect(trainModel(model(), data({ n: 3, batchSize: 4, dropLast: true }), base)).rejects.toThrow(
      /has 3 sample\(s\) and yields no batches \(batch size 4 with dropLast\).*smaller batchSize or dropLast: false/,
    );
  });
});

describe("damaged checkpoints", () => {
  /** Train 2 epochs into `ck`, then damage `latest/<file>` with `damage`. */
  async function trainedThenDamaged(name: string, file: string, damage: (f: string) => void): Promise<string> {
    const ck = path.join(dir, name);
    await trainModel(model(), data(), { ...base, checkpointDir: ck });
    damage(path.join(ck, "latest", file));
    return ck;
  }
  const truncate = (f: string) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2));
  const cases: [string, string, (f: string) => void][] = [
    ["truncated weights.bin", "weights.bin", truncate],
    ["truncated optimizer.bin", "optimizer.bin", truncate],
    ["empty state.json", "state.json", (f) => fs.writeFileSync(f, "")],
    ["truncated state.json", "state.json", truncate],
  ];
  for (const [what, file, damage] of cases) {
    it(`${what}: resumes from the intact previous checkpoint, naming the damaged file`, async () => {
      const ck = await trainedThenDamaged(what.replace(/\W+/g, "-"), file, damage);
      const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
      try {
        const h = await trainModel(model(), data(), { ...base, epochs: 3, checkpointDir: ck });
        expect(h.startEpoch).toBe(1); // latest (epoch 2) was damaged: epoch 1's checkpoint is the intact one
        expect(h.epochs.map((e) => e.epoch)).toEqual([0, 1, 2]);
        expect(warn.mock.calls.map((c) => String(c[0])).join("\n")).toMatch(new RegExp(`${file.replace(".", "\\.")} is .*resuming from the previous checkpoint`));
      } finally {
        warn.mockRestore();
      }
    });
  }

  it("when every checkpoint is damaged, a CheckpointError names the file and the fix", async () => {
    const ck = await trainedThenDamaged("both", "weights.bin", truncate);
    truncate(path.join(ck, "latest.old", "weights.bin"));
    const e = await trainModel(model(), data(), { ...base, epochs: 3, checkpointDir: ck }).then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as Error).message).toMatch(/Checkpoint file .*latest[\\/]weights\.bin is \d+ bytes, but weights\.json describes \d+.*Delete .* \(or pass resume: false\)/);
    for (const d of ["latest", "latest.old"]) fs.writeFileSync(path.join(ck, d, "state.json"), "");
    expect(checkpointEpoch(ck)).toBeUndefined(); // the probe does not throw raw SyntaxErrors either
  });
});

describe("checkpointDir that cannot be written", () => {
  it("a file: refused before the first batch trains", async () => {
    const f = path.join(dir, "a-file");
    fs.writeFileSync(f, "x");
    let batches = 0;
    await expect(trainModel(model(), data(), { ...base, checkpointDir: f, callbacks: { onBatchEnd: () => void batches++ } })).rejects.toThrow(
      /checkpointDir .*a-file is a file, not a folder/,
    );
    expect(batches).toBe(0);
  });

  const canMount = process.getuid?.() === 0 && spawnSync("mount", ["--version"]).status === 0;
  it.skipIf(!canMount)("a read-only file system: refused before the first batch trains", async () => {
    const mnt = fs.mkdtempSync(path.join(dir, "ro-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", mnt]);
    } catch {
      return; // this container may not mount: nothing to check here
    }
    try {
      let batches = 0;
      await expect(trainModel(model(), data(), { ...base, checkpointDir: path.join(mnt, "ck"), callbacks: { onBatchEnd: () => void batches++ } })).rejects.toThrow(
        /Cannot write checkpoints to .*ck \(EROFS: read-only file system\)/,
      );
      expect(batches).toBe(0);
    } finally {
      spawnSync("umount", [mnt]);
    }
  });
});

describe("NaN stop", () => {
  it("leaves the model with the weights from before the bad batch (BatchNorm statistics included)", async () => {
    const m = model();
    let good: number[][] = [];
    const err = await trainModel(m, data({ nanFrom: 8 }), {
      ...base, epochs: 1,
      callbacks: { onBatchEnd: (b) => { if (b.batch === 1) good = weightsOf(m); } },
    }).then(() => undefined, (x: unknown) => x);
    expect(String(err)).toMatch(/Loss became NaN at epoch 1, batch 3.*keeps its last good weights/);
    const now = weightsOf(m);
    expect(now.flat().every(Number.isFinite)).toBe(true);
    expect(now).toEqual(good);
  });
});

describe("stale temporary checkpoint folders", () => {
  it("latest.tmp-<pid> and best.tmp-<pid> of a dead process are removed on the next run", async () => {
    const ck = path.join(dir, "stale");
    const dead = spawnSync("true").pid!;
    for (const d of [`latest.tmp-${dead}`, `best.tmp-${dead}`]) fs.mkdirSync(path.join(ck, d), { recursive: true });
    fs.writeFileSync(path.join(ck, `latest.tmp-${dead}`, "weights.bin"), "half");
    await trainModel(model(), data(), { ...base, epochs: 1, checkpointDir: ck });
    expect(fs.readdirSync(ck).sort()).toEqual(["best", "latest"]);
  });
});

describe("durable checkpoint writes", () => {
  it("every checkpoint file is fsynced before the rename that publishes it", async () => {
    // Patch the CommonJS fs object and push it to the ESM namespace the helpers import (node:module's documented hook).
    const cjs = createRequire(__filename)("node:fs") as typeof fs;
    const orig = { openSync: cjs.openSync, fsyncSync: cjs.fsyncSync, renameSync: cjs.renameSync };
    const fdPath = new Map<number, string>();
    const log: string[] = [];
    cjs.openSync = ((p: fs.PathLike, ...rest: unknown[]) => {
      const fd = (orig.openSync as (...a: unknown[]) => number)(p, ...rest);
      fdPath.set(fd, String(p));
      return fd;
    }) as typeof fs.openSync;
    cjs.fsyncSync = ((fd: number) => { log.push(`fsync ${fdPath.get(fd)}`); orig.fsyncSync(fd); }) as typeof fs.fsyncSync;
    cjs.renameSync = ((a: fs.PathLike, b: fs.PathLike) => { log.push(`rename ${a} -> ${b}`); orig.renameSync(a, b); }) as typeof fs.renameSync;
    syncBuiltinESMExports();
    const ck = path.join(dir, "durable");
    try {
      await trainModel(model(), data(), { ...base, epochs: 1, checkpointDir: ck });
    } finally {
      Object.assign(cjs, orig);
      syncBuiltinESMExports();
    }
    const latest = path.join(ck, "latest");
    const publish = log.findIndex((l) => l.startsWith("rename ") && l.endsWith(`-> ${latest}`));
    expect(publish, log.join("\n")).toBeGreaterThan(0);
    const tmp = log[publish]!.slice("rename ".length).split(" -> ")[0]!;
    for (const f of fs.readdirSync(latest)) {
      const i = log.indexOf(`fsync ${path.join(tmp, f)}`);
      expect(i, `${f} fsynced before publishing`).toBeGreaterThanOrEqual(0);
      expect(i).toBeLessThan(publish);
    }
  });
});
