/** The IDX file format of MNIST and Fashion-MNIST. */
import * as zlib from "node:zlib";

/** A parsed IDX file: unsigned-byte data and its dimensions. */
export interface IdxArray {
  data: Uint8Array;
  shape: number[];
}

/** Parse an IDX file (optionally gzipped): magic 0x00 0x00 0x08 <ndim>, big-endian uint32 dims, uint8 data. */
export function parseIdx(bytes: Uint8Array, label = "IDX data"): IdxArray {
  let b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = zlib.gunzipSync(b);
    } catch (e) {
      throw new Error(`${label}: gzip data is corrupt (${(e as Error).message}); delete the file and download it again.`);
    }
  }
  if (b.length < 4 || b[0] !== 0 || b[1] !== 0) throw new Error(`${label} is not an IDX file (bad magic number).`);
  if (b[2] !== 0x08) throw new Error(`${label}: IDX element type 0x${b[2]!.toString(16)} is not supported (only unsigned bytes, 0x08).`);
  const ndim = b[3]!;
  if (b.length < 4 + 4 * ndim) throw new Error(`${label}: truncated IDX header.`);
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(b.readUInt32BE(4 + 4 * i));
  const n = shape.reduce((a, x) => a * x, 1);
  const start = 4 + 4 * ndim;
  if (b.length !== start + n) throw new Error(`${label}: expected ${n} data bytes for shape [${shape.join(", ")}], found ${b.length - start}; the file is truncated.`);
  return { data: new Uint8Array(b.buffer, b.byteOffset + start, n), shape };
}
