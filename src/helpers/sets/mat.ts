/**
 * Minimal reader for MATLAB level-5 MAT files (the format of Stanford Dogs' lists/*.mat):
 * numeric arrays, char arrays and cell arrays, compressed (miCOMPRESSED) or not, either byte order.
 * Structs, sparse and object arrays are returned as `{ type: "unsupported" }`. MAT v7.3 (HDF5) is not supported.
 */
import * as zlib from "node:zlib";

export type MatValue =
  | { type: "numeric"; class: string; dims: number[]; data: number[] }
  | { type: "char"; dims: number[]; /** one string per row (a 1xN char array gives one string) */ rows: string[] }
  | { type: "cell"; dims: number[]; items: MatValue[] }
  | { type: "unsupported"; class: number; dims: number[] };

const MI = { INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9, INT64: 12, UINT64: 13, MATRIX: 14, COMPRESSED: 15, UTF8: 16, UTF16: 17, UTF32: 18 };
const CLASS_NAMES: Record<number, string> = { 6: "double", 7: "single", 8: "int8", 9: "uint8", 10: "int16", 11: "uint16", 12: "int32", 13: "uint32", 14: "int64", 15: "uint64" };

class Reader {
  constructor(readonly b: Buffer, readonly le: boolean, readonly label: string) {}
  u32(o: number) { return this.le ? this.b.readUInt32LE(o) : this.b.readUInt32BE(o); }
  fail(msg: string): never { throw new Error(`${this.label}: ${msg}; the MAT file is corrupt or not a MAT v5 file.`); }
  /** Read one data element's tag at `o`: type, size, offset of its data, offset after it (padded). */
  tag(o: number): { type: number; size: number; data: number; next: number } {
    if (o + 8 > this.b.length) {
      // A small element needs only 4 bytes of tag, but still occupies 8 in total.
      if (o + 4 > this.b.length) this.fail(`element at byte ${o} runs past the end`);
    }
    const first = this.u32(o);
    const small = first >>> 16;
    if (small !== 0) return { type: first & 0xffff, size: small, data: o + 4, next: o + 8 };
    const size = this.u32(o + 4);
    const type = first;
    if (o + 8 + size > this.b.length) this.fail(`element at byte ${o} (${size} bytes) runs past the end`);
    // Compressed elements are not padded; others are padded to 8 bytes.
    const next = type === MI.COMPRESSED ? o + 8 + size : o + 8 + Math.ceil(size / 8) * 8;
    return { type, size, data: o + 8, next };
  }
  numbers(type: number, o: number, size: number): number[] {
    const b = this.b;
    const out: number[] = [];
    const le = this.le;
    const step: Record<number, number> = { [MI.INT8]: 1, [MI.UINT8]: 1, [MI.UTF8]: 1, [MI.INT16]: 2, [MI.UINT16]: 2, [MI.UTF16]: 2, [MI.INT32]: 4, [MI.UINT32]: 4, [MI.UTF32]: 4, [MI.SINGLE]: 4, [MI.DOUBLE]: 8, [MI.INT64]: 8, [MI.UINT64]: 8 };
    const s = step[type];
    if (!s) this.fail(`unsupported data type ${type}`);
    for (let p = o; p + s <= o + size; p += s) {
      switch (type) {
        case MI.INT8: out.push(b.readInt8(p)); break;
        case MI.UINT8: case MI.UTF8: out.push(b.readUInt8(p)); break;
        case MI.INT16: out.push(le ? b.readInt16LE(p) : b.readInt16BE(p)); break;
        case MI.UINT16: case MI.UTF16: out.push(le ? b.readUInt16LE(p) : b.readUInt16BE(p)); break;
        case MI.INT32: out.push(le ? b.readInt32LE(p) : b.readInt32BE(p)); break;
        case MI.UINT32: case MI.UTF32: out.push(le ? b.readUInt32LE(p) : b.readUInt32BE(p)); break;
        case MI.SINGLE: out.push(le ? b.readFloatLE(p) : b.readFloatBE(p)); break;
        case MI.DOUBLE: out.push(le ? b.readDoubleLE(p) : b.readDoubleBE(p)); break;
        case MI.INT64: out.push(Number(le ? b.readBigInt64LE(p) : b.readBigInt64BE(p))); break;
        case MI.UINT64: out.push(Number(le ? b.readBigUInt64LE(p) : b.readBigUInt64BE(p))); break;
      }
    }
    return out;
  }
  /** Parse a miMATRIX element whose data spans [o, end). Returns its name and value. */
  matrix(o: number, end: number): { name: string; value: MatValue } {
    if (o >= end) return { name: "", value: { type: "numeric", class: "double", dims: [0, 0], data: [] } };
    const flagsTag = this.tag(o);
    const flags = this.u32(flagsTag.data);
    const cls = flags & 0xff;
    const dimsTag = this.tag(flagsTag.next);
    const dims = this.numbers(dimsTag.type, dimsTag.data, dimsTag.size);
    const nameTag = this.tag(dimsTag.next);
    const name = this.b.toString("latin1", nameTag.data, nameTag.data + nameTag.size);
    let p = nameTag.next;
    const count = dims.reduce((a, x) => a * x, 1);
    if (cls === 1) {
      const items: MatValue[] = [];
      for (let i = 0; i < count; i++) {
        const t = this.tag(p);
        if (t.type !== MI.MATRIX) this.fail(`cell element ${i} of '${name}' has type ${t.type}, expected a matrix`);
        items.push(this.matrix(t.data, t.data + t.size).value);
        p = t.next;
      }
      return { name, value: { type: "cell", dims, items } };
    }
    if (cls === 4) {
      const t = this.tag(p);
      let codes: number[];
      if (t.type === MI.UTF8) codes = [...Buffer.from(this.b.subarray(t.data, t.data + t.size)).toString("utf8")].map((c) => c.codePointAt(0)!);
      else codes = this.numbers(t.type, t.data, t.size);
      // Column-major: row r is codes[r], codes[r + m], codes[r + 2m], ...
      const m = dims[0] ?? 0;
      const n = dims.slice(1).reduce((a, x) => a * x, 1);
      const rows: string[] = [];
      for (let r = 0; r < m; r++) {
        let s = "";
        for (let c = 0; c < n; c++) {
          const code = codes[r + c * m];
          if (code !== undefined) s += String.fromCodePoint(code);
        }
        rows.push(s);
      }
      return { name, value: { type: "char", dims, rows } };
    }
    if (CLASS_NAMES[cls]) {
      const t = this.tag(p);
      const data = this.numbers(t.type, t.data, t.size);
      return { name, value: { type: "numeric", class: CLASS_NAMES[cls]!, dims, data } };
    }
    return { name, value: { type: "unsupported", class: cls, dims } };
  }
}

/** Parse a MAT v5 file's variables by name. */
export function parseMat(bytes: Uint8Array, label = "MAT file"): Record<string, MatValue> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 128) throw new Error(`${label} is too short to be a MAT file.`);
  const text = buf.toString("latin1", 0, 116);
  if (text.startsWith("\x89HDF") || buf.toString("latin1", 512, 516) === "\x89HDF") {
    throw new Error(`${label} is a MAT v7.3 (HDF5) file, which is not supported; save it with -v7 or use the .txt lists.`);
  }
  const endian = buf.toString("latin1", 126, 128);
  if (endian !== "IM" && endian !== "MI") throw new Error(`${label} is not a MAT v5 file (no 'MATLAB 5.0' header).`);
  const le = endian === "IM";
  const vars: Record<string, MatValue> = {};
  let o = 128;
  const top = new Reader(buf, le, label);
  while (o + 8 <= buf.length) {
    const t = top.tag(o);
    if (t.type === MI.COMPRESSED) {
      let inner: Buffer;
      try {
        inner = zlib.inflateSync(buf.subarray(t.data, t.data + t.size));
      } catch (e) {
        throw new Error(`${label}: compressed element at byte ${o} is corrupt (${(e as Error).message}).`);
      }
      const r = new Reader(inner, le, label);
      const it = r.tag(0);
      if (it.type === MI.MATRIX) {
        const { name, value } = r.matrix(it.data, it.data + it.size);
        vars[name] = value;
      }
    } else if (t.type === MI.MATRIX) {
      const { name, value } = top.matrix(t.data, t.data + t.size);
      vars[name] = value;
    }
    o = t.next;
  }
  return vars;
}

/** A cell array of strings (e.g. file_list) as string[]; throws naming the variable if it is not one. */
export function matStrings(vars: Record<string, MatValue>, name: string, label = "MAT file"): string[] {
  const v = vars[name];
  if (!v) throw new Error(`${label} has no variable '${name}' (it has: ${Object.keys(vars).join(", ") || "none"}).`);
  if (v.type === "char") return v.rows;
  if (v.type !== "cell") throw new Error(`${label}: '${name}' is a ${v.type} array, expected a cell array of strings.`);
  return v.items.map((it, i) => {
    if (it.type !== "char") throw new Error(`${label}: '${name}'{${i + 1}} is a ${it.type} array, expected a string.`);
    return it.rows.join("");
  });
}

/** A numeric array (e.g. labels) as number[]. */
export function matNumbers(vars: Record<string, MatValue>, name: string, label = "MAT file"): number[] {
  const v = vars[name];
  if (!v) throw new Error(`${label} has no variable '${name}' (it has: ${Object.keys(vars).join(", ") || "none"}).`);
  if (v.type !== "numeric") throw new Error(`${label}: '${name}' is a ${v.type} array, expected numbers.`);
  return v.data;
}
