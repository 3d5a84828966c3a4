/**
 * Where output goes: a tslab Jupyter kernel (rich display), a headless notebook run, a terminal, or a pipe.
 * Detection is structural (no static import of tslab) so the helpers load anywhere, and tests can inject
 * a fake display with `setNotebookDisplay`.
 */
import * as path from "node:path";
import { createRequire } from "node:module";
import { switchSetting } from "../config";

/** The part of tslab's `Display` the helpers use (tslab's own `display` / `newDisplay()` satisfy it). */
export interface DisplayLike {
  html(s: string): void;
  svg(s: string): void;
  png(b: Uint8Array): void;
  text(s: string): void;
}

/** A tslab-like display provider: `display` appends outputs; `newDisplay()` gives one output that each call overwrites. */
export interface NotebookDisplay {
  display: DisplayLike;
  newDisplay(): DisplayLike;
}

/** Env var the headless notebook runner sets; forces compact line output for progress. */
export const HEADLESS_ENV = "TL_HEADLESS";

let injected: NotebookDisplay | null | undefined;

/**
 * Override kernel detection: pass a fake display (tests), `null` to force "not in a notebook",
 * or `undefined` to go back to automatic detection. Returns the previous override.
 */
export function setNotebookDisplay(d: NotebookDisplay | null | undefined): NotebookDisplay | null | undefined {
  const prev = injected;
  injected = d;
  return prev;
}

/**
 * The running tslab kernel's display API, or null outside a kernel.
 * We look for tslab's jupyter module already loaded in this process (so we get the kernel's own instance,
 * even when tslab is installed globally) and check that it has a live output channel.
 */
export function notebookDisplay(): NotebookDisplay | null {
  if (injected !== undefined) return injected;
  const req = createRequire(__filename);
  for (const [file, mod] of Object.entries(req.cache)) {
    if (!/[\\/]tslab[\\/]dist[\\/]jupyter\.js$/.test(file)) continue;
    if (typeof (mod?.exports as { lastWriteDisplayData?: unknown } | undefined)?.lastWriteDisplayData !== "function") continue;
    try {
      const pub = req(path.join(path.dirname(file), "public.js")) as Partial<NotebookDisplay>;
      if (pub.display && typeof pub.newDisplay === "function") return pub as NotebookDisplay;
    } catch {
      // A broken or foreign tslab install: behave as if outside a kernel.
    }
  }
  return null;
}

/** True inside a tslab kernel (or when a fake display is injected). */
export function inNotebook(): boolean {
  return notebookDisplay() !== null;
}

/** True for the headless notebook run (`TL_HEADLESS=1`): output is read later, so no live updates. */
export function isHeadless(env: NodeJS.ProcessEnv = process.env): boolean {
  return switchSetting(HEADLESS_ENV, false, env);
}
