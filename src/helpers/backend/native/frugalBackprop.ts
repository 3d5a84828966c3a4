// Memory-frugal backpropagation for tfjs' engine.gradients (behind variableGrads, optimizer.minimize, tf.grads).
//
// Stock tfjs keeps every activation a kernel saved for its gradient, and every intermediate gradient, until the
// whole backward pass ends: a training step's peak holds all activations plus all their gradients. PyTorch frees
// each as soon as its node has been back-propagated. This does the same: once a tape node's gradient has been
// computed, its saved tensors and its outputs' gradients are disposed, so their buffers go back to the native
// buffer pool and serve the next nodes' gradients. The walk, the checks and the error messages are tfjs-core's own
// (tape.ts and engine.ts, Apache-2.0); only the disposal is new. Installed for the "torch" and resident backends; every
// other backend, and higher-order gradients (a tape inside a tape), keep tfjs' own code.
import * as tf from "@tensorflow/tfjs";

type Tensor = tf.Tensor;
interface TapeNode {
  id: number;
  kernelName: string;
  outputs: Tensor[];
  inputs: Record<string, Tensor>;
  gradient?: (dys: (Tensor | null)[]) => Record<string, () => Tensor>;
  saved?: Tensor[];
}
/** The parts of tfjs-core's Engine this uses (not in its public typings). */
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T>(nameOrFn: string | (() => T), fn?: () => T): T;
  gradients(f: () => Tensor, xs: Tensor[], dy?: Tensor, allowNoGradients?: boolean): { value: Tensor; grads: Tensor[] };
}

/** The tape nodes on a path from some x to y, with inputs not depending on any x pruned (tfjs' getFilteredNodesXToY). */
function nodesFromXToY(tape: TapeNode[], xs: Tensor[], y: Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has(node.inputs[name].id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const toY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      for (const name in node.inputs) toY.add(node.inputs[name].id);
      if (Object.keys(node.inputs).length) nodesToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, Tensor> = {};
    for (const name in node.inputs) if (fromX.has(node.inputs[name].id)) inputs[name] = node.inputs[name];
    out.push({ ...node, inputs, outputs: node.outputs });
  }
  return out;
}

/**
 * Walk the tape backwards accumulating gradients in `grads` (tensor id → gradient), disposing what no later node
 * needs. `keep` holds tensors that must survive (the caller's dy).
 */
function backpropagate(grads: Map<number, Tensor>, tape: TapeNode[], tidy: (f: () => Tensor) => Tensor, keep: Set<Tensor>, xIds: Set<number>): void {
  // Map entries per gradient tensor: a gradient function may hand back the same tensor object for two tensors.
  const refs = new Map<Tensor, number>();
  for (const t of grads.values()) refs.set(t, (refs.get(t) ?? 0) + 1);
  const put = (id: number, t: Tensor) => {
    grads.set(id, t);
    refs.set(t, (refs.get(t) ?? 0) + 1);
  };
  /** Drop the entry for `id`, disposing its tensor when no other entry holds it. */
  const release = (id: number) => {
    const t = grads.get(id);
    if (!t) return;
    grads.delete(id);
    const n = (refs.get(t) ?? 1) - 1;
    if (n > 0) refs.set(t, n);
    else {
      refs.delete(t);
      if (!keep.has(t)) t.dispose();
    }
  };
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    if (node.gradient == null) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const inputGradients = node.gradient(dys);
    for (const name in node.inputs) {
      if (!(name in inputGradients)) {
        throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`);
      }
      const dx = tidy(() => inputGradients[name]());
      if (dx.dtype !== "float32") {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
      }
      const x = node.inputs[name];
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`);
      }
      const current = grads.get(x.id);
      if (current == null) put(x.id, dx);
      else {
        const sum = tf.add(current, dx);
        release(x.id);
        put(x.id, sum);
        if (!refs.has(dx) && !keep.has(dx)) dx.dispose();
      }
    }
    // This node is done: its outputs' gradients and its saved activations are needed by no other node.
    for (const o of node.outputs) if (!xIds.has(o.id)) release(o.id);
    for (const s of node.saved ?? []) if (!refs.has(s)) s.dispose();
  }
}

let enabledFor = new Set<string>();
let installed = false;

/**
 * Route engine.gradients through the frugal walk while one of `backends` is the active backend (undefined or []:
 * never). Idempotent; returns the previous setting.
 */
export function setFrugalBackprop(backends: string | readonly string[] | undefined): string[] {
  const previous = [...enabledFor];
  enabledFor = new Set(backends === undefined ? [] : typeof backends === "string" ? [backends] : backends);
  if (installed || enabledFor.size === 0) return previous;
  installed = true;
  const engine = tf.engine() as unknown as EngineInternals;
  const stock = engine.gradients.bind(engine);
  engine.gradients = function (this: EngineInternals, f, xs, dy, allowNoGradients = false) {
    // Nested tapes (higher-order gradients) read saved tensors again later: stock code for them.
    if (!enabledFor.has(tf.getBackend()) || this.state.gradientDepth !== 0) return stock(f, xs, dy, allowNoGradients);
    if (xs.length === 0) throw new Error("gradients() received an empty list of xs.");
    if (dy != null && dy.dtype !== "float32") throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = this.scopedRun(() => this.startTape(), () => this.endTape(), () => this.tidy("forward", f));
    if (!(y instanceof tf.Tensor)) throw new Error("The result y returned by f() must be a tensor.");
    const tape = this.state.activeTape ?? [];
    const filtered = nodesFromXToY(tape, xs, y);
    if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
      throw new Error("Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.");
    }
    return this.tidy("backward", () => {
      const grads = new Map<number, Tensor>([[y.id, dy ?? tf.ones(y.shape)]]);
      backpropagate(grads, filtered, (g) => this.tidy(g), new Set(dy ? [dy] : []), new Set(xs.map((x) => x.id)));
      const result = xs.map((x) => grads.get(x.id)) as Tensor[];
      for (const node of tape) for (const s of node.saved ?? []) s.dispose();
      this.state.activeTape = null;
      return { value: y, grads: result };
    });
  };
  return previous;
}

/** Also use the frugal walk while `backendName` is active (the backends already enabled stay so). */
export function addFrugalBackprop(backendName: string): void {
  setFrugalBackprop([...enabledFor, backendName]);
}
