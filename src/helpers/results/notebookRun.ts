/**
 * The results contract: every notebook publishes what it measured to `build/results/<stem>.json`
 * through one call, so tests, CI and readers take the numbers from one place:
 *   {"notebook", "profile", "backend", "started", "wall_s", "metrics": {name: number}, "runs": [...]}
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { PROFILE_LABELS, buildDir, profile as currentProfile, profileLabel, type Profile, type ProfileLabel } from "../config";

export interface NotebookResults {
  notebook: string;
  /** The profile label: `quick`, `full`, or `full-rehearsal` for stand-in data (never real numbers). */
  profile: ProfileLabel;
  backend: string;
  started: string;
  wall_s: number;
  metrics: Record<string, number>;
  runs: Array<Record<string, unknown>>;
}

/** Path of a notebook's published results. */
export function resultsPath(notebook: string, dir: string = buildDir()): string {
  return path.join(dir, "results", `${notebook}.json`);
}

/** Read published results (for tests and for chapters that build on an earlier chapter's numbers). */
export function readResults(notebook: string, dir: string = buildDir()): NotebookResults {
  const file = resultsPath(notebook, dir);
  if (!fs.existsSync(file)) {
    throw new Error(`No results for notebook '${notebook}' at ${file}. Run it first: make course NB=${notebook}`);
  }
  return JSON.parse(fs.readFileSync(file, "utf8")) as NotebookResults;
}

/** Tracks one notebook run from its first cell to `publish`. */
export class NotebookRun {
  readonly startedAt = new Date();
  /** The profile as labelled (`full-rehearsal` runs the `full` code paths); published instead of `profile`. */
  readonly label: ProfileLabel;
  private readonly t0 = process.hrtime.bigint();

  constructor(
    readonly notebook: string,
    readonly profile: Profile,
    readonly backend: string,
    private readonly dir: string = buildDir(),
  ) {
    const set = profileLabel();
    this.label = set !== profile && (PROFILE_LABELS as Record<string, Profile>)[set] === profile ? set : profile;
    if (!/^[A-Za-z0-9._-]+$/.test(notebook)) {
      throw new Error(`Notebook stem '${notebook}' must be a plain file stem like '03-fine-tuning'.`);
    }
  }

  /** Seconds since the run started. */
  elapsed(): number {
    return Number(process.hrtime.bigint() - this.t0) / 1e9;
  }

  /**
   * Write the results file and return what was written. Metrics must be finite numbers: a NaN
   * accuracy is a bug to surface here, not a value to publish. `wall_s` is added automatically.
   */
  publish(metrics: Record<string, number>, runs: Array<Record<string, unknown>> = []): NotebookResults {
    for (const [name, value] of Object.entries(metrics)) {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new Error(`Metric '${name}' is ${String(value)}; published metrics must be finite numbers.`);
      }
    }
    const wall = Math.round(this.elapsed() * 10) / 10;
    const results: NotebookResults = {
      notebook: this.notebook,
      profile: this.label,
      backend: this.backend,
      started: this.startedAt.toISOString(),
      wall_s: wall,
      metrics: { ...metrics, wall_s: wall },
      runs,
    };
    const file = resultsPath(this.notebook, this.dir);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Write then rename, so a reader never sees half a file.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(results, null, 2) + "\n");
    fs.renameSync(tmp, file);
    return results;
  }
}

/** Start tracking a run without touching the backend (used by startNotebook and by tests). */
export function beginRun(notebook: string, backend: string, dir?: string): NotebookRun {
  return new NotebookRun(notebook, currentProfile(), backend, dir);
}
