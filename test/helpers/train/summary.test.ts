import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { bestValAccuracy, buildComparisonRows, summarizeRun, type TrainingHistory } from "../../../src/helpers/train";

const hist = (accs: (number | undefined)[]): TrainingHistory => ({
  epochs: accs.map((a, i) => ({ epoch: i, loss: 1 / (i + 1), acc: 0.5, val_acc: a, lr: 0.1, seconds: 2 })),
  stoppedEarly: false,
  startEpoch: 0,
});

describe("summarizeRun", () => {
  it("reports best/final val accuracy, 1-based best epoch, wall time and trainable params", () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
    const r = summarizeRun("head", hist([0.6, 0.9, 0.8]), { model, extraSeconds: 1.5, info: { backbone: "x" } });
    expect(r.metrics).toEqual({ best_val_acc: 0.9, best_epoch: 2, final_val_acc: 0.8, seconds: 7.5 });
    expect(r.info).toEqual({ trainable_params: 15, backbone: "x" });
    expect(r.history).toHaveLength(3);
    model.dispose();
  });
  it("handles histories without validation and refuses empty ones", () => {
    expect(bestValAccuracy(hist([undefined, undefined]))).toBeNaN();
    expect(() => summarizeRun("x", hist([]))).toThrow(/no epochs/);
  });
});

describe("buildComparisonRows", () => {
  it("builds sorted comparison rows", () => {
    const rows = buildComparisonRows(
      [
        { name: "scratch", metrics: { val_acc: 0.61234, seconds: 10 }, info: { trainable: 100 } },
        { name: "transfer", metrics: { val_acc: 0.93456 }, info: { backbone: "mnv2" } },
      ],
      { sortBy: "val_acc", digits: 2 },
    );
    expect(rows[0]).toEqual({ name: "transfer", trainable: null, backbone: "mnv2", val_acc: 0.93, seconds: null });
    expect(rows[1].val_acc).toBe(0.61);
  });
});
