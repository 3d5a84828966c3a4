/**
 * Kernel > Interrupt for the long helpers (training, feature extraction, prediction, DANN, downloads).
 *
 * How tslab delivers it: Jupyter sends SIGINT to the kernel process; tslab's `process.on("SIGINT")` handler
 * rejects a promise that the running cell is raced against, so the cell *ends* ("Interrupted asynchronously")
 * while the cell's async work carries on in the background. Worse, a loop over in-memory batches never lets
 * that handler run at all: synchronous tfjs kernels plus awaits of already-resolved promises (`data()` on the
 * CPU backends) only run microtasks, and signal and zmq handlers run in the event loop's poll phase, which a
 * microtask chain never reaches. The kernel then looks dead.
 *
 * The fix, in the helpers: every long helper registers its work here and calls `checkpoint()` between
 * batches/chunks. `checkpoint()` yields to the event loop (setImmediate, at most every YIELD_MS) so SIGINT and
 * the kernel's messages are handled, and throws an `InterruptedError` once an interrupt arrived. Inside a tslab
 * kernel this module takes over tslab's SIGINT listener: while helper work runs, the interrupt goes to that
 * work (which stops and ends the cell with one readable line); otherwise, or if the work does not stop within
 * FALLBACK_MS (user code that never checks), tslab's own handler runs as before.
 */
import { notebookDisplay } from "./env";

/** Thrown by a long helper stopped by Kernel > Interrupt (or `requestInterrupt()`). Its stack is only its message. */
export class InterruptedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Interrupted";
    // One readable line in the notebook: tslab prints `error.stack`, so leave out the frames.
    Object.defineProperty(this, "stack", { value: `Interrupted: ${message}`, enumerable: false, writable: true, configurable: true });
  }
  /** console.error / util.inspect (what tslab prints): the line itself, without the brackets Node puts around frameless errors. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.stack ?? `Interrupted: ${this.message}`;
  }
}

export function isInterruptedError(e: unknown): e is InterruptedError {
  return e instanceof InterruptedError || (e instanceof Error && e.name === "Interrupted");
}

/** Yield to the event loop at most this often (ms): often enough for a prompt interrupt, rarely enough to cost nothing. */
const YIELD_MS = 25;
/** If interrupted work has not stopped after this long, hand the interrupt to the previous SIGINT handler (tslab's). */
const FALLBACK_MS = 3000;

/** One long-running helper call; see `beginWork`. */
export interface Work {
  readonly label: string;
  /** True once an interrupt arrived for this work. */
  readonly interrupted: boolean;
  /** When the interrupt arrived (Date.now()), or undefined. */
  readonly interruptedAt: number | undefined;
  /** Between batches: yields to the event loop now and then; throws `InterruptedError` (`describe()` says where) once interrupted. */
  checkpoint(describe?: () => string): Promise<void>;
  /** Unregister (idempotent); call in a `finally`. */
  end(): void;
}

const active = new Set<WorkImpl>();

class WorkImpl implements Work {
  interruptedAt: number | undefined;
  private lastYield = Date.now();
  constructor(readonly label: string) {}
  get interrupted(): boolean {
    return this.interruptedAt !== undefined;
  }
  async checkpoint(describe?: () => string): Promise<void> {
    const t = Date.now();
    if (t - this.lastYield >= YIELD_MS) {
      await new Promise<void>((r) => setImmediate(r));
      this.lastYield = Date.now();
    }
    if (this.interruptedAt !== undefined) {
      active.delete(this);
      const where = describe?.();
      throw new InterruptedError(`${this.label} stopped${where ? " " + where : ""}.`);
    }
  }
  end(): void {
    active.delete(this);
  }
}

/**
 * Register a long-running helper call so Kernel > Interrupt reaches it:
 *   `const work = beginWork("feature extraction"); try { for (...) { ...; await work.checkpoint(() => "at batch 3/40"); } } finally { work.end(); }`
 * Inside a tslab kernel this also installs the SIGINT routing (once per process).
 */
export function beginWork(label: string): Work {
  if (!installed && !scheduled && notebookDisplay()) {
    // Not now: a cell's synchronous part runs under vm's breakOnSigint, which takes the SIGINT listeners off
    // while it runs and resets the signal's handler when it ends, so a listener added now would never fire (and
    // the next Ctrl+C would kill the kernel). The first checkpoint's yield runs this.
    scheduled = true;
    setImmediate(installInterruptHandler);
  }
  const w = new WorkImpl(label);
  active.add(w);
  return w;
}

/** Labels of the helper calls running now (for tests and diagnostics). */
export function activeWork(): string[] {
  return [...active].map((w) => w.label);
}

/**
 * Interrupt every running helper call, as Kernel > Interrupt does. Returns how many were running.
 * (Tests and custom UIs; the SIGINT route calls this too.)
 */
export function requestInterrupt(): number {
  const t = Date.now();
  for (const w of active) w.interruptedAt ??= t;
  return active.size;
}

let installed = false;
let scheduled = false;
let previous: ((signal: NodeJS.Signals) => void)[] = [];

function onSigint(signal: NodeJS.Signals): void {
  const running = [...active];
  const passOn = () => {
    if (previous.length === 0) process.exit(130); // no kernel handler to pass to: Node's default for Ctrl+C
    for (const l of previous) l(signal);
  };
  if (running.length === 0) return passOn(); // the user's own code: tslab ends the cell as before
  requestInterrupt();
  // Work that never reaches a checkpoint (a single huge batch, or a loop that does not check) still ends the cell.
  setTimeout(() => {
    if (running.some((w) => active.has(w))) passOn();
  }, FALLBACK_MS).unref();
}

/**
 * Route SIGINT to the helpers' running work first (inside a tslab kernel `beginWork` does this by itself).
 * The SIGINT listeners present now (tslab's) are kept and called when no helper work is running.
 * Outside a kernel, don't: a listener would replace Node's default exit on Ctrl+C.
 */
export function installInterruptHandler(): void {
  if (installed) return;
  installed = true;
  previous = process.listeners("SIGINT") as typeof previous;
  for (const l of previous) process.removeListener("SIGINT", l);
  process.on("SIGINT", onSigint);
}
