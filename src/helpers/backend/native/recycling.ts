// Output-buffer recycling for the "torch" backend.
//
// Every native kernel returns a fresh JS ArrayBuffer. Without recycling each one stays allocated
// until V8's next GC: a MobileNetV2 training step touched its whole activation memory afresh every step
// (page faults, cold caches, frequent GCs). The cpu backend knows exactly when a tensor's values die
// (disposeData drops its last reference), so at that point the buffer goes back to the addon's
// pool and the next output of the same size reuses it.
//
// A buffer is offered back only when it is provably unreachable:
// - it was created by the addon (not user data, not a cpu kernel's array);
// - no entry of the backend's data map still refers to it, counting aliases such as the cpu
//   kernels' subarray views and reshapes that share values;
// - its values were never handed out (readSync/read, i.e. dataSync(), data(), array()).
import type * as tf from "@tensorflow/tfjs";
import type { TorchAddon } from "./addon";

/** Wraps the addon so every typed array it returns is recorded as addon-owned. */
export function trackAddonOutputs(addon: TorchAddon): { addon: TorchAddon; owned: WeakSet<ArrayBuffer> } {
  const owned = new WeakSet<ArrayBuffer>();
  const mark = (r: unknown) => {
    if (ArrayBuffer.isView(r)) owned.add(r.buffer as ArrayBuffer);
    else if (Array.isArray(r)) for (const x of r) if (ArrayBuffer.isView(x)) owned.add(x.buffer as ArrayBuffer);
  };
  const wrapped: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(addon as unknown as Record<string, unknown>)) {
    if (typeof f !== "function") continue;
    const fn = f as (...a: unknown[]) => unknown;
    wrapped[name] = ["recycle", "poolStats", "setNumThreads", "threadStatus", "info"].includes(name)
      ? fn
      : (...a: unknown[]) => {
          const r = fn(...a);
          mark(r);
          return r;
        };
  }
  return { addon: wrapped as unknown as TorchAddon, owned };
}

interface CpuData {
  get(dataId: object): { values?: unknown } | undefined;
  has(dataId: object): boolean;
}
type BackendCtor = new () => tf.KernelBackend;

/** Counters for tests and tuning. */
export const recyclingStats = { offered: 0, pooled: 0, exposedSkipped: 0 };

/**
 * A subclass of tfjs' cpu backend class that returns dead addon-owned buffers to the pool.
 * `Base` is MathBackendCPU taken from the live cpu backend (so it is the same tfjs copy).
 */
export function withBufferRecycling(Base: BackendCtor, addon: TorchAddon, owned: WeakSet<ArrayBuffer>): BackendCtor {
  // The cpu backend's methods are untyped here (it is not exported with types from @tensorflow/tfjs).
  const B = Base as unknown as new () => {
    data: CpuData;
    write(values: unknown, shape: number[], dtype: string): object;
    move(dataId: object, values: unknown, shape: number[], dtype: string, refCount: number): void;
    disposeData(dataId: object, force?: boolean): boolean;
    readSync(dataId: object): unknown;
    read(dataId: object): Promise<unknown>;
  };
  class RecyclingCpuBackend extends B {
    /** Live data-map entries per addon-owned buffer. */
    private readonly liveRefs = new Map<ArrayBuffer, number>();
    /** Buffers whose values left the backend (dataSync & co.): never reused. */
    private readonly exposed = new WeakSet<ArrayBuffer>();

    private countIn(values: unknown): void {
      if (!ArrayBuffer.isView(values)) return;
      const buf = values.buffer as ArrayBuffer;
      if (owned.has(buf)) this.liveRefs.set(buf, (this.liveRefs.get(buf) ?? 0) + 1);
    }

    private countOut(values: unknown): void {
      if (!ArrayBuffer.isView(values)) return;
      const buf = values.buffer as ArrayBuffer;
      const n = this.liveRefs.get(buf);
      if (n === undefined) return;
      if (n > 1) {
        this.liveRefs.set(buf, n - 1);
        return;
      }
      this.liveRefs.delete(buf);
      recyclingStats.offered++;
      if (this.exposed.has(buf)) recyclingStats.exposedSkipped++;
      else if (addon.recycle(buf)) recyclingStats.pooled++;
    }

    private expose(values: unknown): void {
      if (ArrayBuffer.isView(values)) this.exposed.add(values.buffer as ArrayBuffer);
    }

    override write(values: unknown, shape: number[], dtype: string): object {
      const id = super.write(values, shape, dtype);
      this.countIn(values);
      return id;
    }

    override move(dataId: object, values: unknown, shape: number[], dtype: string, refCount: number): void {
      super.move(dataId, values, shape, dtype, refCount);
      this.countIn(values);
    }

    override disposeData(dataId: object, force = false): boolean {
      const entry = this.data.get(dataId);
      const released = super.disposeData(dataId, force);
      if (entry && !this.data.has(dataId)) this.countOut(entry.values);
      return released;
    }

    override readSync(dataId: object): unknown {
      const v = super.readSync(dataId);
      this.expose(v);
      return v;
    }

    override async read(dataId: object): Promise<unknown> {
      const v = await super.read(dataId);
      this.expose(v);
      return v;
    }
  }
  return RecyclingCpuBackend as unknown as BackendCtor;
}
