// The device-resident tfjs backend: each tensor's values live in ATen (CPU or CUDA) behind a handle of the resident
// addon; values cross into JS only when read (dataSync/data) and out of it when a tensor is created (tf.tensor,
// tf.randomUniform, ...). Strings stay in JS. Kernels are registered separately (./kernels, ./fallback).
import * as tf from "@tensorflow/tfjs";
import { DTYPE_CODE, type DeviceCode, type Handle, type NumericDtype, type ResidentAddon } from "./addon";

type DataId = object;
type BackendValues = Float32Array | Int32Array | Uint8Array | Uint8Array[];

interface Entry {
  /** Native handle (-1 for strings). */
  handle: Handle;
  dtype: tf.DataType;
  refCount: number;
  /** String tensors' encoded values, kept in JS. */
  strings?: Uint8Array[];
}

/** A typed array of the class the addon takes for `dtype`, converting when tfjs hands over another. */
function typedFor(values: unknown, dtype: NumericDtype, size: number): Float32Array | Int32Array | Uint8Array {
  const Want = dtype === "float32" ? Float32Array : dtype === "int32" ? Int32Array : Uint8Array;
  if (values instanceof Want) return values;
  if (values == null) return new Want(size);
  return Want.from(values as ArrayLike<number>);
}

function numeric(dtype: tf.DataType): NumericDtype {
  if (dtype === "float32" || dtype === "int32" || dtype === "bool") return dtype;
  throw new Error(`The resident torch backend has no ${dtype} tensors (float32, int32, bool and string only).`);
}

export class ResidentBackend extends tf.KernelBackend {
  // tfjs' own storage: its get() moves a tensor created on another backend here first (the engine's lazy move).
  private readonly entries = new tf.DataStorage<Entry>(this, tf.engine());

  /**
   * @param addon the loaded resident addon
   * @param device the addon's device code for new tensors (-1 CPU, n CUDA device n)
   * @param deviceName shown by memory() and the banner
   */
  constructor(readonly addon: ResidentAddon, readonly device: DeviceCode, readonly deviceName: string) {
    super();
  }

  /** The native handle behind a tensor of this backend (what kernels pass to the addon). */
  handle(t: tf.TensorInfo): Handle {
    const e = this.entry(t.dataId);
    if (e.strings) throw new Error("resident backend: string tensors have no native handle");
    return e.handle;
  }

  /** True when the tensor's values are native (not a string tensor). */
  isNative(t: tf.TensorInfo): boolean {
    return this.entry(t.dataId).strings === undefined;
  }

  /** Wraps a fresh native handle as a tensor of this backend. */
  adopt(handle: Handle, shape: number[], dtype: tf.DataType): tf.TensorInfo {
    const dataId = {};
    this.entries.set(dataId, { handle, dtype, refCount: 1 });
    return { dataId, shape, dtype };
  }

  /** The same data under another TensorInfo (tfjs' Identity/Reshape-by-reference pattern). */
  share(t: tf.TensorInfo, shape = t.shape): tf.TensorInfo {
    this.incRef(t.dataId);
    return { dataId: t.dataId, shape, dtype: t.dtype };
  }

  override write(values: BackendValues | null, shape: number[], dtype: tf.DataType): DataId {
    const dataId = {};
    this.store(dataId, values, shape, dtype, 1);
    return dataId;
  }

  override move(dataId: DataId, values: BackendValues | null, shape: number[], dtype: tf.DataType, refCount: number): void {
    this.store(dataId, values, shape, dtype, refCount);
  }

  private store(dataId: DataId, values: BackendValues | null, shape: number[], dtype: tf.DataType, refCount: number): void {
    if (dtype === "string") {
      this.entries.set(dataId, { handle: -1, dtype, refCount, strings: (values ?? []) as Uint8Array[] });
      return;
    }
    const nd = numeric(dtype);
    const size = shape.reduce((a, b) => a * b, 1);
    const handle = this.addon.fromArray(typedFor(values, nd, size), shape, DTYPE_CODE[nd], this.device);
    this.entries.set(dataId, { handle, dtype, refCount });
  }

  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: BackendValues | string[]): tf.TensorInfo {
    const vals =
      dtype === "string" && values && values.length > 0 && typeof values[0] === "string"
        ? (values as string[]).map((s) => tf.util.encodeString(s))
        : (values as BackendValues | undefined);
    return { dataId: this.write(vals ?? null, shape, dtype), shape, dtype };
  }

  override readSync(dataId: DataId): BackendValues {
    const e = this.entry(dataId);
    return e.strings ?? this.addon.toArray(e.handle);
  }

  override async read(dataId: DataId): Promise<BackendValues> {
    return this.readSync(dataId);
  }

  override refCount(dataId: DataId): number {
    return this.entries.has(dataId) ? this.entries.get(dataId).refCount : 0;
  }

  override incRef(dataId: DataId): void {
    this.entry(dataId).refCount++;
  }

  decRef(dataId: DataId): void {
    if (this.entries.has(dataId)) this.entries.get(dataId).refCount--;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    if (!this.entries.has(dataId)) return true;
    const e = this.entries.get(dataId);
    e.refCount--;
    if (!force && e.refCount > 0) return false;
    if (!e.strings) this.addon.dispose(e.handle);
    this.entries.delete(dataId);
    return true;
  }

  disposeIntermediateTensorInfo(t: tf.TensorInfo): void {
    this.disposeData(t.dataId);
  }

  override numDataIds(): number {
    return this.entries.numDataIds();
  }

  override memory(): { unreliable: boolean; reasons: string[] } {
    return { unreliable: true, reasons: [`tensor memory is ATen's (${this.deviceName}); tf.memory() counts bytes tfjs created`] };
  }

  override async time(f: () => void): Promise<{ kernelMs: number }> {
    const start = tf.util.now();
    f();
    return { kernelMs: tf.util.now() - start };
  }

  override floatPrecision(): 16 | 32 {
    return 32;
  }

  override dispose(): void {
    // tfjs calls this when the backend is removed; the engine disposes every tensor first, so nothing is left here.
  }

  private entry(dataId: DataId): Entry {
    const e = this.entries.get(dataId); // moves the data here when it lives on another backend
    if (!e) throw new Error("resident backend: unknown tensor data (disposed?)");
    return e;
  }
}
