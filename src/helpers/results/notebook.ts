/**
 * `startNotebook` is every chapter's first code cell: it validates the profile, picks the backend,
 * prints one header block, and returns the run that later publishes the chapter's results.
 */
import * as tf from "@tensorflow/tfjs";
import { backendBanner, setupBackend, type BackendPurpose } from "../backend";
import { cacheDir, profile, profileLabel, rehearsalPerClass } from "../config";
import { mirrorBanner } from "../fetch/mirror";
import { NotebookRun } from "./notebookRun";

export interface StartNotebookOptions {
  /** What the notebook mostly does: "training" (default) or "inference" (frozen forward passes only). */
  purpose?: BackendPurpose;
  /** Print the header (default true). */
  print?: boolean;
}

export async function startNotebook(notebook: string, opts: StartNotebookOptions = {}): Promise<NotebookRun> {
  const p = profile(); // throws a ConfigError naming the valid profiles
  const info = await setupBackend({ purpose: opts.purpose ?? "training" });
  const mirror = mirrorBanner(); // read before any download, so a bad mirror value fails in the first cell
  const cap = rehearsalPerClass(); // likewise: outside a rehearsal it is an error here, not a silent subset later
  const run = new NotebookRun(notebook, p, info.name);
  if (opts.print ?? true) {
    console.log(
      [
        `notebook: ${notebook} | profile: ${profileLabel()}${profileLabel() === p ? "" : ` (the ${p} code paths on stand-in data: not real results)`} | started ${run.startedAt.toISOString()}`,
        backendBanner(info),
        `tfjs ${tf.version.tfjs} | node ${process.versions.node} | cache: ${cacheDir()}`,
        ...(mirror ? [mirror] : []),
        ...(cap ? [`MNIST and Fashion-MNIST cut to the first ${cap} images per class and split (TL_REHEARSAL_PER_CLASS)`] : []),
      ].join("\n"),
    );
  }
  return run;
}
