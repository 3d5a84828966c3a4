/**
 * `show(x)`: one call that displays charts, image grids, tables, PNG bytes or plain values.
 * In a tslab kernel it emits a rich output; elsewhere it prints a text summary and, for images,
 * writes the picture to a file and prints its path (so scripts and CI logs still point at it).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as util from "node:util";
import { textSetting } from "../config";
import { notebookDisplay } from "./env";

/** The renderings an object offers; `show` picks one. `text` is always required (the fallback). */
export interface DisplayBundle {
  text: string;
  html?: string;
  svg?: string;
  png?: Uint8Array;
  /** Base file name (no extension) used when the image is written to disk outside a notebook. */
  name?: string;
}

/**
 * Anything with a `toDisplay()` method can be shown (charts, image grids, tables implement it).
 * `format` is the rendering the caller asked for, so costly ones (e.g. PNG) can be made only when wanted.
 */
export interface Showable {
  toDisplay(format?: DisplayFormat): DisplayBundle | Promise<DisplayBundle>;
}

export type DisplayFormat = "auto" | "png" | "svg" | "html" | "text";

export interface ShowOptions {
  /** Which rendering to emit in a notebook. `auto`: html, else png, else svg, else text. */
  format?: DisplayFormat;
  /** Outside a notebook, where images are written (default `$TL_DISPLAY_DIR` or `<tmp>/tl-display`). */
  outDir?: string;
}

/** Env var naming the folder where `show` writes images when not inside a notebook. */
export const DISPLAY_DIR_ENV = "TL_DISPLAY_DIR";

export function isShowable(x: unknown): x is Showable {
  return typeof x === "object" && x !== null && typeof (x as Showable).toDisplay === "function";
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
function isPngBytes(x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length > 8 && PNG_MAGIC.every((b, i) => x[i] === b);
}

/** Turn any supported value into a bundle. */
export async function toDisplayBundle(x: unknown, format: DisplayFormat = "auto"): Promise<DisplayBundle> {
  const v = await x;
  if (isShowable(v)) return await v.toDisplay(format);
  if (isPngBytes(v)) return { text: `PNG image (${v.length} bytes)`, png: v, name: "image" };
  if (typeof v === "string") return { text: v };
  return { text: util.inspect(v, { depth: 4, colors: false }) };
}

/**
 * Display a chart, image grid, table, PNG bytes, or any value (also accepts a promise of one, so
 * `await show(plotTrainingCurves(runs))` works). Resolves once the output has been emitted.
 */
export async function show(x: unknown, opts: ShowOptions = {}): Promise<void> {
  const b = await toDisplayBundle(x, opts.format);
  const nb = notebookDisplay();
  if (nb) {
    emit(nb.display, b, opts.format ?? "auto");
    return;
  }
  const file = writeImageFile(b, opts.outDir);
  process.stdout.write(file ? `${b.text}\n  -> ${file}\n` : `${b.text}\n`);
}

/** Emit one rendering of `b` on a tslab-like display (also used for in-place updates). */
export function emit(
  d: { html(s: string): void; svg(s: string): void; png(b: Uint8Array): void; text(s: string): void },
  b: DisplayBundle,
  format: DisplayFormat = "auto",
): void {
  const want = format === "auto" ? (b.html !== undefined ? "html" : b.png ? "png" : b.svg !== undefined ? "svg" : "text") : format;
  if (want === "text") return d.text(b.text);
  if (b[want] === undefined) {
    // An explicit format the value cannot provide: say so instead of silently showing something else.
    const have = (["html", "png", "svg"] as const).filter((k) => b[k] !== undefined);
    throw new Error(`show: this value has no ${want} rendering (it has: ${[...have, "text"].join(", ")}); pass one of those as format.`);
  }
  if (want === "html") d.html(b.html!);
  else if (want === "png") d.png(b.png!);
  else d.svg(b.svg!);
}

/** Write the bundle's image (png, else svg) to a content-named file; returns the path, or null when there is no image. */
export function writeImageFile(b: DisplayBundle, outDir?: string): string | null {
  const data = b.png ?? b.svg;
  if (data === undefined) return null;
  const ext = b.png ? "png" : "svg";
  const dir = outDir ?? textSetting(DISPLAY_DIR_ENV) ?? path.join(os.tmpdir(), "tl-display");
  fs.mkdirSync(dir, { recursive: true });
  const hash = crypto.createHash("sha256").update(data).digest("hex").slice(0, 10);
  const base = (b.name ?? "output").replace(/[^A-Za-z0-9_.-]+/g, "-").slice(0, 60) || "output";
  const file = path.join(dir, `${base}-${hash}.${ext}`);
  fs.writeFileSync(file, data);
  return file;
}
