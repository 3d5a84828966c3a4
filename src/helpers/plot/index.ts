/**
 * Charts (Vega-Lite rendered to SVG/PNG inside the helpers, so saved notebooks and handouts show them)
 * and image grids. Only the public surface is re-exported; internals stay in their files.
 */
export { renderVegaLite, svgToPng, Chart, CHART_FONT, CHART_CONFIG } from "./render";
export type { VegaLiteSpec, ChartFormat, RenderOptions } from "./render";
export { plotTrainingCurves, plotBars, plotConfusionMatrix, plotScatter, plotPerClassAccuracy, curveRecords } from "./charts";
export type {
  CurveRecord,
  CurveSeries,
  CurveRun,
  CurveLoopHistory,
  CurveMetric,
  TrainingCurvesOptions,
  BarDatum,
  ValueFormat,
  BarChartOptions,
  ConfusionPlotInput,
  ConfusionMatrixOptions,
  ScatterPoint,
  ScatterColumns,
  ScatterOptions,
  ClassAccuracyBar,
  PerClassAccuracyPlotInput,
  PerClassAccuracyOptions,
} from "./charts";
export { imageGrid, ImageGrid, MARK_COLORS } from "./grid";
export type { HwcImage, GridImage, PixelRange, GridMark, ImageGridOptions } from "./grid";
export { plotLearningCurve } from "./learningCurve";
export type { LearningCurvePoint, LearningCurveOptions } from "./learningCurve";
