/**
 * A small, safe unpickler for PyTorch state dicts. It interprets only the opcodes and the few globals a
 * `torch.save(model.state_dict())` file contains, and builds plain data from them: nothing is ever called or
 * imported. Any other opcode or global (os.system, builtins.eval, INST/OBJ/NEWOBJ, ...) is refused with an error
 * that names it, before anything else in the file is looked at.
 */

/** Thrown for a pickle this reader will not (or cannot) interpret; the message names the opcode or global. */
export class UnsafePickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafePickleError";
  }
}

/** A reference to a whitelisted global, e.g. `collections.OrderedDict`. Never callable by itself. */
export interface PickleGlobal {
  readonly kind: "global";
  readonly name: string;
}

/** A tensor storage named by a persistent id: ('storage', torch.FloatStorage, key, location, numel[, view]). */
export interface PickleStorage {
  readonly kind: "storage";
  /** Storage class name without the module, e.g. "FloatStorage". */
  readonly type: string;
  readonly key: string;
  readonly location: string;
  readonly numel: number;
}

/** A tensor view on a storage, as `torch._utils._rebuild_tensor_v2` describes it. */
export interface PickleTensor {
  readonly kind: "tensor";
  readonly storage: PickleStorage;
  readonly offset: number;
  readonly shape: number[];
  readonly stride: number[];
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | Map<PickleValue, PickleValue>
  | PickleGlobal
  | PickleStorage
  | PickleTensor;

/** Python tuples are kept apart from lists so error messages can say which was found. */
export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

/** Storage classes a state dict may reference (torch.<Name>), and their element sizes in bytes. */
export const STORAGE_TYPES: Readonly<Record<string, number>> = {
  FloatStorage: 4,
  DoubleStorage: 8,
  HalfStorage: 2,
  BFloat16Storage: 2,
  LongStorage: 8,
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
};

const ALLOWED_GLOBALS = new Set<string>([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_parameter",
  ...Object.keys(STORAGE_TYPES).map((s) => `torch.${s}`),
]);

const OPCODE_NAMES: Record<number, string> = {
  0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT", 0x4a: "BININT",
  0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE", 0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE",
  0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND",
  0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT", 0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET",
  0x69: "INST", 0x6a: "LONG_BINGET", 0x6c: "LIST", 0x5d: "EMPTY_LIST", 0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT",
  0x72: "LONG_BINPUT", 0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT",
  0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
  0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES",
  0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x8e: "BINBYTES8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS",
  0x91: "FROZENSET", 0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
};

const MARK = Symbol("mark");
type StackItem = PickleValue | typeof MARK;

function describe(v: unknown): string {
  if (v === null) return "None";
  if (v instanceof Map) return "dict";
  if (v instanceof PickleTuple) return "tuple";
  if (Array.isArray(v)) return "list";
  if (v && typeof v === "object" && "kind" in (v as object)) {
    const k = v as PickleGlobal | PickleStorage | PickleTensor;
    return k.kind === "global" ? k.name : k.kind;
  }
  return typeof v;
}

export interface UnpickleOptions {
  /** Resolve a BINPERSID id (the tuple torch writes for each storage). Without it, persistent ids are refused. */
  persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Where the bytes came from, for messages (e.g. "model.pth: archive/data.pkl"). */
  source?: string;
}

export interface UnpickleResult {
  value: PickleValue;
  /** Offset just after the STOP opcode (legacy files hold several pickles back to back). */
  end: number;
}

/** Interpret one pickle starting at `start`. Throws UnsafePickleError on anything a state dict does not need. */
export function unpickle(buf: Uint8Array, start = 0, opts: UnpickleOptions = {}): UnpickleResult {
  const src = opts.source ?? "pickle";
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const utf8 = new TextDecoder("utf-8");
  const latin1 = new TextDecoder("latin1");
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = start;

  const refuse = (what: string, at: number): never => {
    throw new UnsafePickleError(
      `${src}: refusing ${what} at byte ${at}. Only PyTorch state dicts (tensors in OrderedDicts) can be read; ` +
        `this file contains something else and is not loaded (nothing in it was executed). ` +
        `If you trust it, re-save just the weights in Python with torch.save(model.state_dict(), path).`,
    );
  };
  const need = (n: number) => {
    if (pos + n > buf.length) throw new UnsafePickleError(`${src}: the pickle ends unexpectedly at byte ${buf.length} (truncated file?).`);
  };
  const u8 = () => (need(1), buf[pos++]);
  const u16 = () => (need(2), (pos += 2), dv.getUint16(pos - 2, true));
  const u32 = () => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const i32 = () => (need(4), (pos += 4), dv.getInt32(pos - 4, true));
  const bytes = (n: number) => (need(n), (pos += n), buf.subarray(pos - n, pos));
  const line = () => {
    const s = pos;
    while (pos < buf.length && buf[pos] !== 0x0a) pos++;
    if (pos >= buf.length) throw new UnsafePickleError(`${src}: unterminated text field at byte ${s}.`);
    return latin1.decode(buf.subarray(s, pos++));
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) throw new UnsafePickleError(`${src}: malformed pickle (stack underflow at byte ${pos}).`);
    return v;
  };
  const popMark = (): PickleValue[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) throw new UnsafePickleError(`${src}: malformed pickle (no MARK before byte ${pos}).`);
    const items = stack.splice(i) as PickleValue[];
    items.shift();
    return items;
  };
  const top = (): PickleValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw new UnsafePickleError(`${src}: malformed pickle (empty stack at byte ${pos}).`);
    return v;
  };
  const global = (module: string, name: string, at: number): PickleGlobal => {
    const full = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(full)) refuse(`global '${full}'`, at);
    return { kind: "global", name: full };
  };
  const asInt = (v: PickleValue, what: string): number => {
    if (typeof v === "number" && Number.isInteger(v)) return v;
    if (typeof v === "bigint" && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    throw new UnsafePickleError(`${src}: ${what} should be an integer, found ${describe(v)}.`);
  };
  const intTuple = (v: PickleValue, what: string): number[] => {
    const items = v instanceof PickleTuple ? v.items : Array.isArray(v) ? v : null;
    if (!items) throw new UnsafePickleError(`${src}: ${what} should be a tuple of integers, found ${describe(v)}.`);
    return items.map((x) => asInt(x, what));
  };
  const setItems = (target: PickleValue, kv: PickleValue[], at: number) => {
    if (!(target instanceof Map)) refuse(`SETITEM(S) on a ${describe(target)}`, at);
    for (let i = 0; i + 1 < kv.length; i += 2) (target as Map<PickleValue, PickleValue>).set(kv[i], kv[i + 1]);
  };
  const reduce = (fn: PickleValue, args: PickleValue, at: number): PickleValue => {
    if (!(fn && typeof fn === "object" && "kind" in fn && fn.kind === "global")) refuse(`REDUCE on a ${describe(fn)} (only whitelisted functions may be applied)`, at);
    const name = (fn as PickleGlobal).name;
    if (!(args instanceof PickleTuple)) refuse(`REDUCE of ${name} with ${describe(args)} arguments`, at);
    const a = (args as PickleTuple).items;
    switch (name) {
      case "collections.OrderedDict": {
        const m = new Map<PickleValue, PickleValue>();
        if (a.length > 0) {
          const pairs = a[0];
          const list = pairs instanceof PickleTuple ? pairs.items : Array.isArray(pairs) ? pairs : refuse(`OrderedDict(${describe(pairs)})`, at);
          for (const p of list as PickleValue[]) {
            const kv = p instanceof PickleTuple ? p.items : Array.isArray(p) ? p : refuse(`OrderedDict item ${describe(p)}`, at);
            m.set((kv as PickleValue[])[0], (kv as PickleValue[])[1]);
          }
        }
        return m;
      }
      case "torch._utils._rebuild_tensor_v2":
      case "torch._utils._rebuild_tensor": {
        const storage = a[0];
        if (!(storage && typeof storage === "object" && "kind" in storage && storage.kind === "storage")) {
          refuse(`${name} on a ${describe(storage)} (expected a storage persistent id)`, at);
        }
        return { kind: "tensor", storage: storage as PickleStorage, offset: asInt(a[1], "storage offset"), shape: intTuple(a[2], "tensor size"), stride: intTuple(a[3], "tensor stride") };
      }
      case "torch._utils._rebuild_parameter": {
        const data = a[0];
        if (!(data && typeof data === "object" && "kind" in data && data.kind === "tensor")) refuse(`${name} on a ${describe(data)}`, at);
        return data;
      }
      default:
        return refuse(`REDUCE on '${name}' (it may only name a storage type)`, at);
    }
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME: an 8-byte length we do not need
        bytes(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw new UnsafePickleError(`${src}: malformed pickle (${stack.length} values left at STOP).`);
        return { value: stack[0] as PickleValue, end: pos };
      case 0x28: stack.push(MARK); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: { // LONG1: little-endian two's complement
        const b = bytes(u8());
        let v = 0n;
        for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
        stack.push(v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        break;
      }
      case 0x47: (need(8), (pos += 8), stack.push(dv.getFloat64(pos - 8, false))); break; // BINFLOAT (big-endian)
      case 0x58: stack.push(utf8.decode(bytes(u32()))); break; // BINUNICODE
      case 0x8c: stack.push(utf8.decode(bytes(u8()))); break; // SHORT_BINUNICODE
      case 0x54: stack.push(latin1.decode(bytes(u32()))); break; // BINSTRING (Python 2 str)
      case 0x55: stack.push(latin1.decode(bytes(u8()))); break; // SHORT_BINSTRING
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(new PickleTuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(new PickleTuple(popMark())); break; // TUPLE
      case 0x85: stack.push(new PickleTuple([pop()])); break; // TUPLE1
      case 0x86: { const b = pop(), a = pop(); stack.push(new PickleTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push(new PickleTuple([a, b, c])); break; } // TUPLE3
      case 0x6c: stack.push(popMark()); break; // LIST
      case 0x64: { const m = new Map<PickleValue, PickleValue>(); setItems(m, popMark(), at); stack.push(m); break; } // DICT
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) refuse(`APPEND to a ${describe(l)}`, at); (l as PickleValue[]).push(v); break; }
      case 0x65: { const items = popMark(); const l = top(); if (!Array.isArray(l)) refuse(`APPENDS to a ${describe(l)}`, at); (l as PickleValue[]).push(...items); break; }
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v], at); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv, at); break; } // SETITEMS
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x68: case 0x6a: { // BINGET, LONG_BINGET
        const k = op === 0x68 ? u8() : u32();
        if (!memo.has(k)) throw new UnsafePickleError(`${src}: malformed pickle (memo ${k} unset at byte ${at}).`);
        stack.push(memo.get(k)!);
        break;
      }
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(global(module, name, at));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") refuse("STACK_GLOBAL with non-string names", at);
        stack.push(global(module as string, name as string, at));
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(reduce(fn, args, at)); break; } // REDUCE
      case 0x62: { // BUILD: only the `_metadata` attribute torch sets on a state dict's OrderedDict
        const state = pop();
        const target = top();
        if (!(target instanceof Map) || !(state instanceof Map)) refuse(`BUILD (setting state) on a ${describe(target)}`, at);
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) refuse("a persistent id (BINPERSID) where none is expected", at);
        stack.push(opts.persistentLoad!(pid));
        break;
      }
      default:
        refuse(`opcode ${OPCODE_NAMES[op] ?? "unknown"} (0x${op.toString(16).padStart(2, "0")})`, at);
    }
  }
}

/** Turn torch's storage persistent id tuple into a PickleStorage, checking its shape. */
export function storageFromPersistentId(pid: PickleValue, source: string): PickleStorage {
  const items = pid instanceof PickleTuple ? pid.items : null;
  if (!items || items[0] !== "storage" || items.length < 5) {
    throw new UnsafePickleError(`${source}: unexpected persistent id ${describe(pid)} (expected ('storage', type, key, location, numel)).`);
  }
  const t = items[1];
  if (!(t && typeof t === "object" && "kind" in t && t.kind === "global" && t.name.startsWith("torch.") && t.name.slice(6) in STORAGE_TYPES)) {
    throw new UnsafePickleError(`${source}: persistent id names storage type ${describe(t)}, not one of torch.${Object.keys(STORAGE_TYPES).join(", torch.")}.`);
  }
  const key = items[2];
  if (typeof key !== "string" && typeof key !== "number") throw new UnsafePickleError(`${source}: storage key should be a string, found ${describe(key)}.`);
  const numel = items[4];
  if (typeof numel !== "number" || !Number.isInteger(numel) || numel < 0) throw new UnsafePickleError(`${source}: storage size should be a non-negative integer, found ${describe(numel)}.`);
  return { kind: "storage", type: t.name.slice(6), key: String(key), location: String(items[3]), numel };
}
