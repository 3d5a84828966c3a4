import { describe, it, expect, beforeAll } from "vitest";
import * as tf from "@tensorflow/tfjs";
import {
  accuracy, argmaxRows, topKAccuracy, confusionMatrix, perClassAccuracy, precisionRecallF1, averagePrecision,
  meanAveragePrecision, predictWithProbabilities, predictionsFromScores, classificationReport, evaluateClassifier,
} from "../../../src/helpers/eval";
import type { BatchStream } from "../../../src/helpers/types";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("single-label metrics", () => {
  const yTrue = [0, 0, 1, 1, 2, 2];
  const yPred = [0, 1, 1, 1, 2, 0];
  it("accuracy and confusion matrix", () => {
    expect(accuracy(yTrue, yPred)).toBeCloseTo(4 / 6);
    expect(confusionMatrix(yTrue, yPred, 3)).toEqual([[1, 1, 0], [0, 2, 0], [1, 0, 1]]);
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/outside 0..2/);
    expect(() => accuracy([0], [0, 1])).toThrow(/1 samples/);
  });
  it("per-class accuracy gives NaN for absent classes", () => {
    const pc = perClassAccuracy(yTrue, yPred, 4);
    expect(pc.slice(0, 3)).toEqual([0.5, 1, 0.5]);
    expect(Number.isNaN(pc[3])).toBe(true);
  });
  it("precision / recall / F1 (checked by hand)", () => {
    const r = precisionRecallF1(confusionMatrix(yTrue, yPred, 3));
    // class 0: tp1, predicted 2, support 2 -> p .5 r .5; class 1: tp2 pred3 -> p 2/3 r 1; class 2: p 1 r .5
    expect(r.perClass[0].precision).toBeCloseTo(0.5);
    expect(r.perClass[1].precision).toBeCloseTo(2 / 3);
    expect(r.perClass[1].recall).toBeCloseTo(1);
    expect(r.perClass[2].f1).toBeCloseTo((2 * 1 * 0.5) / 1.5);
    expect(r.macro.recall).toBeCloseTo((0.5 + 1 + 0.5) / 3);
    expect(r.weighted.support).toBe(6);
  });
  it("top-k accuracy and argmax", () => {
    const scores = [[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]];
    expect(argmaxRows(scores)).toEqual([1, 0, 2]);
    expect(topKAccuracy([0, 0, 1], scores, 1)).toBeCloseTo(1 / 3);
    expect(topKAccuracy([0, 0, 1], scores, 2)).toBeCloseTo(2 / 3);
    expect(topKAccuracy([0, 0, 1], scores, 3)).toBe(1);
    const rep = classificationReport([0, 0, 1], scores, ["a", "b", "c"]);
    expect(rep.accuracy).toBeCloseTo(1 / 3);
    expect(rep.topK.k).toBe(3);
  });
});

describe("average precision", () => {
  it("VOC2010 all-point AP matches a hand computation", () => {
    // ranked labels: 1,0,1,0 -> precision 1, .5, .667, .5 ; recall .5,.5,1,1 -> AP = .5*1 + .5*.667
    expect(averagePrecision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0])).toBeCloseTo(0.5 + 0.5 * (2 / 3), 6);
    expect(averagePrecision([0.9, 0.8], [1, 1])).toBeCloseTo(1);
    expect(Number.isNaN(averagePrecision([0.1, 0.2], [0, 0]))).toBe(true);
  });
  it("VOC2007 11-point AP", () => {
    // interpolated precision is 1 for r<=.5 (6 points) and 2/3 for r in (.5,1] (5 points)
    expect(averagePrecision([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0], "voc2007")).toBeCloseTo((6 * 1 + 5 * (2 / 3)) / 11, 6);
  });
  it("mAP skips classes without positives", () => {
    const scores = [[0.9, 0.5, 0.3], [0.2, 0.8, 0.4], [0.7, 0.3, 0.2]]; // class 1 ranks pos, neg, pos
    const labels = [[1, 0, 0], [0, 1, 0], [0, 1, 0]];
    const r = meanAveragePrecision(scores, labels);
    expect(r.perClass[0]).toBeCloseTo(1);
    expect(r.perClass[1]).toBeCloseTo(0.5 * 1 + 0.5 * (2 / 3));
    expect(Number.isNaN(r.perClass[2])).toBe(true);
    expect(r.mAP).toBeCloseTo((1 + r.perClass[1]) / 2);
  });
});

describe("predictions and comparison rows", () => {
  function stream(x: number[][], y: number[]): BatchStream {
    return {
      numSamples: y.length, batchSize: 2, numBatches: Math.ceil(y.length / 2),
      async *iterate() {
        for (let i = 0; i < y.length; i += 2) yield { x: tf.tensor2d(x.slice(i, i + 2)), y: tf.tensor1d(y.slice(i, i + 2), "int32") };
      },
    };
  }
  it("predicts with probabilities through a real model", async () => {
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2, activation: "softmax", kernelInitializer: "identity", useBias: false })] });
    const preds = await predictWithProbabilities(m, stream([[3, 0], [0, 3], [2, 1]], [0, 0, 0]), ["ant", "bee"], 2);
    expect(preds.map((p) => p.predicted)).toEqual(["ant", "bee", "ant"]);
    expect(preds[0].probability).toBeCloseTo(Math.exp(3) / (Math.exp(3) + 1), 5);
    expect(preds[1].correct).toBe(false);
    expect(preds[0].top.map((t) => t.label)).toEqual(["ant", "bee"]);
    const rep = await evaluateClassifier(m, stream([[3, 0], [0, 3], [2, 1]], [0, 0, 0]), ["ant", "bee"]);
    expect(rep.accuracy).toBeCloseTo(2 / 3);
    expect(rep.confusion).toEqual([[2, 1], [0, 0]]);
    expect(() => predictionsFromScores([[0.5, 0.5]], ["a"])).toThrow(/2 scores per sample but 1 class/);
    m.dispose();
  });
});
