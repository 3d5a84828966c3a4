/** Accuracy against the amount of labelled data, one line per method, on a log axis (a learning curve). */
import { renderVegaLite, type Chart, type RenderOptions, type VegaLiteSpec } from "./render";

export interface LearningCurvePoint {
  /** Labelled training samples (per class, or in all: say which in `xTitle`). */
  samples: number;
  method: string;
  accuracy: number;
}

export interface LearningCurveOptions extends RenderOptions {
  title?: string;
  /** Default "labelled training images per class". */
  xTitle?: string;
  /** Default "test accuracy". */
  yTitle?: string;
  width?: number;
  height?: number;
}

/** Lines with points; x on a log scale, y in percent from 0 to 100%. */
export function plotLearningCurve(points: readonly LearningCurvePoint[], opts: LearningCurveOptions = {}): Promise<Chart> {
  if (points.length === 0) throw new Error("plotLearningCurve: no points; pass [{ samples, method, accuracy }, ...].");
  const bad = points.find((p) => !(p.samples > 0) || !Number.isFinite(p.accuracy) || p.accuracy < 0 || p.accuracy > 1);
  if (bad) throw new Error(`plotLearningCurve: point ${JSON.stringify(bad)} needs samples > 0 (log axis) and an accuracy in [0, 1].`);
  const xs = [...new Set(points.map((p) => p.samples))].sort((a, b) => a - b);
  const x = { field: "samples", type: "quantitative", title: opts.xTitle ?? "labelled training images per class", scale: { type: "log" }, axis: { values: xs, format: "d" } };
  const y = { field: "accuracy", type: "quantitative", title: opts.yTitle ?? "test accuracy", scale: { domain: [0, 1] }, axis: { format: ".0%" } };
  const color = { field: "method", type: "nominal", title: null };
  const spec: VegaLiteSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: opts.title ?? "Learning curve",
    data: { values: points.map((p) => ({ ...p })) },
    width: opts.width ?? 380,
    height: opts.height ?? 240,
    layer: [
      { mark: { type: "line", point: true }, encoding: { x, y, color } },
      { mark: { type: "text", dy: -8, fontSize: 9 }, encoding: { x, y, color, text: { field: "accuracy", type: "quantitative", format: ".0%" } } },
    ],
    config: { legend: { orient: "bottom", labelLimit: 400 } },
  };
  return renderVegaLite(spec, { name: "learning-curve", ...opts });
}
