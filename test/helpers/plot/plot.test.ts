import { describe, expect, it } from "vitest";
import sharp from "sharp";
import * as tf from "@tensorflow/tfjs";
import {
  curveRecords,
  imageGrid,
  MARK_COLORS,
  plotBars,
  plotConfusionMatrix,
  plotPerClassAccuracy,
  plotScatter,
  plotTrainingCurves,
  renderVegaLite,
  svgToPng,
  type CurveRecord,
} from "../../../src/helpers/plot";
// Contract check (types only, checked by tsc): the loop's history must be accepted as a curve history.
import type { TrainingHistory } from "../../../src/helpers/train/history";
import type { PixelImage } from "../../../src/helpers/pipeline/transforms";

// Count the items a vega mark group drew: <g class="mark-TYPE role-mark ..."> holds one <path> per item.
function markItems(svg: string, type: string): number {
  const re = new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*>(.*?)</g>`, "g");
  let n = 0;
  for (const m of svg.matchAll(re)) n += (m[1].match(/<path|<text/g) ?? []).length;
  return n;
}
const texts = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

function history(n: number, k: number): CurveRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    epoch: i + 1,
    trainLoss: 2 * Math.exp(-i / k) + 0.1,
    valLoss: 2 * Math.exp(-i / k) + 0.3,
    trainAcc: 1 - 0.8 * Math.exp(-i / k),
    valAcc: 0.95 - 0.8 * Math.exp(-i / k),
  }));
}

async function rgbAt(png: Uint8Array, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const o = (y * info.width + x) * info.channels;
  return [data[o], data[o + 1], data[o + 2]];
}
const hex = (c: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number];

describe("renderVegaLite", () => {
  const spec = {
    title: "Tiny bars",
    data: { values: [{ a: "x", b: 1 }, { a: "y", b: 3 }] },
    mark: "bar",
    encoding: { x: { field: "a", type: "nominal" }, y: { field: "b", type: "quantitative" } },
  };

  it("renders SVG with the title, marks and the course font, and is deterministic", async () => {
    const a = await renderVegaLite(spec, { format: "svg" });
    const b = await renderVegaLite(spec, { format: "svg" });
    expect(a.svg.startsWith("<svg")).toBe(true);
    expect(texts(a.svg)).toContain("Tiny bars");
    expect(markItems(a.svg, "rect")).toBe(2);
    expect(a.svg).toContain("DejaVu Sans");
    expect(a.width).toBeGreaterThan(50);
    expect(b.svg).toBe(a.svg);
  });

  it("rasterises to a valid PNG of the SVG size times scale", async () => {
    const c = await renderVegaLite(spec);
    for (const scale of [1, 2]) {
      const png = await c.png(scale);
      expect([...png.slice(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
      const meta = await sharp(png).metadata();
      expect(meta.format).toBe("png");
      expect(meta.width).toBe(Math.round(c.width * scale));
      expect(meta.height).toBe(Math.round(c.height * scale));
    }
    expect(Buffer.from(await svgToPng(c.svg)).equals(Buffer.from(await svgToPng(c.svg)))).toBe(true);
    // Background is white (config), so a corner pixel is white.
    expect(await rgbAt(await c.png(), 1, 1)).toEqual([255, 255, 255]);
  });

  it("rejects an invalid spec with the compiler's message and bad options clearly", async () => {
    await expect(renderVegaLite({ mark: "nonsense" })).rejects.toThrow(/invalid Vega-Lite spec/);
    await expect(renderVegaLite(spec, { format: "jpg" as never })).rejects.toThrow(/'png' or 'svg'/);
    await expect(svgToPng("<svg/>", 0)).rejects.toThrow(/scale must be > 0/);
  });
});

describe("plotTrainingCurves", () => {
  it("draws loss and accuracy panels, one line per run and split, with run names in the legend", async () => {
    const runs = [
      { name: "linear probe", history: history(6, 2) },
      { name: "fine-tune", history: history(6, 3) },
    ];
    const c = await plotTrainingCurves(runs, { format: "svg" });
    const t = texts(c.svg);
    for (const s of ["Training curves", "Loss", "Accuracy", "linear probe", "fine-tune", "train", "validation", "epoch"]) expect(t).toContain(s);
    // 2 panels x 2 runs x 2 splits = 8 lines; points: 2 panels x 2 runs x 2 splits x 6 epochs.
    expect(markItems(c.svg, "line")).toBe(8);
    expect(markItems(c.svg, "symbol")).toBeGreaterThanOrEqual(48);
    expect(t).toContain("80%"); // accuracy axis formatted as percent
  });

  it("accepts per-metric arrays (epochs 1..n) and gives the same chart as records", async () => {
    const recs = history(4, 2);
    const series = {
      trainLoss: recs.map((r) => r.trainLoss!),
      valLoss: recs.map((r) => r.valLoss!),
      trainAcc: recs.map((r) => r.trainAcc!),
      valAcc: recs.map((r) => r.valAcc!),
    };
    expect(curveRecords(series)).toEqual(recs);
    const a = await plotTrainingCurves({ name: "r", history: recs }, { format: "svg" });
    const b = await plotTrainingCurves({ name: "r", history: series }, { format: "svg" });
    expect(b.svg).toBe(a.svg);
  });

  it("takes the training loop's history (0-based epochs) and shows epochs 1-based", async () => {
    const loopHistory: TrainingHistory = {
      epochs: [0, 1, 2].map((epoch) => ({ epoch, loss: 1 / (epoch + 1), acc: 0.5, val_loss: 1.2 / (epoch + 1), val_acc: 0.4, lr: 0.01, seconds: 1 })),
      stoppedEarly: false,
      startEpoch: 0,
    };
    const recs = curveRecords(loopHistory);
    expect(recs.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(recs[1]).toEqual({ epoch: 2, trainLoss: 0.5, trainAcc: 0.5, valLoss: 0.6, valAcc: 0.4 });
    const c = await plotTrainingCurves({ name: "loop", history: loopHistory }, { format: "svg" });
    expect(markItems(c.svg, "line")).toBe(4);
  });

  it("draws only the metrics that have data and rejects duplicate run names", async () => {
    const c = await plotTrainingCurves({ name: "loss only", history: { trainLoss: [1, 0.5, 0.25] } }, { format: "svg" });
    expect(texts(c.svg)).toContain("Loss");
    expect(texts(c.svg)).not.toContain("Accuracy");
    expect(() => plotTrainingCurves([{ name: "a", history: [] }, { name: "a", history: [] }])).toThrow(/two runs are named 'a'/);
    expect(() => plotTrainingCurves({ name: "empty", history: [] })).toThrow(/no finite values/);
  });
});

describe("plotBars", () => {
  it("draws a bar per datum with the formatted value next to it", async () => {
    const c = await plotBars(
      [
        { label: "linear probe", value: 0.812, group: "CIFAR-10" },
        { label: "fine-tune", value: 0.9, group: "CIFAR-10" },
        { label: "linear probe", value: 0.7, group: "Flowers <102>" },
      ],
      { valueFormat: "percent", title: "Methods", format: "svg" },
    );
    expect(markItems(c.svg, "rect")).toBe(3);
    const t = texts(c.svg);
    for (const s of ["Methods", "81.2%", "90.0%", "70.0%", "linear probe", "fine-tune", "CIFAR-10"]) expect(t).toContain(s);
    expect(c.svg).toContain("Flowers &lt;102&gt;"); // labels are XML-escaped
  });

  it("sorts by value and rejects non-finite values", async () => {
    const c = await plotBars([{ label: "b", value: 1 }, { label: "a", value: 3 }, { label: "c", value: 2 }], { sort: "descending", format: "svg" });
    const labels = texts(c.svg).filter((s) => ["a", "b", "c"].includes(s));
    expect(labels).toEqual(["a", "c", "b"]);
    expect(() => plotBars([{ label: "x", value: NaN }])).toThrow(/value for 'x' is NaN/);
  });
});

describe("plotConfusionMatrix", () => {
  const names = ["cat", "dog", "bird"];
  const m = [
    [8, 1, 1],
    [2, 7, 1],
    [0, 0, 10],
  ];

  it("draws n*n cells with counts, class names, axis titles and overall accuracy", async () => {
    const c = await plotConfusionMatrix(m, { classNames: names, format: "svg" });
    expect(markItems(c.svg, "rect")).toBe(9);
    const t = texts(c.svg);
    for (const s of [...names, "predicted", "true", "Confusion matrix", "accuracy 83.3% (25/30)", "8", "7", "10"]) expect(t).toContain(s);
    expect(t.filter((s) => s === "0")).toHaveLength(2);
  });

  it("renders a PNG whose strongest cell is dark and whose empty cells are near white", async () => {
    const c = await plotConfusionMatrix({ matrix: [[10, 0], [0, 10]], classNames: ["a", "b"] }, { cellSize: 40, showCounts: false });
    expect(c.format).toBe("png");
    const png = await c.png();
    const meta = await sharp(png).metadata();
    expect(meta.width).toBe(c.width);
    // Find the plot origin from the outer group transform, then sample the centres of (a,a) and (a,b).
    const [, ox, oy] = /<g fill="none"[^>]*transform="translate\((\d+),(\d+)\)"/.exec(c.svg) ?? [];
    const x0 = Number(ox ?? NaN);
    const y0 = Number(oy ?? NaN);
    expect(Number.isFinite(x0) && Number.isFinite(y0)).toBe(true);
    const diag = await rgbAt(png, x0 + 20, y0 + 20);
    const off = await rgbAt(png, x0 + 60, y0 + 20);
    expect(diag[0]).toBeLessThan(60); // dark blue
    expect(Math.min(...off)).toBeGreaterThan(235); // near white
  });

  it("checks shape and names", () => {
    expect(() => plotConfusionMatrix([[1, 2], [3]])).toThrow(/square; row 1 has 1/);
    expect(() => plotConfusionMatrix(m, { classNames: ["a", "b"] })).toThrow(/2 class names for a 3x3/);
    expect(() => plotConfusionMatrix(m, { classNames: ["a", "a", "b"] })).toThrow(/distinct/);
  });
});

describe("plotScatter", () => {
  it("draws one circle per point and a legend entry per group", async () => {
    const pts = Array.from({ length: 30 }, (_, i) => ({ x: i, y: (i * 7) % 11, group: ["cats", "dogs", "birds"][i % 3] }));
    const c = await plotScatter(pts, { title: "PCA of features", format: "svg" });
    expect(markItems(c.svg, "symbol")).toBe(30);
    expect(c.svg.match(/class="mark-symbol role-legend-symbol"/g)).toHaveLength(3); // one legend entry per group
    const t = texts(c.svg);
    for (const s of ["PCA of features", "PC1", "PC2", "cats", "dogs", "birds", "group"]) expect(t).toContain(s);
  });

  it("accepts columns and validates them", async () => {
    const c = await plotScatter({ coords: [[0, 1], [1, 0]], groups: ["a", "b"] }, { format: "svg", xTitle: "u", yTitle: "v" });
    expect(texts(c.svg)).toEqual(expect.arrayContaining(["u", "v", "a", "b"]));
    expect(() => plotScatter({ coords: [[0, 1]], groups: ["a", "b"] })).toThrow(/2 groups for 1 points/);
    expect(() => plotScatter([{ x: NaN, y: 0 }])).toThrow(/non-finite/);
  });
});

describe("plotPerClassAccuracy", () => {
  it("draws a bar per class with labels and the mean line", async () => {
    const c = await plotPerClassAccuracy(
      { classNames: ["cat", "dog", "bird", "fish"], accuracies: [0.5, 0.75, 1, 0.25], counts: [4, 4, 4, 4] },
      { sort: "ascending", format: "svg" },
    );
    expect(markItems(c.svg, "rect")).toBe(4);
    const t = texts(c.svg);
    for (const s of ["Per-class accuracy", "mean 62.5%", "25.0% (n=4)", "100.0% (n=4)"]) expect(t).toContain(s);
    expect(t.filter((s) => ["cat", "dog", "bird", "fish"].includes(s))).toEqual(["fish", "cat", "dog", "bird"]);
    expect(() => plotPerClassAccuracy([{ className: "x", accuracy: 87 }])).toThrow(/fraction in \[0, 1\]/);
  });
});

describe("imageGrid", () => {
  // A 4x4 RGB image filled with one colour.
  const solid = (r: number, g: number, b: number, w = 4, h = 4) => ({
    data: Uint8Array.from({ length: w * h * 3 }, (_, i) => [r, g, b][i % 3]),
    width: w,
    height: h,
  });

  it("lays out n images in ncol columns with the expected PNG size", async () => {
    const g = imageGrid([solid(255, 0, 0), solid(0, 255, 0), solid(0, 0, 255)], { ncol: 2, cellSize: 32, padding: 4 });
    expect([g.ncol, g.nrow, g.count]).toEqual([2, 2, 3]);
    expect([g.width, g.height]).toEqual([2 * 40, 2 * 40]);
    const meta = await sharp(g.png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 80, 80]);
    // Image pixels are where the boxes say (4x4 upscaled to 32x32 with nearest neighbour).
    const [b0, b1, b2] = g.boxes;
    expect(b0).toEqual({ x: 4, y: 4, w: 32, h: 32 });
    expect(await rgbAt(g.png, b0.x + 16, b0.y + 16)).toEqual([255, 0, 0]);
    expect(await rgbAt(g.png, b1.x + 16, b1.y + 16)).toEqual([0, 255, 0]);
    expect(await rgbAt(g.png, b2.x + 16, b2.y + 16)).toEqual([0, 0, 255]);
    // The empty 4th cell stays white.
    expect(await rgbAt(g.png, 60, 60)).toEqual([255, 255, 255]);
  });

  it("marks correct predictions green and wrong ones red, and adds caption space", async () => {
    const g = imageGrid([solid(0, 0, 0), solid(0, 0, 0), solid(0, 0, 0)], {
      cellSize: 32,
      captions: ["cat", "dog (true: cat)", ""],
      marks: ["correct", "wrong", null],
      borderWidth: 3,
    });
    expect(g.height).toBeGreaterThan(g.width / 3 + 10); // caption row below the images
    const [ok, bad, none] = g.boxes;
    expect(await rgbAt(g.png, ok.x - 2, ok.y + 10)).toEqual(hex(MARK_COLORS.correct));
    expect(await rgbAt(g.png, bad.x - 2, bad.y + 10)).toEqual(hex(MARK_COLORS.wrong));
    expect(await rgbAt(g.png, bad.x + 10, bad.y - 1)).toEqual(hex(MARK_COLORS.wrong));
    expect(await rgbAt(g.png, none.x - 2, none.y + 10)).toEqual([255, 255, 255]);
    // Caption pixels: something non-white under the first image.
    const { data, info } = await sharp(g.png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let dark = 0;
    for (let y = ok.y + ok.h + 4; y < info.height; y++)
      for (let x = ok.x; x < ok.x + ok.w; x++) if (data[(y * info.width + x) * 3] < 200) dark++;
    expect(dark).toBeGreaterThan(5);
  });

  it("takes tensors: float [0,1] and uint8-valued int32 give the same picture; 4-D batches split", async () => {
    const vals = [[[255, 128, 0], [0, 64, 255]], [[10, 20, 30], [200, 100, 50]]];
    const asInt = tf.tensor3d(vals, [2, 2, 3], "int32");
    const asFloat = tf.tensor3d(vals.flat(2).map((v) => v / 255), [2, 2, 3], "float32");
    const batch = tf.stack([asFloat, asFloat]) as tf.Tensor4D;
    const a = imageGrid([asInt], { cellSize: 2, padding: 0 });
    const b = imageGrid([asFloat], { cellSize: 2, padding: 0 });
    expect(Buffer.from(a.png).equals(Buffer.from(b.png))).toBe(true);
    expect(await rgbAt(a.png, 1, 0)).toEqual([0, 64, 255]);
    expect(imageGrid(batch, { cellSize: 2, padding: 0 }).count).toBe(2);
    tf.dispose([asInt, asFloat, batch]);
  });

  it("handles greyscale, refuses normalised input unless asked, and checks sizes", async () => {
    const grey = { data: new Float32Array([0, 0.5, 1, 0.25]), width: 2, height: 2, channels: 1 as const };
    const g = imageGrid([grey], { cellSize: 2, padding: 0 });
    expect(await rgbAt(g.png, 1, 0)).toEqual([128, 128, 128]);
    const norm = { data: new Float32Array([-1, 0, 1, 2]), width: 2, height: 2, channels: 1 as const };
    expect(() => imageGrid([norm])).toThrow(/negative values.*minmax/);
    const mm = imageGrid([norm], { range: "minmax", cellSize: 2, padding: 0 });
    expect(await rgbAt(mm.png, 0, 0)).toEqual([0, 0, 0]);
    expect(await rgbAt(mm.png, 1, 1)).toEqual([255, 255, 255]);
    expect(() => imageGrid([{ data: new Uint8Array(5), width: 2, height: 2 }])).toThrow(/5 values but 2x2x3 = 12/);
    expect(() => imageGrid([solid(1, 2, 3)], { captions: ["a", "b"] })).toThrow(/2 captions for 1 images/);
    expect(() => imageGrid([])).toThrow(/no images/);
  });

  it("takes the data module's PixelImage (float, e.g. after augmentation) as is", async () => {
    const img: PixelImage = { data: new Float32Array([0, 0.5, 1, 1, 0.5, 0]), width: 2, height: 1, channels: 3 };
    const g = imageGrid([img], { cellSize: 2, padding: 0 });
    expect(await rgbAt(g.png, 0, 0)).toEqual([0, 128, 255]);
    expect(() => imageGrid([{ ...img, channels: 2 }])).toThrow(/2 channels; expected 1, 3 or 4/);
  });

  it("is deterministic", () => {
    const opts = { captions: ["a long caption that will not fit in the cell"], marks: [false] };
    expect(Buffer.from(imageGrid([solid(9, 9, 9)], opts).png).equals(Buffer.from(imageGrid([solid(9, 9, 9)], opts).png))).toBe(true);
  });
});
