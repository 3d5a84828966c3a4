/** Raw tensor files for checkpoints: `<name>.bin` (concatenated little-endian data) + `<name>.json` (names, shapes, dtypes). */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";
import { CheckpointError, writeFileDurable } from "./durable";

export interface SavedTensor {
  name: string;
  shape: number[];
  dtype: string;
  values: Float32Array | Int32Array;
}

export async function writeTensors(dir: string, name: string, items: { name: string; tensor: tf.Tensor }[]): Promise<void> {
  const entries: { name: string; shape: number[]; dtype: string; offset: number; length: number }[] = [];
  const bufs: Buffer[] = [];
  let offset = 0;
  for (const it of items) {
    const v = await it.tensor.data();
    const arr = it.tensor.dtype === "int32" ? Int32Array.from(v as Int32Array) : Float32Array.from(v as Float32Array);
    const b = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
    entries.push({ name: it.name, shape: it.tensor.shape, dtype: it.tensor.dtype === "int32" ? "int32" : "float32", offset, length: arr.length });
    bufs.push(b);
    offset += b.length;
  }
  writeFileDurable(path.join(dir, `${name}.bin`), Buffer.concat(bufs));
  writeFileDurable(path.join(dir, `${name}.json`), JSON.stringify(entries));
}

/** Read what writeTensors wrote; a missing, truncated or garbled file is a CheckpointError naming it. */
export function readTensors(dir: string, name: string): SavedTensor[] {
  const jsonFile = path.join(dir, `${name}.json`);
  const binFile = path.join(dir, `${name}.bin`);
  const damaged = (file: string, what: string) =>
    new CheckpointError(file, `Checkpoint file ${file} is ${what}; the checkpoint is damaged (a run killed while writing it, or a full disk). Delete ${dir} (or pass resume: false) to start over.`);
  let entries: { name: string; shape: number[]; dtype: string; offset: number; length: number }[];
  try {
    entries = JSON.parse(fs.readFileSync(jsonFile, "utf8"));
  } catch (e) {
    throw damaged(jsonFile, (e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : `not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(entries)) throw damaged(jsonFile, "not a list of tensors");
  let raw: Buffer;
  try {
    raw = fs.readFileSync(binFile);
  } catch (e) {
    throw damaged(binFile, (e as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : `unreadable (${(e as Error).message})`);
  }
  let expected = 0;
  for (const e of entries) {
    const n = Array.isArray(e?.shape) ? e.shape.reduce((a, b) => a * b, 1) : NaN;
    if (!Number.isInteger(e?.offset) || !Number.isInteger(e?.length) || e.length !== n || e.offset % 4 !== 0) throw damaged(jsonFile, `inconsistent (entry ${JSON.stringify(e)?.slice(0, 80)})`);
    expected = Math.max(expected, e.offset + 4 * e.length);
  }
  if (raw.length !== expected) throw damaged(binFile, `${raw.length} bytes, but ${path.basename(jsonFile)} describes ${expected}`);
  // A fresh copy: Buffer pools may place `raw` at an offset that is not 4-byte aligned.
  const buf = new Uint8Array(raw).buffer;
  return entries.map((e) => ({
    name: e.name,
    shape: e.shape,
    dtype: e.dtype,
    values: e.dtype === "int32" ? new Int32Array(buf, e.offset, e.length) : new Float32Array(buf, e.offset, e.length),
  }));
}
