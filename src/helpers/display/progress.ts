/**
 * Progress for epochs and batches, one API for three places:
 *  - inside a tslab notebook: ONE output updated in place (tslab `newDisplay()` / update_display_data);
 *  - headless runs (`TL_HEADLESS=1`) and pipes: compact lines (at most `maxLines`, no carriage returns);
 *  - a terminal: a cli-progress bar.
 * `trainingProgress()` adapts this to the training loop's `onBatchEnd/onEpochEnd` callbacks.
 */
import type * as CliProgress from "cli-progress";
import { escapeHtml } from "./table";
import { isHeadless, notebookDisplay, type DisplayLike } from "./env";

export type ProgressMode = "notebook" | "lines" | "tty" | "off";

/** Running metrics shown next to the bar; numbers are formatted compactly, non-numbers ignored. */
export type ProgressMetrics = Readonly<Record<string, unknown>>;

/** Where line/terminal output goes (default process.stdout). */
export interface OutStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  total: number;
  label?: string;
  /** Default `auto`: TL_HEADLESS -> lines, tslab kernel -> notebook, TTY stdout -> tty, else lines. */
  mode?: ProgressMode | "auto";
  stream?: OutStream;
  /** Lines mode: print at most this many progress lines, evenly spaced (default 4: 25%, 50%, 75%, 100%). */
  maxLines?: number;
  /** Notebook mode: the in-place display to update (default: a fresh tslab `newDisplay()`). */
  display?: DisplayLike;
  /** Notebook mode: minimum milliseconds between in-place updates (default 200). */
  throttleMs?: number;
  /** Clock in milliseconds (tests inject a fake one). */
  now?: () => number;
}

export interface Progress {
  readonly mode: ProgressMode;
  readonly total: number;
  readonly count: number;
  /** Advance by `n` (default 1) and merge `metrics` into the shown metrics. */
  tick(n?: number, metrics?: ProgressMetrics): void;
  /** Finish: render the final state once. Further calls are ignored. */
  done(metrics?: ProgressMetrics): void;
}

/** The mode `auto` resolves to right now. */
export function detectProgressMode(stream: OutStream = process.stdout, env: NodeJS.ProcessEnv = process.env): ProgressMode {
  if (isHeadless(env)) return "lines";
  if (notebookDisplay()) return "notebook";
  if (stream.isTTY) return "tty";
  return "lines";
}

/** "4.2s", "2m05s", "1h06m". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(t % 60).padStart(2, "0")}s`;
}

function formatMetric(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.01 || a >= 1e5)) return v.toExponential(2); // learning rates, tiny losses
  return a >= 100 ? v.toFixed(1) : v.toFixed(4);
}

/** `loss 0.4123  acc 0.8731` from the numeric entries of `m`, in insertion order. */
export function formatMetrics(m: ProgressMetrics): string {
  return Object.entries(m)
    .filter((e): e is [string, number] => typeof e[1] === "number" && !Number.isNaN(e[1]))
    .map(([k, v]) => `${k} ${formatMetric(v)}`)
    .join("  ");
}

function numericMetrics(logs: object | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (logs) for (const [k, v] of Object.entries(logs)) if (typeof v === "number") out[k] = v;
  return out;
}

/** Counting, timing and ETA, shared by every renderer. */
class ProgressState {
  metrics: Record<string, number> = {};
  readonly start: number;
  /** Steps already done before this run started (a resumed training run); excluded from the rate. */
  readonly base: number;
  constructor(
    readonly total: number,
    readonly label: string,
    readonly now: () => number,
    public count = 0,
  ) {
    this.start = now();
    this.base = count;
  }
  add(n: number, m?: ProgressMetrics): void {
    this.count = Math.min(this.total, this.count + n);
    Object.assign(this.metrics, numericMetrics(m));
  }
  elapsed(): number {
    return this.now() - this.start;
  }
  eta(): number {
    const done = this.count - this.base;
    return done <= 0 ? NaN : (this.elapsed() / done) * (this.total - this.count);
  }
  fraction(): number {
    return this.total > 0 ? this.count / this.total : 1;
  }
  line(finished: boolean): string {
    const pct = `${Math.floor(this.fraction() * 100)}%`.padStart(4);
    const w = String(this.total).length;
    const time = finished ? `${formatDuration(this.elapsed())}` : `${formatDuration(this.elapsed())} elapsed, ETA ${formatDuration(this.eta())}`;
    const m = formatMetrics(this.metrics);
    return `${this.label ? this.label + " " : ""}${String(this.count).padStart(w)}/${this.total} ${pct} | ${time}${m ? " | " + m : ""}`;
  }
  html(finished: boolean): string {
    const time = finished
      ? this.count < this.total ? `stopped after ${formatDuration(this.elapsed())}` : `done in ${formatDuration(this.elapsed())}`
      : `${formatDuration(this.elapsed())} &lt; ${formatDuration(this.eta())}`;
    const m = formatMetrics(this.metrics);
    return (
      `<div style="font-family:monospace;font-size:12px;line-height:1.6;white-space:pre">` +
      `${escapeHtml(this.label)} <progress value="${this.count}" max="${this.total}" style="width:220px;vertical-align:middle"></progress> ` +
      `${this.count}/${this.total} [${time}]${m ? "  " + escapeHtml(m) : ""}</div>`
    );
  }
}

function validateTotal(total: number, who: string): void {
  if (!Number.isFinite(total) || total < 0) {
    throw new RangeError(`${who}: total must be a finite number >= 0 (got ${total}). Pass the number of steps, e.g. { total: numBatches }.`);
  }
}

class ProgressImpl implements Progress {
  readonly mode: ProgressMode;
  private readonly state: ProgressState;
  private readonly stream: OutStream;
  private readonly maxLines: number;
  private readonly throttleMs: number;
  private finished = false;
  private lastBucket = 0;
  private lastPrinted = -1;
  private lastRender = -Infinity;
  private display?: DisplayLike;
  private bar?: CliProgress.SingleBar;

  constructor(opts: ProgressOptions) {
    validateTotal(opts.total, "progress");
    const now = opts.now ?? Date.now;
    this.stream = opts.stream ?? process.stdout;
    this.mode = !opts.mode || opts.mode === "auto" ? (opts.display ? "notebook" : detectProgressMode(this.stream)) : opts.mode;
    this.state = new ProgressState(opts.total, opts.label ?? "", now);
    this.maxLines = Math.max(1, opts.maxLines ?? 4);
    this.throttleMs = opts.throttleMs ?? 200;
    if (this.mode === "notebook") {
      const d = opts.display ?? notebookDisplay()?.newDisplay();
      if (!d) throw new Error("progress: mode 'notebook' needs a tslab kernel (or pass { display }). Use mode 'auto' to pick lines/tty outside a notebook.");
      this.display = d;
      this.render(false);
    } else if (this.mode === "tty") {
      // Loaded lazily: only terminals need it.
      const cli = require("cli-progress") as typeof CliProgress;
      this.bar = new cli.SingleBar({
        format: `${opts.label ? opts.label + " " : ""}[{bar}] {percentage}% | {value}/{total} | {duration_formatted} ETA {eta_formatted} | {metrics}`,
        stream: this.stream as NodeJS.WritableStream,
        hideCursor: true,
        barsize: 30,
      }, cli.Presets.shades_classic);
      this.bar.start(opts.total, 0, { metrics: "" });
    }
  }

  get total(): number {
    return this.state.total;
  }
  get count(): number {
    return this.state.count;
  }

  tick(n = 1, metrics?: ProgressMetrics): void {
    if (this.finished) return;
    this.state.add(n, metrics);
    this.render(false);
  }

  done(metrics?: ProgressMetrics): void {
    if (this.finished) return;
    this.state.add(0, metrics);
    this.finished = true;
    this.render(true);
  }

  private render(final: boolean): void {
    const s = this.state;
    switch (this.mode) {
      case "off":
        return;
      case "lines": {
        // Print when crossing one of `maxLines` evenly spaced marks, and the final state once.
        const bucket = Math.floor(s.fraction() * this.maxLines);
        if ((bucket > this.lastBucket || final) && s.count !== this.lastPrinted) {
          this.lastBucket = bucket;
          this.lastPrinted = s.count;
          this.stream.write(s.line(final || s.count === s.total) + "\n");
        } else if (final && s.count === this.lastPrinted && s.count < s.total) {
          this.stream.write(s.line(true) + " (stopped)\n");
        }
        return;
      }
      case "notebook": {
        const t = s.now();
        if (!final && t - this.lastRender < this.throttleMs && s.count < s.total) return;
        this.lastRender = t;
        this.display!.html(s.html(final));
        return;
      }
      case "tty":
        this.bar!.update(s.count, { metrics: formatMetrics(s.metrics) });
        if (final) this.bar!.stop();
        return;
    }
  }
}

/** A progress bar: `const p = progress({ total: 100, label: "extract" }); p.tick(1, { loss }); p.done();` */
export function progress(opts: ProgressOptions): Progress {
  return new ProgressImpl(opts);
}

/**
 * Callbacks for the course's training loop (`TrainingCallbacks` in the train module), typed structurally so
 * this module does not import it. Also accepts the Keras/tfjs style `onBatchEnd(batch, logs)` and
 * `onEpochEnd(epoch, logs)`. Calls are counted, so 0- or 1-based indices both work.
 */
export interface TrainingProgressCallbacks {
  /** `info.epochs` (total), `info.startEpoch` (epochs already done when resuming), `info.numBatches` (per epoch). */
  onTrainBegin(info?: { epochs?: number; startEpoch?: number; numBatches?: number }): void;
  /** `info`: `{ epoch, batch, numBatches, loss, lr, ... }` (numeric fields other than indices are shown as metrics), or a batch index followed by `logs`. */
  onBatchEnd(info: object | number, logs?: object): void;
  /** `logs`: the epoch's metrics (e.g. `{ epoch, loss, acc, val_loss, val_acc, lr, seconds }`), or an epoch index followed by `logs`. */
  onEpochEnd(logs: object | number, more?: unknown): void;
  onTrainEnd(history?: unknown): void;
}

export interface TrainingProgressOptions extends Omit<ProgressOptions, "total" | "maxLines"> {
  /** Total epochs (default: taken from `onTrainBegin({ epochs })`). */
  epochs?: number;
  /** Batches per epoch, for the batch bar and ETA within an epoch (default: from `onTrainBegin({ numBatches })`). */
  batchesPerEpoch?: number;
}

/** Log keys that are indices or bookkeeping, not metrics worth showing. */
const NOT_METRICS = new Set(["epoch", "batch", "numBatches", "seconds", "size"]);
function metricsOf(logs: unknown): Record<string, number> {
  const m = numericMetrics(typeof logs === "object" && logs !== null ? logs : undefined);
  for (const k of NOT_METRICS) delete m[k];
  return m;
}

/**
 * Progress for a whole training run, to pass as the training loop's callbacks:
 *   `await fit(model, data, { epochs: 5, callbacks: trainingProgress() })`.
 * Notebook: one output with an epoch bar, a batch bar and the latest metrics, updated in place.
 * Lines (headless/pipes): exactly one line per epoch with its metrics and the ETA. Terminal: a batch bar per epoch.
 */
export function trainingProgress(opts: TrainingProgressOptions = {}): TrainingProgressCallbacks {
  if (opts.epochs !== undefined) validateTotal(opts.epochs, "trainingProgress (epochs)");
  const now = opts.now ?? Date.now;
  const stream = opts.stream ?? process.stdout;
  const mode: ProgressMode = !opts.mode || opts.mode === "auto" ? (opts.display ? "notebook" : detectProgressMode(stream)) : opts.mode;
  const label = opts.label ?? "epoch";
  const throttleMs = opts.throttleMs ?? 200;
  let totalEpochs = opts.epochs;
  let batchesPerEpoch = opts.batchesPerEpoch;
  let epochs: ProgressState | null = null;
  let batches: ProgressState | null = null;
  let bar: Progress | null = null;
  let display: DisplayLike | undefined;
  let lastRender = -Infinity;
  let ended = false;

  const renderNotebook = (force: boolean) => {
    const t = now();
    if (!force && t - lastRender < throttleMs) return;
    lastRender = t;
    // Stopped mid-epoch (interrupt, error): keep the epoch's batch count in the final state.
    const stoppedMidEpoch = ended && batches && batches.count > 0 && epochs!.count < epochs!.total;
    const inner = batches && batches.total > 0 && (!ended || stoppedMidEpoch) ? batches.html(ended) : "";
    display!.html(`<div>${epochs!.html(ended)}${inner}</div>`);
  };
  const begin = (startEpoch = 0) => {
    if (totalEpochs === undefined) {
      throw new Error("trainingProgress: the number of epochs is unknown; pass trainingProgress({ epochs }) or call onTrainBegin({ epochs }).");
    }
    epochs = new ProgressState(totalEpochs, label, now, Math.min(startEpoch, totalEpochs));
    ended = false;
    if (mode === "notebook") {
      display ??= opts.display ?? notebookDisplay()?.newDisplay();
      if (!display) throw new Error("trainingProgress: mode 'notebook' needs a tslab kernel (or pass { display }).");
      renderNotebook(true);
    }
  };
  const beginEpoch = () => {
    if (!epochs) begin();
    const n = epochs!.count + 1;
    const pad = " ".repeat(Math.max(0, label.length - 5));
    batches = new ProgressState(batchesPerEpoch ?? 0, `batch${pad}`, now);
    if (mode === "tty" && batchesPerEpoch) {
      bar = progress({ total: batchesPerEpoch, label: `${label} ${n}/${totalEpochs}`, mode: "tty", stream, now });
    }
  };

  return {
    // Lets the long helpers see that the caller already passed a bar (display/autoProgress.ts).
    [Symbol.for("tl.trainingProgress")]: true,
    onTrainBegin(info) {
      if (info?.epochs !== undefined && opts.epochs === undefined) totalEpochs = info.epochs;
      if (info?.numBatches !== undefined && opts.batchesPerEpoch === undefined) batchesPerEpoch = info.numBatches;
      begin(info?.startEpoch ?? 0);
    },
    onBatchEnd(info, logs) {
      if (!batches) beginEpoch();
      const m = typeof info === "number" ? metricsOf(logs) : metricsOf(info);
      const b = batches!;
      b.add(1, m);
      if (mode === "notebook") renderNotebook(false);
      else if (mode === "tty") bar?.tick(1, m);
    },
    onEpochEnd(a, b) {
      if (!epochs) begin();
      const e = epochs!;
      const m = typeof a === "number" ? metricsOf(b) : metricsOf(a);
      e.add(1, { ...(batches?.metrics ?? {}), ...m });
      if (mode === "notebook") renderNotebook(true);
      else if (mode === "lines") stream.write(e.line(e.count === e.total) + "\n");
      else if (mode === "tty") {
        if (bar) {
          bar.done();
          stream.write(`  ${formatMetrics(e.metrics)}\n`);
        } else stream.write(e.line(e.count === e.total) + "\n");
      }
      batches = null;
      bar = null;
    },
    onTrainEnd() {
      if (ended || !epochs) return;
      ended = true;
      if (mode === "notebook") renderNotebook(true);
      else if (mode === "lines" && epochs.count < epochs.total) stream.write(`${epochs.line(true)} (stopped early)\n`);
    },
  };
}
