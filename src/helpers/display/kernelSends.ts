/**
 * Output that never gets lost inside a tslab kernel.
 *
 * tslab writes every output (stdout, stderr, display updates, even the execute reply) with zeromq's `socket.send()`
 * and ignores the promise it returns. zeromq 6 sends at most 512 messages per socket synchronously; the next one is
 * deferred to the event loop, and every further send before the loop turns throws EBUSY ("Socket is busy writing")
 * *synchronously*. So a cell that prints or updates a display more than 512 times without yielding (a training bar
 * updated every few batches, a `console.log` in a loop) either fails where a display update throws, or loses the
 * lines `console.log` swallows: and the failing cell's own error message is swallowed the same way, so the cell
 * ends with status "error" and no text at all.
 *
 * Installed once inside a kernel (when the helpers load), this wrapper queues a send that would throw EBUSY and
 * writes the queue, in order, as soon as the pending send has gone out. Nothing is dropped, nothing is reordered,
 * and the first 512 sends of a turn still go out at once.
 */
import { createRequire } from "node:module";
import { notebookDisplay } from "./env";

type Send = (this: object, ...args: unknown[]) => Promise<void>;

interface Pending {
  args: unknown[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface SocketState {
  /** The last send that went out (its promise settles once zeromq has queued it). */
  last: Promise<void>;
  queue: Pending[];
  draining: boolean;
}

const isBusy = (e: unknown) => (e as { code?: unknown } | null)?.code === "EBUSY";

/** Wrap a zeromq Socket class's `send` so EBUSY queues instead of throwing. Idempotent per class. */
export function queueBusySends(socketClass: { prototype: object }): boolean {
  const proto = socketClass.prototype as { send?: Send; __tlQueuedSends?: true };
  if (typeof proto.send !== "function" || proto.__tlQueuedSends) return false;
  const send = proto.send;
  const states = new WeakMap<object, SocketState>();

  const drain = async (socket: object, st: SocketState) => {
    st.draining = true;
    while (st.queue.length > 0) {
      await st.last.catch(() => undefined);
      const next = st.queue[0]!;
      try {
        st.last = send.apply(socket, next.args);
      } catch (e) {
        if (isBusy(e)) {
          await new Promise<void>((r) => setImmediate(r)); // the deferred send goes out when the loop turns
          continue;
        }
        st.queue.shift();
        next.reject(e);
        continue;
      }
      st.queue.shift();
      st.last.then(next.resolve, next.reject);
    }
    st.draining = false;
  };

  Object.defineProperty(proto, "send", {
    configurable: true,
    writable: false,
    value: function queuedSend(this: object, ...args: unknown[]): Promise<void> {
      let st = states.get(this);
      if (!st || st.queue.length === 0) {
        try {
          const p = send.apply(this, args);
          if (!st) states.set(this, (st = { last: p, queue: [], draining: false }));
          else st.last = p;
          return p;
        } catch (e) {
          if (!isBusy(e)) throw e;
          if (!st) states.set(this, (st = { last: Promise.resolve(), queue: [], draining: false }));
        }
      }
      const state = st;
      const queued = new Promise<void>((resolve, reject) => state.queue.push({ args, resolve, reject }));
      queued.catch(() => undefined); // tslab never awaits its sends: a failure here must not become an unhandled rejection
      if (!state.draining) void drain(this, state);
      return queued;
    },
  });
  Object.defineProperty(proto, "__tlQueuedSends", { value: true });
  return true;
}

let installed = false;

/**
 * In a tslab kernel, make the kernel's zeromq sockets queue instead of throwing EBUSY (see above). Finds the zeromq
 * that tslab loaded (already in the module cache before any cell runs). Returns whether a socket class was wrapped.
 */
export function installQueuedKernelSends(): boolean {
  if (installed) return true;
  const req = createRequire(__filename);
  for (const [file, mod] of Object.entries(req.cache)) {
    if (!/[\\/]zeromq[\\/]lib[\\/]index\.js$/.test(file)) continue;
    const socket = (mod?.exports as { Socket?: { prototype: object } } | undefined)?.Socket;
    if (socket && queueBusySends(socket)) installed = true;
  }
  return installed;
}

// Loading the helpers in a kernel is what a notebook does first: from then on no output of the kernel is lost.
if (notebookDisplay()) installQueuedKernelSends();
