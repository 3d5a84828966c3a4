/** Raw tensor files for checkpoints: `<name>.bin` (concatenated little-endian data) + `<name>.json` (names, shapes, dtypes). */
import * as tf from "@tensorflow/tfjs";
import * as fs from "node:fs";
import * as path from "node:path";

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
  fs.writeFileSync(path.join(dir, `${name}.bin`), Buffer.concat(bufs));
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(entries));
}

export function readTensors(dir: string, name: string): SavedTensor[] {
  const entries = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), "utf8")) as { name: string; shape: number[]; dtype: string; offset: number; length: number }[];
  const raw = fs.readFileSync(path.join(dir, `${name}.bin`));
  const buf = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  return entries.map((e) => ({
    name: e.name,
    shape: e.shape,
    dtype: e.dtype,
    values: e.dtype === "int32" ? new Int32Array(buf, e.offset, e.length) : new Float32Array(buf, e.offset, e.length),
  }));
}
