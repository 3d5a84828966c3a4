/**
 * Read a PyTorch checkpoint (`torch.save` output) into plain typed arrays, without Python and without executing
 * anything: the zip container (PyTorch >= 1.6: `<name>/data.pkl` plus one `<name>/data/<key>` file per storage) and
 * the legacy format (older files such as torchvision's AlexNet and VGG weights: a few pickles back to back, then
 * the raw storages). The pickles go through the safe unpickler in ./pickle.
 */
import * as fs from "node:fs";
import * as yauzl from "yauzl";
import { PickleStorage, PickleTensor, PickleTuple, PickleValue, STORAGE_TYPES, UnsafePickleError, storageFromPersistentId, unpickle } from "./pickle";

/** Thrown for files that are not readable PyTorch checkpoints; the message names the file and the problem. */
export class PthFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PthFormatError";
  }
}

/** One tensor of a state dict, converted to float32 in C-contiguous (row-major) order of `shape`. */
export interface TorchTensor {
  shape: number[];
  /** The storage's element type as torch names it, e.g. "FloatStorage", "LongStorage". */
  storageType: string;
  data: Float32Array;
}

/** Parameter name -> tensor, in the file's order. */
export type StateDict = Map<string, TorchTensor>;

// The legacy format starts with a pickled magic number and protocol version (torch/serialization.py).
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

function readZipEntries(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, zip) => {
      if (err || !zip) return reject(new PthFormatError(`${file} is not a readable zip archive (${err?.message}): a truncated download? Delete it and load again.`));
      const out = new Map<string, Buffer>();
      zip.on("error", (e) => reject(new PthFormatError(`${file}: zip error (${(e as Error).message}); the file is damaged, delete it and load again.`)));
      zip.on("end", () => resolve(out));
      zip.on("entry", (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith("/")) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(new PthFormatError(`${file}: cannot read ${entry.fileName} (${e?.message}).`));
          const parts: Buffer[] = [];
          stream.on("data", (c: Buffer) => parts.push(c));
          stream.on("error", (se) => reject(new PthFormatError(`${file}: cannot read ${entry.fileName} (${se.message}).`)));
          stream.on("end", () => {
            out.set(entry.fileName, Buffer.concat(parts));
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

/** Copy a tensor view out of its storage bytes as float32, following sizes and strides. */
function materialize(name: string, t: PickleTensor, bytes: Uint8Array, source: string): TorchTensor {
  const type = t.storage.type;
  const esize = STORAGE_TYPES[type];
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.stride.length !== t.shape.length) throw new PthFormatError(`${source}: tensor '${name}' has ${t.shape.length} sizes but ${t.stride.length} strides.`);
  if (bytes.length < t.storage.numel * esize) {
    throw new PthFormatError(`${source}: storage ${t.storage.key} of '${name}' holds ${bytes.length} bytes, expected ${t.storage.numel * esize} (truncated file?).`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const get: (i: number) => number = (() => {
    switch (type) {
      case "FloatStorage": return (i) => dv.getFloat32(i * 4, true);
      case "DoubleStorage": return (i) => dv.getFloat64(i * 8, true);
      case "HalfStorage": return (i) => halfToFloat(dv.getUint16(i * 2, true));
      case "BFloat16Storage": return (i) => { const f = new DataView(new ArrayBuffer(4)); f.setUint32(0, dv.getUint16(i * 2, true) << 16); return f.getFloat32(0); };
      case "LongStorage": return (i) => Number(dv.getBigInt64(i * 8, true));
      case "IntStorage": return (i) => dv.getInt32(i * 4, true);
      case "ShortStorage": return (i) => dv.getInt16(i * 2, true);
      case "CharStorage": return (i) => dv.getInt8(i);
      default: return (i) => dv.getUint8(i);
    }
  })();
  const out = new Float32Array(n);
  if (n === 0) return { shape: t.shape, storageType: type, data: out };
  let maxIndex = t.offset;
  t.shape.forEach((s, d) => (maxIndex += (s - 1) * t.stride[d]));
  if (t.offset < 0 || maxIndex >= t.storage.numel) throw new PthFormatError(`${source}: tensor '${name}' reaches element ${maxIndex} of a ${t.storage.numel}-element storage.`);
  const contiguous = t.stride.every((s, d) => t.shape[d] === 1 || s === t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
  if (contiguous && type === "FloatStorage") {
    new Uint8Array(out.buffer).set(bytes.subarray(t.offset * 4, (t.offset + n) * 4));
    return { shape: t.shape, storageType: type, data: out };
  }
  const idx = new Array(t.shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let off = t.offset;
    for (let d = 0; d < idx.length; d++) off += idx[d] * t.stride[d];
    out[k] = get(off);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return { shape: t.shape, storageType: type, data: out };
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/**
 * Find the state dict in an unpickled checkpoint: the top-level dict itself, or its `state_dict` / `model` entry
 * (training checkpoints), with DataParallel's `module.` prefix removed.
 */
function findStateDict(root: PickleValue, source: string): Map<string, PickleTensor> {
  let d = root;
  if (d instanceof Map) {
    for (const k of ["state_dict", "model", "model_state_dict"]) {
      const inner = d.get(k);
      if (inner instanceof Map) {
        d = inner;
        break;
      }
    }
  }
  if (!(d instanceof Map)) throw new PthFormatError(`${source} holds a ${d instanceof PickleTuple ? "tuple" : Array.isArray(d) ? "list" : typeof d}, not a state dict.`);
  const out = new Map<string, PickleTensor>();
  for (const [k, v] of d) {
    if (typeof k !== "string") throw new PthFormatError(`${source}: state dict key ${String(k)} is not a string.`);
    if (v && typeof v === "object" && "kind" in v && v.kind === "tensor") out.set(k, v);
    else throw new PthFormatError(`${source}: entry '${k}' is not a tensor; is this a state dict (torch.save(model.state_dict(), path))?`);
  }
  const keys = [...out.keys()];
  if (keys.length && keys.every((k) => k.startsWith("module."))) return new Map([...out].map(([k, v]) => [k.slice("module.".length), v]));
  return out;
}

async function readZip(file: string): Promise<StateDict> {
  const entries = await readZipEntries(file);
  const pklName = [...entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pklName) throw new PthFormatError(`${file} is a zip archive without <name>/data.pkl: not a PyTorch checkpoint.`);
  const prefix = pklName.slice(0, -"data.pkl".length);
  const source = `${file}: ${pklName}`;
  const { value } = unpickle(entries.get(pklName)!, 0, { source, persistentLoad: (pid) => storageFromPersistentId(pid, source) });
  const tensors = findStateDict(value, file);
  const out: StateDict = new Map();
  for (const [name, t] of tensors) {
    const bytes = entries.get(`${prefix}data/${t.storage.key}`);
    if (!bytes) throw new PthFormatError(`${file}: storage ${prefix}data/${t.storage.key} of '${name}' is missing from the archive.`);
    out.set(name, materialize(name, t, bytes, file));
  }
  return out;
}

function readLegacy(file: string, buf: Buffer): StateDict {
  const source = `${file} (legacy format)`;
  let r = unpickle(buf, 0, { source });
  if (r.value !== Number(LEGACY_MAGIC) && r.value !== LEGACY_MAGIC) throw new PthFormatError(`${file} is neither a zip archive nor a legacy PyTorch file (no magic number).`);
  r = unpickle(buf, r.end, { source });
  if (r.value !== LEGACY_PROTOCOL) throw new PthFormatError(`${file}: legacy protocol version ${String(r.value)} is not supported (expected ${LEGACY_PROTOCOL}).`);
  r = unpickle(buf, r.end, { source }); // sys_info: endianness and type sizes
  const info = r.value;
  if (info instanceof Map && info.get("little_endian") === false) throw new PthFormatError(`${file} was saved on a big-endian machine; re-save it on a little-endian one.`);
  const storages = new Map<string, PickleStorage>();
  r = unpickle(buf, r.end, {
    source,
    persistentLoad: (pid) => {
      if (pid instanceof PickleTuple && pid.items.length >= 6 && pid.items[5] !== null) {
        throw new PthFormatError(`${source}: storage views are not supported; re-save the file with a current PyTorch (torch.save(torch.load(f), f2)).`);
      }
      const s = storageFromPersistentId(pid, source);
      if (!storages.has(s.key)) storages.set(s.key, s);
      return storages.get(s.key)!;
    },
  });
  const tensors = findStateDict(r.value, file);
  const keysR = unpickle(buf, r.end, { source });
  if (!Array.isArray(keysR.value)) throw new PthFormatError(`${source}: expected the list of storage keys after the object.`);
  // Raw storages follow in key order, each as an int64 element count and its bytes.
  let pos = keysR.end;
  const data = new Map<string, Uint8Array>();
  for (const k of keysR.value) {
    const key = String(k);
    const s = storages.get(key);
    if (!s) throw new PthFormatError(`${source}: storage key ${key} is listed but not used by any tensor.`);
    if (pos + 8 > buf.length) throw new PthFormatError(`${source}: file ends before storage ${key} (truncated download?).`);
    const numel = Number(buf.readBigInt64LE(pos));
    pos += 8;
    const len = numel * STORAGE_TYPES[s.type];
    if (pos + len > buf.length) throw new PthFormatError(`${source}: storage ${key} needs ${len} bytes but the file ends ${buf.length - pos} bytes later (truncated download?).`);
    data.set(key, buf.subarray(pos, pos + len));
    pos += len;
  }
  const out: StateDict = new Map();
  for (const [name, t] of tensors) {
    const bytes = data.get(t.storage.key);
    if (!bytes) throw new PthFormatError(`${source}: storage ${t.storage.key} of '${name}' is missing.`);
    out.set(name, materialize(name, t, bytes, file));
  }
  return out;
}

/** Read a `.pth` state dict (zip or legacy format). Refuses (UnsafePickleError) anything that is not plain tensors. */
export async function readPth(file: string): Promise<StateDict> {
  if (!fs.existsSync(file)) throw new PthFormatError(`PyTorch file not found: ${file}`);
  const fd = fs.openSync(file, "r");
  const head = Buffer.alloc(4);
  try {
    fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.readUInt32LE(0) === 0x04034b50) return readZip(file);
  if (head[0] === 0x80) return readLegacy(file, fs.readFileSync(file));
  throw new PthFormatError(`${file} is not a PyTorch checkpoint (neither a zip archive nor a pickle; the old tar format of PyTorch < 0.4 is not supported).`);
}

export { UnsafePickleError };
