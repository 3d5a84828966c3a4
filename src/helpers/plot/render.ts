/**
 * Vega-Lite -> SVG (vega, headless) -> PNG (sharp/librsvg), entirely inside the helpers so saved notebooks,
 * nbconvert handouts and GitHub show the pictures without a front-end renderer.
 *
 * vega and vega-lite 6 are ESM-only, so they are loaded with a dynamic `import()` (kept as a real import in
 * the CommonJS build) and none of their types appear in this module's public signatures.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as util from "node:util";
import { show, type DisplayBundle, type DisplayFormat, type Showable, type ShowOptions } from "../display/show";

/** A Vega-Lite specification as plain JSON (https://vega.github.io/vega-lite/docs/). */
export type VegaLiteSpec = Record<string, unknown>;

export type ChartFormat = "png" | "svg";

export interface RenderOptions {
  /**
   * How `show()` displays the chart by default; `png` is also rasterised eagerly. Default `png`: it shows
   * everywhere. `svg` is crisp in live Jupyter, but nbconvert's HTML export sanitises inline SVG outputs of
   * untrusted notebooks down to bare text, so handouts need `png`.
   */
  format?: ChartFormat;
  /** Pixel density of the PNG relative to the SVG size (default 1; 2 for print-quality images). */
  scale?: number;
  /** Base name for files written by `show()` outside a notebook. Default: the spec's title or "chart". */
  name?: string;
}

/**
 * The font used for all chart text. DejaVu Sans is what the headless renderer (librsvg + fontconfig) and
 * text measurement use here; Verdana has near-identical metrics, so SVGs viewed in a browser lay out alike.
 */
export const CHART_FONT = "DejaVu Sans, Verdana, Arial, sans-serif";

/** Shared look: white background, course font, slightly larger titles. Specs can override any of it. */
export const CHART_CONFIG = {
  background: "white",
  font: CHART_FONT,
  title: { fontSize: 14, anchor: "start", offset: 8 },
  axis: { labelFontSize: 11, titleFontSize: 12, titlePadding: 8 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 260 },
  header: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: "#ddd" },
} as const;

/** A rendered chart: `svg` text, lazily rasterised `png()`, and `show()` for notebooks. */
export class Chart implements Showable {
  readonly width: number;
  readonly height: number;
  private readonly pngCache = new Map<number, Promise<Uint8Array>>();

  constructor(
    /** The Vega-Lite spec it was rendered from (with the course config merged in). */
    readonly spec: VegaLiteSpec,
    /** Deterministic SVG markup: same spec, same string. */
    readonly svg: string,
    /** Base name for files written from it (e.g. "training-curves"). */
    readonly name: string,
    readonly format: ChartFormat = "png",
    readonly scale: number = 1,
    /** The chart's title, for text summaries. */
    readonly title: string = name,
  ) {
    const m = /<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
    this.width = m ? Number(m[1]) : NaN;
    this.height = m ? Number(m[2]) : NaN;
  }

  /** PNG bytes at `scale` x the SVG size (cached). */
  png(scale: number = this.scale): Promise<Uint8Array> {
    let p = this.pngCache.get(scale);
    if (!p) {
      p = svgToPng(this.svg, scale);
      this.pngCache.set(scale, p);
      // Do not keep a failed render cached: the next call retries and reports the error again.
      p.catch(() => this.pngCache.delete(scale));
    }
    return p;
  }

  /** One-line summary (what a text-only console shows). */
  summary(): string {
    return `[chart] ${this.title} (${this.width}x${this.height})`;
  }

  /** Text summary and SVG, plus PNG when asked for (or when this chart's default format is PNG). */
  async toDisplay(format: DisplayFormat = "auto"): Promise<DisplayBundle> {
    const wantPng = format === "png" || (format === "auto" && this.format === "png");
    return { text: this.summary(), svg: this.svg, png: wantPng ? await this.png() : undefined, name: this.name };
  }

  /** Display in tslab (PNG by default) or, outside a notebook, write an image file and print its path. */
  show(opts: ShowOptions = {}): Promise<void> {
    return show(this, opts);
  }

  /** Write to `file`: `.svg` writes the SVG, `.png` a PNG (at `scale`, default 2). Returns the absolute path. */
  async save(file: string, scale = 2): Promise<string> {
    const ext = path.extname(file).toLowerCase();
    if (ext !== ".svg" && ext !== ".png") throw new Error(`Chart.save: unsupported extension '${ext}' in ${file}; use .svg or .png.`);
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, ext === ".svg" ? this.svg : await this.png(scale));
    return path.resolve(file);
  }

  toString(): string {
    return this.summary();
  }

  [util.inspect.custom](): string {
    return `${this.summary()} - show it with: await show(chart)`;
  }
}

async function importVega() {
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  return { vega, vl };
}
type VegaLibs = Awaited<ReturnType<typeof importVega>>;
type VegaModule = VegaLibs["vega"];

let libs: Promise<VegaLibs> | undefined;

/** Load vega + vega-lite once, and teach vega to measure text with a real font (better label layout). */
function loadVega(): Promise<VegaLibs> {
  libs ??= importVega().then((l) => {
    installTextMeasurement(l.vega);
    return l;
  });
  return libs;
}

function installTextMeasurement(vega: VegaModule): void {
  // Without node-canvas, vega estimates text width as 0.8 * fontSize per character (too wide, and wrong for
  // narrow or wide glyphs). @napi-rs/canvas measures with the same fonts librsvg draws with.
  let ctx: { font: string; measureText(t: string): { width: number } };
  try {
    const { createCanvas } = require("@napi-rs/canvas") as typeof import("@napi-rs/canvas");
    ctx = createCanvas(1, 1).getContext("2d");
  } catch {
    return; // keep vega's estimate
  }
  const cache = new Map<string, number>();
  // textMetrics and font are exported by vega-scenegraph (re-exported by vega) but missing from vega's typings.
  const sg = vega as unknown as {
    textMetrics: { width: (item: Record<string, unknown>, text?: unknown) => number };
    font: (item: Record<string, unknown>) => string;
  };
  const metrics = sg.textMetrics;
  metrics.width = (item, text) => {
    const size = item.fontSize != null ? Number(item.fontSize) || 0 : 11;
    const s = text == null ? "" : String(text).trim();
    if (size <= 0 || s === "") return 0;
    const f = sg.font(item);
    const key = `${f}|${s}`;
    let w = cache.get(key);
    if (w === undefined) {
      ctx.font = f;
      w = ctx.measureText(s).width;
      cache.set(key, w);
    }
    const limit = Number(item.limit) || 0;
    return limit > 0 ? Math.min(w, limit) : w;
  };
}

function mergeConfig(spec: VegaLiteSpec): VegaLiteSpec {
  const user = (spec.config ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...CHART_CONFIG };
  for (const [k, v] of Object.entries(user)) {
    const base = merged[k];
    merged[k] = base && typeof base === "object" && v && typeof v === "object" && !Array.isArray(v) ? { ...base, ...v } : v;
  }
  return { ...spec, config: merged };
}

function specTitle(spec: VegaLiteSpec): string | undefined {
  const t = spec.title;
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && "text" in t) {
    const text = (t as { text: unknown }).text;
    return Array.isArray(text) ? text.join(" ") : String(text);
  }
  return undefined;
}

/**
 * Render a Vega-Lite spec (inline data only: `data: { values: [...] }`) to a `Chart`.
 * Rejects with the compiler's message when the spec is invalid.
 */
export async function renderVegaLite(spec: VegaLiteSpec, opts: RenderOptions = {}): Promise<Chart> {
  if (!spec || typeof spec !== "object") throw new TypeError("renderVegaLite: spec must be a Vega-Lite JSON object.");
  const format = opts.format ?? "png";
  if (format !== "png" && format !== "svg") throw new Error(`renderVegaLite: format must be 'png' or 'svg' (got '${String(format)}').`);
  const { vega, vl } = await loadVega();
  const full = mergeConfig(spec);
  let compiled;
  try {
    compiled = vl.compile(full as never).spec;
  } catch (e) {
    throw new Error(`renderVegaLite: invalid Vega-Lite spec: ${(e as Error).message}`);
  }
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Error });
  let svg: string;
  try {
    await view.runAsync();
    // clip/gradient ids come from module-level counters: reset them so the same spec gives the same SVG.
    vega.resetSVGDefIds();
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const title = specTitle(spec);
  const chart = new Chart(full, svg, opts.name ?? title ?? "chart", format, opts.scale ?? 1, title ?? opts.name ?? "chart");
  if (format === "png") await chart.png();
  return chart;
}

/** Rasterise SVG markup to PNG bytes with sharp (librsvg); `scale` 2 doubles the pixel size. */
export async function svgToPng(svg: string, scale = 1): Promise<Uint8Array> {
  if (!(scale > 0)) throw new RangeError(`svgToPng: scale must be > 0 (got ${scale}).`);
  const sharp = (await import("sharp")).default;
  const buf = await sharp(Buffer.from(svg), { density: 72 * scale }).png().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
