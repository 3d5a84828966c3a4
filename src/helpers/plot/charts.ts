/**
 * Ready-made course charts, each a Vega-Lite spec rendered by `renderVegaLite`:
 * training curves, method comparison bars, confusion matrices, 2-D scatter (e.g. PCA), per-class accuracy.
 * All take plain typed data and return a `Chart` (show it with `await show(chart)` or `chart.show()`).
 */
import { renderVegaLite, type Chart, type RenderOptions, type VegaLiteSpec } from "./render";

// ---------------------------------------------------------------------------------------------------------
// Training curves

/** One epoch of a training history. Epochs are numbered as given (the course uses 1-based). */
export interface CurveRecord {
  epoch: number;
  trainLoss?: number;
  trainAcc?: number;
  valLoss?: number;
  valAcc?: number;
}

/** The same history as per-metric arrays (index i = epoch i+1 unless `epochs` says otherwise). */
export interface CurveSeries {
  epochs?: readonly number[];
  trainLoss?: readonly number[];
  trainAcc?: readonly number[];
  valLoss?: readonly number[];
  valAcc?: readonly number[];
}

/**
 * The training loop's own history (`TrainingHistory` from the train module, typed structurally): per-epoch
 * logs with 0-based `epoch`, shown 1-based.
 */
export interface CurveLoopHistory {
  epochs: ReadonlyArray<{ epoch: number; loss?: number; acc?: number; val_loss?: number; val_acc?: number }>;
}

/** A named training run: its history as records, per-metric arrays, or the training loop's history. */
export interface CurveRun {
  name: string;
  history: readonly CurveRecord[] | CurveSeries | CurveLoopHistory;
}

export type CurveMetric = "loss" | "acc";

export interface TrainingCurvesOptions extends RenderOptions {
  title?: string;
  /** Panels to draw (default: every metric with data, loss then accuracy). */
  metrics?: readonly CurveMetric[];
  /** Size of each panel in pixels (default 300 x 200). */
  width?: number;
  height?: number;
  /** Log scale for the loss axis (default false). */
  logLoss?: boolean;
}

interface CurvePoint {
  run: string;
  split: "train" | "validation";
  metric: CurveMetric;
  epoch: number;
  value: number;
}

/** Normalise a history to records (exported for tests and for other plots). */
export function curveRecords(history: CurveRun["history"]): CurveRecord[] {
  if (Array.isArray(history)) return (history as readonly CurveRecord[]).map((r) => ({ ...r }));
  const loop = (history as CurveLoopHistory).epochs;
  if (Array.isArray(loop) && loop.length > 0 && typeof loop[0] === "object") {
    return (loop as CurveLoopHistory["epochs"]).map((e) => ({ epoch: e.epoch + 1, trainLoss: e.loss, trainAcc: e.acc, valLoss: e.val_loss, valAcc: e.val_acc }));
  }
  const s = history as CurveSeries;
  const keys = ["trainLoss", "trainAcc", "valLoss", "valAcc"] as const;
  const n = Math.max(0, ...keys.map((k) => s[k]?.length ?? 0));
  if (s.epochs && s.epochs.length < n) {
    throw new Error(`history.epochs has ${s.epochs.length} entries but a metric has ${n}; give one epoch number per value.`);
  }
  const out: CurveRecord[] = [];
  for (let i = 0; i < n; i++) {
    const r: CurveRecord = { epoch: s.epochs ? s.epochs[i] : i + 1 };
    for (const k of keys) if (s[k] && i < s[k]!.length) r[k] = s[k]![i];
    out.push(r);
  }
  return out;
}

function curvePoints(runs: readonly CurveRun[]): CurvePoint[] {
  const pts: CurvePoint[] = [];
  const fields = [
    ["trainLoss", "train", "loss"],
    ["valLoss", "validation", "loss"],
    ["trainAcc", "train", "acc"],
    ["valAcc", "validation", "acc"],
  ] as const;
  for (const run of runs) {
    for (const r of curveRecords(run.history)) {
      for (const [key, split, metric] of fields) {
        const v = r[key];
        if (typeof v === "number" && Number.isFinite(v)) pts.push({ run: run.name, split, metric, epoch: r.epoch, value: v });
      }
    }
  }
  return pts;
}

/** Loss and accuracy per epoch, train (solid) vs validation (dashed), several runs on one chart. */
export function plotTrainingCurves(runs: CurveRun | readonly CurveRun[], opts: TrainingCurvesOptions = {}): Promise<Chart> {
  const list: readonly CurveRun[] = Array.isArray(runs) ? runs : [runs as CurveRun];
  const names = list.map((r) => r.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`plotTrainingCurves: two runs are named '${dup}'; give each run a distinct name.`);
  const data = curvePoints(list);
  if (data.length === 0) throw new Error("plotTrainingCurves: no finite values in the histories (expected trainLoss/trainAcc/valLoss/valAcc per epoch).");
  const metrics = (opts.metrics ?? (["loss", "acc"] as const)).filter((m) => data.some((p) => p.metric === m));
  if (metrics.length === 0) throw new Error(`plotTrainingCurves: none of the requested metrics (${opts.metrics?.join(", ")}) has data.`);
  const multi = list.length > 1;
  const hasVal = data.some((p) => p.split === "validation");
  const width = opts.width ?? 300;
  const height = opts.height ?? 200;
  const epochs = [...new Set(data.map((p) => p.epoch))];
  const integerEpochs = epochs.every(Number.isInteger);

  const panel = (metric: CurveMetric): VegaLiteSpec => {
    const isAcc = metric === "acc";
    const color = multi
      ? { field: "run", type: "nominal", title: "run", sort: names }
      : { field: "split", type: "nominal", title: null, sort: ["train", "validation"] };
    const encoding: Record<string, unknown> = {
      x: {
        field: "epoch",
        type: "quantitative",
        title: "epoch",
        scale: { nice: false, zero: false },
        axis: integerEpochs ? { tickMinStep: 1, format: "d" } : {},
      },
      y: {
        field: "value",
        type: "quantitative",
        title: isAcc ? "accuracy" : "loss",
        scale: isAcc ? { zero: false } : { zero: false, type: opts.logLoss ? "log" : "linear" },
        axis: isAcc ? { format: ".0%" } : {},
      },
      color,
      detail: { field: "split" },
    };
    if (multi && hasVal) {
      encoding.strokeDash = { field: "split", type: "nominal", title: null, sort: ["train", "validation"], scale: { range: [[1, 0], [5, 3]] } };
    }
    return {
      width,
      height,
      title: { text: isAcc ? "Accuracy" : "Loss", fontSize: 12, anchor: "middle" },
      transform: [{ filter: { field: "metric", equal: metric } }],
      layer: [
        { mark: { type: "line", strokeWidth: 2 }, encoding },
        { mark: { type: "point", filled: true, size: epochs.length > 40 ? 0 : 28 }, encoding: { ...encoding, strokeDash: undefined, shape: undefined } },
      ],
    };
  };

  const spec: VegaLiteSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: opts.title ?? (multi ? "Training curves" : `Training curves: ${list[0].name}`),
    data: { values: data },
    hconcat: metrics.map(panel),
    resolve: { scale: { y: "independent" } },
    config: { legend: { orient: "bottom", direction: "horizontal", columns: 4 } },
  };
  return renderVegaLite(spec, { name: "training-curves", ...opts });
}

// ---------------------------------------------------------------------------------------------------------
// Bars comparing methods

export interface BarDatum {
  /** Bar label (e.g. the method). */
  label: string;
  value: number;
  /** Optional series (e.g. dataset): bars of the same label are grouped and coloured by it. */
  group?: string;
  /** Optional +/- error (e.g. std over seeds), drawn as a whisker. */
  error?: number;
}

/** `percent`: 0.87 -> 87.0%; `number`: 3 significant digits; or any d3-format string (e.g. ".2f", "~s"). */
export type ValueFormat = "percent" | "number" | (string & {});

export interface BarChartOptions extends RenderOptions {
  title?: string;
  /** Axis title for the values (default "value"). */
  valueTitle?: string;
  valueFormat?: ValueFormat;
  /** Order of bars: as given (default), or by value. */
  sort?: "none" | "ascending" | "descending";
  width?: number;
  /** Pixels per bar row (default 22). */
  step?: number;
}

function d3Format(f: ValueFormat | undefined): string {
  return f === undefined || f === "number" ? ".3~r" : f === "percent" ? ".1%" : f;
}

/** Horizontal bar chart comparing methods (optionally grouped), with the value printed at each bar. */
export function plotBars(data: readonly BarDatum[], opts: BarChartOptions = {}): Promise<Chart> {
  if (data.length === 0) throw new Error("plotBars: no data; pass [{ label, value }, ...].");
  const bad = data.find((d) => typeof d.value !== "number" || !Number.isFinite(d.value));
  if (bad) throw new Error(`plotBars: value for '${bad.label}' is ${bad.value}; every bar needs a finite number.`);
  const grouped = data.some((d) => d.group !== undefined);
  const labels = [...new Set(data.map((d) => d.label))];
  let order: string[] = labels;
  if (opts.sort === "ascending" || opts.sort === "descending") {
    const best = new Map<string, number>();
    for (const d of data) best.set(d.label, Math.max(best.get(d.label) ?? -Infinity, d.value));
    order = [...labels].sort((a, b) => (opts.sort === "ascending" ? 1 : -1) * (best.get(a)! - best.get(b)!));
  }
  const fmt = d3Format(opts.valueFormat);
  const values = data.map((d) => ({ ...d, group: d.group ?? "", lo: d.value - (d.error ?? 0), hi: d.value + (d.error ?? 0) }));
  const allNonNeg = values.every((d) => d.lo >= 0);
  const y = { field: "label", type: "nominal", title: null, sort: order };
  const x = {
    field: "value",
    type: "quantitative",
    title: opts.valueTitle ?? "value",
    axis: { format: opts.valueFormat === "percent" ? ".0%" : fmt },
    scale: opts.valueFormat === "percent" && allNonNeg && values.every((d) => d.hi <= 1) ? { domain: [0, 1] } : {},
  };
  const groupEnc = grouped
    ? { color: { field: "group", type: "nominal", title: null }, yOffset: { field: "group", type: "nominal", title: null } }
    : {};
  const layers: VegaLiteSpec[] = [
    { mark: { type: "bar", color: grouped ? undefined : "#4c78a8" }, encoding: { y, x, ...groupEnc } },
    {
      mark: { type: "text", align: "left", dx: 4, fontSize: 10, color: "#333" },
      encoding: { y, x: { field: "hi", type: "quantitative" }, text: { field: "value", type: "quantitative", format: fmt }, ...(grouped ? { yOffset: groupEnc.yOffset } : {}) },
    },
  ];
  if (values.some((d) => d.error !== undefined)) {
    layers.push({
      mark: { type: "rule", color: "#333" },
      encoding: { y, x: { field: "lo", type: "quantitative" }, x2: { field: "hi" }, ...(grouped ? { yOffset: groupEnc.yOffset } : {}) },
    });
  }
  const step = opts.step ?? 22;
  const spec: VegaLiteSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: opts.title ?? "Comparison",
    data: { values },
    width: opts.width ?? 360,
    height: { step: grouped ? Math.max(step, step * 0.75 * new Set(values.map((d) => d.group)).size) : step },
    layer: layers,
    config: { legend: { orient: "bottom" } },
  };
  return renderVegaLite(spec, { name: "bars", ...opts });
}

// ---------------------------------------------------------------------------------------------------------
// Confusion matrix

export interface ConfusionPlotInput {
  /** matrix[i][j] = number of samples of true class i predicted as class j. */
  matrix: readonly (readonly number[])[];
  classNames?: readonly string[];
}

export interface ConfusionMatrixOptions extends RenderOptions {
  classNames?: readonly string[];
  title?: string;
  /** Print counts in the cells (default: when there are at most 20 classes). */
  showCounts?: boolean;
  /** Pixel size of a cell (default: fits ~420 px, between 12 and 44). */
  cellSize?: number;
}

/**
 * Heatmap of a confusion matrix: rows are true classes, columns predictions. Colour is the row-normalised
 * rate (so rare classes are as readable as common ones); cells print the raw counts.
 */
export function plotConfusionMatrix(
  input: readonly (readonly number[])[] | ConfusionPlotInput,
  opts: ConfusionMatrixOptions = {},
): Promise<Chart> {
  const m = Array.isArray(input) ? (input as readonly (readonly number[])[]) : (input as ConfusionPlotInput).matrix;
  const n = m.length;
  if (n === 0) throw new Error("plotConfusionMatrix: empty matrix.");
  m.forEach((row, i) => {
    if (row.length !== n) throw new Error(`plotConfusionMatrix: matrix must be square; row ${i} has ${row.length} entries, expected ${n}.`);
  });
  const names = [...(opts.classNames ?? (Array.isArray(input) ? undefined : (input as ConfusionPlotInput).classNames) ?? m.map((_, i) => String(i)))];
  if (names.length !== n) throw new Error(`plotConfusionMatrix: ${names.length} class names for a ${n}x${n} matrix; give one name per class.`);
  if (new Set(names).size !== n) throw new Error("plotConfusionMatrix: class names must be distinct.");
  const values: Record<string, unknown>[] = [];
  for (let i = 0; i < n; i++) {
    const rowSum = m[i].reduce((a, b) => a + b, 0);
    for (let j = 0; j < n; j++) {
      values.push({ actual: names[i], predicted: names[j], count: m[i][j], rate: rowSum > 0 ? m[i][j] / rowSum : 0 });
    }
  }
  const cell = opts.cellSize ?? Math.max(12, Math.min(44, Math.floor(420 / n)));
  const showCounts = opts.showCounts ?? n <= 20;
  const total = values.reduce((a, v) => a + (v.count as number), 0);
  const correct = m.reduce((a, row, i) => a + row[i], 0);
  const layers: VegaLiteSpec[] = [
    {
      mark: { type: "rect", stroke: "white", strokeWidth: n > 30 ? 0 : 1 },
      encoding: {
        color: { field: "rate", type: "quantitative", title: "row rate", scale: { domain: [0, 0.5, 1], range: ["#f7fbff", "#6baed6", "#08306b"] }, legend: { format: ".0%", gradientLength: Math.min(160, cell * n) } },
      },
    },
  ];
  if (showCounts) {
    layers.push({
      mark: { type: "text", fontSize: Math.max(8, Math.min(12, Math.floor(cell / 3))) },
      encoding: {
        text: { field: "count", type: "quantitative", format: "d" },
        color: { condition: { test: "datum.rate > 0.5", value: "white" }, value: "#222" },
      },
    });
  }
  const spec: VegaLiteSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: opts.title ?? "Confusion matrix",
      subtitle: total > 0 ? `accuracy ${((100 * correct) / total).toFixed(1)}% (${correct}/${total})` : undefined,
    },
    data: { values },
    width: cell * n,
    height: cell * n,
    encoding: {
      x: { field: "predicted", type: "nominal", sort: names, title: "predicted", axis: { labelAngle: -45, labelLimit: 120, labelFontSize: n > 30 ? 8 : 11 } },
      y: { field: "actual", type: "nominal", sort: names, title: "true", axis: { labelLimit: 120, labelFontSize: n > 30 ? 8 : 11 } },
    },
    layer: layers,
  };
  return renderVegaLite(spec, { name: "confusion-matrix", ...opts });
}

// ---------------------------------------------------------------------------------------------------------
// Scatter (e.g. 2-D PCA of features)

export interface ScatterPoint {
  x: number;
  y: number;
  /** Colour group (e.g. class or domain). */
  group?: string;
}

/** Columns instead of points: `coords[i] = [x, y]`, `groups[i]` its group. */
export interface ScatterColumns {
  coords: ReadonlyArray<ArrayLike<number>>;
  groups?: readonly string[];
}

export interface ScatterOptions extends RenderOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Legend title (default "group"). */
  groupTitle?: string;
  width?: number;
  height?: number;
  pointSize?: number;
  opacity?: number;
}

/** Scatter of 2-D points coloured by group (default axis titles "PC1"/"PC2" for a PCA projection). */
export function plotScatter(points: readonly ScatterPoint[] | ScatterColumns, opts: ScatterOptions = {}): Promise<Chart> {
  let pts: ScatterPoint[];
  if (Array.isArray(points)) pts = (points as readonly ScatterPoint[]).map((p) => ({ ...p }));
  else {
    const c = points as ScatterColumns;
    if (c.groups && c.groups.length !== c.coords.length) {
      throw new Error(`plotScatter: ${c.groups.length} groups for ${c.coords.length} points; give one group per point.`);
    }
    pts = c.coords.map((xy, i) => ({ x: xy[0], y: xy[1], group: c.groups?.[i] }));
  }
  if (pts.length === 0) throw new Error("plotScatter: no points.");
  const bad = pts.findIndex((p) => !Number.isFinite(p.x) || !Number.isFinite(p.y));
  if (bad >= 0) throw new Error(`plotScatter: point ${bad} has non-finite coordinates (${pts[bad].x}, ${pts[bad].y}).`);
  const grouped = pts.some((p) => p.group !== undefined);
  const groups = [...new Set(pts.map((p) => p.group ?? ""))].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const spec: VegaLiteSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: opts.title ?? "Feature projection",
    data: { values: pts.map((p) => ({ ...p, group: p.group ?? "" })) },
    width: opts.width ?? 380,
    height: opts.height ?? 320,
    mark: { type: "circle", size: opts.pointSize ?? 30, opacity: opts.opacity ?? 0.75 },
    encoding: {
      x: { field: "x", type: "quantitative", title: opts.xTitle ?? "PC1", scale: { zero: false } },
      y: { field: "y", type: "quantitative", title: opts.yTitle ?? "PC2", scale: { zero: false } },
      ...(grouped
        ? { color: { field: "group", type: "nominal", title: opts.groupTitle ?? "group", sort: groups, scale: { scheme: groups.length > 10 ? "tableau20" : "tableau10" } } }
        : { color: { value: "#4c78a8" } }),
    },
  };
  return renderVegaLite(spec, { name: "scatter", ...opts });
}

// ---------------------------------------------------------------------------------------------------------
// Per-class accuracy

export interface ClassAccuracyBar {
  className: string;
  /** In [0, 1]. */
  accuracy: number;
  /** Number of test samples of the class (printed next to the bar when given). */
  count?: number;
}

export interface PerClassAccuracyPlotInput {
  classNames: readonly string[];
  accuracies: ArrayLike<number>;
  counts?: ArrayLike<number>;
}

export interface PerClassAccuracyOptions extends RenderOptions {
  title?: string;
  /** Bar order: as given (default), worst first, or best first. */
  sort?: "none" | "ascending" | "descending";
  /** Draw the mean (macro-average) accuracy as a dashed line (default true). */
  showMean?: boolean;
  width?: number;
  step?: number;
}

/** Horizontal bars of accuracy per class with the macro average marked. */
export function plotPerClassAccuracy(input: readonly ClassAccuracyBar[] | PerClassAccuracyPlotInput, opts: PerClassAccuracyOptions = {}): Promise<Chart> {
  let rows: ClassAccuracyBar[];
  if (Array.isArray(input)) rows = (input as readonly ClassAccuracyBar[]).map((r) => ({ ...r }));
  else {
    const c = input as PerClassAccuracyPlotInput;
    if (c.accuracies.length !== c.classNames.length) {
      throw new Error(`plotPerClassAccuracy: ${c.accuracies.length} accuracies for ${c.classNames.length} class names; give one per class.`);
    }
    rows = c.classNames.map((name, i) => ({ className: name, accuracy: c.accuracies[i], count: c.counts?.[i] }));
  }
  if (rows.length === 0) throw new Error("plotPerClassAccuracy: no classes.");
  const bad = rows.find((r) => !(r.accuracy >= 0 && r.accuracy <= 1));
  if (bad) throw new Error(`plotPerClassAccuracy: accuracy of '${bad.className}' is ${bad.accuracy}; expected a fraction in [0, 1].`);
  const order = [...rows];
  if (opts.sort === "ascending") order.sort((a, b) => a.accuracy - b.accuracy);
  if (opts.sort === "descending") order.sort((a, b) => b.accuracy - a.accuracy);
  const mean = rows.reduce((a, r) => a + r.accuracy, 0) / rows.length;
  const values = rows.map((r) => ({
    ...r,
    label: `${(r.accuracy * 100).toFixed(1)}%${r.count !== undefined ? ` (n=${r.count})` : ""}`,
  }));
  const y = { field: "className", type: "nominal", title: null, sort: order.map((r) => r.className) };
  const layers: VegaLiteSpec[] = [
    {
      mark: { type: "bar" },
      encoding: {
        y,
        x: { field: "accuracy", type: "quantitative", title: "accuracy", scale: { domain: [0, 1] }, axis: { format: ".0%" } },
        color: { condition: { test: `datum.accuracy < ${mean}`, value: "#e45756" }, value: "#4c78a8" },
      },
    },
    {
      mark: { type: "text", align: "left", dx: 4, fontSize: 10, color: "#333" },
      encoding: { y, x: { field: "accuracy", type: "quantitative" }, text: { field: "label" } },
    },
  ];
  if (opts.showMean ?? true) {
    layers.push(
      { data: { values: [{ mean }] }, mark: { type: "rule", strokeDash: [4, 3], color: "#333" }, encoding: { x: { field: "mean", type: "quantitative" } } },
      {
        data: { values: [{ mean, text: `mean ${(mean * 100).toFixed(1)}%` }] },
        mark: { type: "text", align: "left", baseline: "bottom", dx: 3, dy: -2, fontSize: 10, color: "#333" },
        encoding: { x: { field: "mean", type: "quantitative" }, y: { value: 0 }, text: { field: "text" } },
      },
    );
  }
  const spec: VegaLiteSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: opts.title ?? "Per-class accuracy", subtitle: "bars below the mean in red" },
    data: { values },
    width: opts.width ?? 340,
    height: { step: opts.step ?? 20 },
    layer: layers,
  };
  return renderVegaLite(spec, { name: "per-class-accuracy", ...opts });
}
