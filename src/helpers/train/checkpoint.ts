/**
 * Checkpoint I/O for `trainModel`: `<dir>/latest/` (weights, optimizer state, RNG state, history: everything a
 * resumed run needs to replay the same numbers) after every epoch, and `<dir>/best/` (the best epoch's weights,
 * and for layers models a browser-loadable TF.js model) whenever the monitored metric improves.
 */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";
import type { RngState } from "../pipeline/rng";
import { fileIOHandler } from "../models/io";
import type { GroupedOptimizer, OptimizerWeight } from "./optimizers";
import type { TrainingHistory } from "./history";
import { isLayersModel, stateTensors, type TrainTarget } from "./target";
import { readTensors, writeTensors } from "./tensorFiles";
import { CheckpointError, fsyncDir, writeFileDurable } from "./durable";

/** Bumped when the checkpoint layout changes (2: the RNG state is the pipeline Rng's four words). */
export const CHECKPOINT_VERSION = 2;

/** The loop's state besides tensors, as saved in `latest/state.json`. */
export interface CheckpointState {
  version: typeof CHECKPOINT_VERSION;
  epoch: number;
  history: TrainingHistory;
  rngState: RngState;
  wait: number;
  bestValue: number | null;
  stopped: boolean;
}

/**
 * Replace `dir` with `tmp` atomically enough: a crash leaves either the old or the new folder (we read `.old` as fallback).
 * With `keepOld` the previous folder stays as `<dir>.old`, the intact fallback should `dir` later prove damaged.
 */
function swapDir(tmp: string, dir: string, keepOld = false): void {
  const old = `${dir}.old`;
  fsyncDir(tmp);
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(dir)) fs.renameSync(dir, old);
  fs.renameSync(tmp, dir);
  fsyncDir(path.dirname(dir));
  if (!keepOld) fs.rmSync(old, { recursive: true, force: true });
}

/** A fresh temporary sibling of `dir`, filled by `fill`, then swapped into place. */
async function writeDir(dir: string, fill: (tmp: string) => Promise<void>, keepOld = false): Promise<void> {
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  await fill(tmp);
  swapDir(tmp, dir, keepOld);
}

function weightTensors(target: TrainTarget): { name: string; tensor: tf.Tensor }[] {
  return stateTensors(target).map((s) => ({ name: s.name, tensor: s.variable }));
}

/** Save the end-of-epoch state in `<checkpointDir>/latest/`. */
export async function saveLatestCheckpoint(
  checkpointDir: string, target: TrainTarget, opt: tf.Optimizer | GroupedOptimizer, state: CheckpointState,
): Promise<void> {
  fs.mkdirSync(checkpointDir, { recursive: true });
  await writeDir(path.join(checkpointDir, "latest"), async (tmp) => {
    await writeTensors(tmp, "weights", weightTensors(target));
    const ow = (await opt.getWeights()) as OptimizerWeight[];
    await writeTensors(tmp, "optimizer", ow);
    // getWeights() makes a fresh scalar for the iteration count; dispose it so checkpoints do not leak tensors.
    for (const w of ow) if (w.name === "iter" || w.name.endsWith("::iter")) w.tensor.dispose();
    writeFileDurable(path.join(tmp, "state.json"), JSON.stringify(state));
  }, true);
}

/** Save the best epoch's weights in `<checkpointDir>/best/`: raw tensors (for resume) and, for layers models, a TF.js model. */
export async function saveBestCheckpoint(
  checkpointDir: string, target: TrainTarget, best: { epoch: number; monitor: string; value: number },
): Promise<void> {
  await writeDir(path.join(checkpointDir, "best"), async (tmp) => {
    await writeTensors(tmp, "weights", weightTensors(target));
    if (isLayersModel(target)) await target.save(fileIOHandler(tmp));
    writeFileDurable(path.join(tmp, "best.json"), JSON.stringify(best));
  });
}

function restoreWeights(dir: string, target: TrainTarget): void {
  const saved = readTensors(dir, "weights");
  const vars = stateTensors(target);
  if (saved.length !== vars.length) {
    throw new Error(`Checkpoint ${dir} holds ${saved.length} weight tensors but the model has ${vars.length}: it was written for another model. Delete it or use another checkpointDir.`);
  }
  vars.forEach((v, i) => {
    const s = saved[i];
    if (s.shape.join(",") !== v.variable.shape.join(",")) {
      throw new Error(`Checkpoint ${dir}: weight ${i} ('${s.name}') has shape [${s.shape}] but the model's '${v.name}' is [${v.variable.shape}]. Delete the checkpoint or use the model it was written for.`);
    }
    const t = tf.tensor(s.values, s.shape, s.dtype as tf.DataType);
    v.variable.assign(t);
    t.dispose();
  });
}

async function restoreOptimizer(dir: string, opt: tf.Optimizer | GroupedOptimizer): Promise<void> {
  const saved = readTensors(dir, "optimizer");
  const ws = saved.map((s) => ({ name: s.name, tensor: tf.tensor(s.values, s.shape, s.dtype as tf.DataType) }));
  await opt.setWeights(ws as any);
  ws.forEach((w) => w.tensor.dispose());
}

function readState(dir: string): CheckpointState | undefined {
  const f = path.join(dir, "state.json");
  if (!fs.existsSync(f)) return undefined;
  let st: CheckpointState;
  try {
    st = JSON.parse(fs.readFileSync(f, "utf8")) as CheckpointState;
    if (!st || typeof st !== "object" || !Number.isInteger(st.epoch) || !st.history || !Array.isArray(st.history.epochs)) throw new Error("fields missing");
  } catch (e) {
    throw new CheckpointError(f, `Checkpoint file ${f} is damaged (${(e as Error).message}): a run killed while writing it, or a full disk. Delete ${dir} (or pass resume: false) to start over.`);
  }
  if (st.version !== CHECKPOINT_VERSION) {
    throw new Error(
      `The checkpoint in ${dir} has format version ${String(st.version)}, but these helpers read version ${CHECKPOINT_VERSION}. ` +
        `Delete that folder to start over, or pass resume: false.`,
    );
  }
  return st;
}

/** The last completed epoch of `latest/`, else of `latest.old/` (kept as the fallback); damaged ones are skipped. */
export function checkpointEpoch(checkpointDir: string): number | undefined {
  for (const d of ["latest", "latest.old"]) {
    try {
      const state = readState(path.join(checkpointDir, d));
      if (state) return state.epoch;
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e; // loadLatestCheckpoint falls back the same way
    }
  }
  return undefined;
}

/**
 * Restore weights and optimizer state from the newest intact checkpoint, `latest/`, else the previous one kept in
 * `latest.old/` (with a warning naming the damaged file), and return its loop state. Undefined when there is none;
 * a CheckpointError naming the file when every one is damaged.
 */
export async function loadLatestCheckpoint(
  checkpointDir: string, target: TrainTarget, opt: tf.Optimizer | GroupedOptimizer,
): Promise<CheckpointState | undefined> {
  let damage: CheckpointError | undefined;
  for (const d of ["latest", "latest.old"]) {
    const dir = path.join(checkpointDir, d);
    try {
      const state = readState(dir);
      if (!state) continue;
      restoreWeights(dir, target);
      await restoreOptimizer(dir, opt);
      if (damage) console.warn(`${damage.message.split(";")[0]}; resuming from the previous checkpoint ${dir} (epoch ${state.epoch + 1}) instead.`);
      return state;
    } catch (e) {
      if (!(e instanceof CheckpointError)) throw e;
      damage ??= e;
    }
  }
  if (damage) throw damage;
  return undefined;
}

/** The best epoch's weights as kept tensors, in `stateTensors` order (undefined when no best/ was saved). */
export function loadBestWeights(checkpointDir: string): tf.Tensor[] | undefined {
  const best = path.join(checkpointDir, "best");
  if (!fs.existsSync(path.join(best, "weights.json"))) return undefined;
  return readTensors(best, "weights").map((s) => tf.keep(tf.tensor(s.values, s.shape, s.dtype as tf.DataType)));
}
