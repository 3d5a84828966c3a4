// STUB: owned by the performance helper, who replaces this directory's contents.
export interface NativeBackendStatus {
  ok: boolean;
  /** Backend name registered with tfjs when ok (e.g. "torch"). */
  name?: string;
  /** e.g. "libtorch 1.13.1 (ATen, 2 threads)". */
  detail?: string;
  /** Why it is unavailable, when not ok. */
  reason?: string;
}
/** Register the native (libtorch) tfjs backend if its addon was built; never throws. */
export function tryRegisterNativeBackend(): NativeBackendStatus {
  return { ok: false, reason: "native addon not built" };
}
