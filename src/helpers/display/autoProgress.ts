/**
 * When the long helpers show progress by themselves: in a notebook (live, in place), in a terminal (a bar) and
 * in the headless notebook run (compact lines in the handout), but not in pipes such as the test runner's.
 */
import { detectProgressMode, progress, trainingProgress, type Progress, type TrainingProgressCallbacks } from "./progress";
import { isHeadless, notebookDisplay } from "./env";

/** Marks callbacks made by trainingProgress(), so a caller's own bar is not doubled by the automatic one. */
export const PROGRESS_CALLBACKS = Symbol.for("tl.trainingProgress");

/**
 * The automatic bar's mode: in the headless run it is the notebook bar too (nbclient applies the in-place
 * updates, so the handout keeps one compact final state, not a line per epoch); elsewhere `auto`.
 */
function autoMode(): "notebook" | "auto" {
  return isHeadless() && notebookDisplay() ? "notebook" : "auto";
}

/** `show`: true/false forces; undefined means "where someone is watching" (see the file comment). */
/** A training bar in the automatic mode (for helpers with their own loop, e.g. DANN). */
export function autoTrainingProgress(opts: { epochs: number; batchesPerEpoch: number }): TrainingProgressCallbacks {
  return trainingProgress({ mode: autoMode(), ...opts });
}

export function autoProgressEnabled(show?: boolean): boolean {
  if (show !== undefined) return show;
  return isHeadless() || detectProgressMode() !== "lines";
}

/**
 * The training loop's callbacks with the progress bar added when `autoProgressEnabled(show)`. `extra` callbacks
 * (the caller's own) run after the bar's, with the same arguments.
 */
export function withTrainingProgress<C extends object>(extra: C | undefined, show?: boolean, label?: string): C | TrainingProgressCallbacks | undefined {
  if (!autoProgressEnabled(show)) return extra;
  if (extra && (extra as Record<symbol, unknown>)[PROGRESS_CALLBACKS]) return extra; // already a bar
  const bar = trainingProgress({ mode: autoMode(), ...(label ? { label } : {}) });
  if (!extra) return bar;
  const both: Record<string, (...a: unknown[]) => unknown> = {};
  for (const k of ["onTrainBegin", "onBatchEnd", "onEpochEnd", "onTrainEnd"] as const) {
    const mine = (bar as unknown as Record<string, (...a: unknown[]) => unknown>)[k];
    const theirs = (extra as Record<string, unknown>)[k];
    both[k] = async (...a: unknown[]) => {
      mine(...a);
      if (typeof theirs === "function") await theirs.apply(extra, a);
    };
  }
  return both as unknown as C;
}

/**
 * A progress bar that appears only once the work has run `afterMs` (default 2 s), so quick calls (a cached
 * feature set, a small test) print nothing. `tick()` is cheap before that.
 */
export function delayedProgress(opts: { total: number; label: string; show?: boolean; afterMs?: number }): Pick<Progress, "tick" | "done"> {
  const start = Date.now();
  const afterMs = opts.afterMs ?? 2000;
  let bar: Progress | undefined;
  let count = 0;
  const enabled = autoProgressEnabled(opts.show);
  return {
    tick(n = 1, metrics) {
      count += n;
      if (!enabled) return;
      if (!bar && (opts.show === true || Date.now() - start >= afterMs) && count < opts.total) {
        bar = progress({ total: opts.total, label: opts.label, mode: autoMode() });
        bar.tick(count, metrics);
        return;
      }
      bar?.tick(n, metrics);
    },
    done(metrics) {
      bar?.done(metrics);
    },
  };
}
